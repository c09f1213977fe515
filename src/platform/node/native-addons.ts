// The native addons wasync loads (zstd-napi, lzma-native, koffi), in one place,
// so that the single executable (scripts/build-exe.mjs) can swap this file for
// native-addons-embedded.ts: bun build embeds an addon only when it sees a bare
// require() of it, and createRequire() hides these from it.  Each is loaded on
// first use, so a missing or broken addon fails the feature that needs it, not
// every command.

import { createRequire } from 'node:module';
import type { Transform } from 'node:stream';

export interface ZstdBinding {
  CCtx: new () => { compress(dst: Uint8Array, src: Uint8Array, level: number): number };
  DCtx: new () => { decompress(dst: Uint8Array, src: Uint8Array): number };
  compressBound(size: number): number;
}

export interface Lzma {
  compress(data: Uint8Array, opts: { preset: number; check: number }): Promise<Buffer>;
  decompress(data: Uint8Array): Promise<Buffer>;
  createDecompressor(): Transform;
  CHECK_CRC64: number;
}

export interface NativeAddons {
  /** zstd-napi's thin binding: contexts reused per thread */
  zstdBinding(): ZstdBinding;
  /** zstd-napi's own API (its decoders, for frames of unknown size and for zstd tars) */
  zstd(): { decompress(data: Uint8Array): Uint8Array; DecompressStream: new () => Transform };
  lzma(): Lzma;
  koffi(): typeof import('koffi');
  /** what require() in an eval'd worker thread takes to load koffi */
  koffiPath(): string;
  /**
   * Called on the main thread before a pool's worker threads start.  Node: no
   * work.  The single executable loads the codecs' addons here: Bun records an
   * addon's registration when its first dlopen returns, so two threads that
   * load one at once for the first time may get an empty module.
   */
  beforeThreads(): void;
}

const require = createRequire(import.meta.url);

export const nativeAddons: NativeAddons = {
  zstdBinding: () => require('zstd-napi/binding'),
  zstd: () => require('zstd-napi'),
  lzma: () => require('lzma-native'),
  koffi: () => require('koffi'),
  koffiPath: () => require.resolve('koffi'),
  beforeThreads: () => {},
};
