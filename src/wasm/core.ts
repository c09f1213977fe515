// Loads the embedded WebAssembly core (assembly/) without fs or fetch.  Each call
// to instantiateCore() gives an independent instance with its own memory, so
// every worker or chunker owns one.  The compiled module itself is shared: a
// worker thread takes its pool's (coreModule, useCoreModule) rather than
// decoding and compiling its own, and V8's optimized code for it is then made
// once for all threads.

import { CORE_WASM_BASE64 } from '../generated/core-wasm.ts';

export interface CoreExports {
  memory: WebAssembly.Memory;
  allocate(size: number): number;
  windowHash(end: number): number;
  scan(buf: number, len: number, from: number, d: number, out: number, cap: number, phase: number): number;
  resumePosition(): number;
}

let module: WebAssembly.Module | undefined;

/** The compiled core (compiled at the first call), which can be posted to a worker thread. */
export function coreModule(): WebAssembly.Module {
  if (!module) {
    const bin = atob(CORE_WASM_BASE64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    module = new WebAssembly.Module(bytes);
  }
  return module;
}

/** Takes the core as another thread compiled it, before any instance is made. */
export function useCoreModule(m: WebAssembly.Module): void {
  module ??= m;
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
