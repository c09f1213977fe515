// The constants the host shares with the core, as an entry of their own:
// scripts/build-wasm.mjs compiles it to a scratch module, reads every exported
// global and writes src/generated/core-constants.ts, so src/ keeps no copies.
// A constant the host needs is exported here under its name in assembly/.
// 64-bit values come out unsigned and 32-bit ones signed (the E_ codes are
// negative), so a u32 at or above 2^31 would need a u64 here.

export * from './catar-encoder-format';
export * from './catar-decoder-events';
export { ACL_USER, ACL_GROUP, ACL_DEFAULT_USER, ACL_DEFAULT_GROUP } from './catar-encoder-metadata';
export { WINDOW_SIZE } from './chunker';
export { DEPTH_MAX } from './catar-decoder-state';
