// The wasync WebAssembly core: pure computation over linear memory, no imports
// but abort, driven step by step by the TypeScript host.
export { allocate, windowHash, scan, resumePosition, WINDOW_SIZE } from './chunker';
export { siphash24 } from './siphash';
