// SHA-512/256 and SHA-256 from the wasm core (assembly/sha2.ts), for runtimes
// without node:crypto: browsers lack SHA-512/256 entirely, and WebCrypto is
// missing from pages served over plain http.  One core instance per hasher
// factory; a digest is computed whole (chunks are at most a few MiB).

import { instantiateCore } from './core.ts';
import type { DigestName, HashFactory, Hasher } from '../chunk/digest.ts';

interface Sha2Exports {
  memory: WebAssembly.Memory;
  sha2Buffer(): number;
  sha2Init(which: number): void;
  sha2Update(len: number): void;
  sha2Final(): void;
  SHA2_BUFFER: WebAssembly.Global;
}

/** A HashFactory backed by one wasm instance; hashers from it must not interleave. */
export function wasmHashFactory(): HashFactory {
  const core = instantiateCore() as unknown as Sha2Exports;
  const at = core.sha2Buffer();
  const room = core.SHA2_BUFFER.value as number;
  return (name: DigestName): Hasher => {
    core.sha2Init(name === 'sha256' ? 256 : 512);
    return {
      update(data: Uint8Array) {
        for (let i = 0; i < data.length; i += room) {
          const piece = data.subarray(i, i + room);
          new Uint8Array(core.memory.buffer, at, piece.length).set(piece);
          core.sha2Update(piece.length);
        }
        return this;
      },
      digest() {
        core.sha2Final();
        return new Uint8Array(core.memory.buffer, at, 32).slice();
      },
    };
  };
}
