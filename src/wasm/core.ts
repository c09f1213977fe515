// Loads the embedded WebAssembly core (assembly/) without fs or fetch.  Each call
// to instantiateCore() gives an independent instance with its own memory, so
// every worker or chunker owns one.

import { CORE_WASM_BASE64 } from '../generated/core-wasm.ts';

export interface CoreExports {
  memory: WebAssembly.Memory;
  allocate(size: number): number;
  windowHash(end: number): number;
  scan(buf: number, len: number, from: number, d: number, out: number, cap: number, phase: number): number;
  resumePosition(): number;
}

let module: WebAssembly.Module | undefined;

function coreModule(): WebAssembly.Module {
  if (!module) {
    const bin = atob(CORE_WASM_BASE64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    module = new WebAssembly.Module(bytes);
  }
  return module;
}

export function instantiateCore(): CoreExports {
  const instance = new WebAssembly.Instance(coreModule(), {
    env: {
      abort(_msg: number, _file: number, line: number, column: number) {
        throw new Error(`wasync core aborted at ${line}:${column}`);
      },
    },
  });
  return instance.exports as unknown as CoreExports;
}
