// Chunk codecs on Node.  zstd: zstd-napi (libzstd), which decodes casync's frames
// (no content size) and is 5-6x faster than the portable wasm builds measured in
// ../../../README.md#codecs; gzip: node:zlib at zlib's default level, as casync;
// xz: lzma-native (liblzma), preset 6 with a CRC64 check, as casync.

import { gunzipSync, gzipSync } from 'node:zlib';
import { createRequire } from 'node:module';
import { Compressor, Decompressor } from 'zstd-napi';
import { detectCompression, type Compression } from '../../codecs/compression.ts';

const require = createRequire(import.meta.url);

interface Lzma {
  compress(data: Uint8Array, opts: { preset: number; check: number }): Promise<Buffer>;
  decompress(data: Uint8Array): Promise<Buffer>;
  CHECK_CRC64: number;
}
let lzma: Lzma | undefined;
function xz(): Lzma {
  lzma ??= require('lzma-native') as Lzma;
  return lzma;
}

/** One per thread: zstd contexts are reused across chunks. */
export class ChunkCodec {
  private zc: Compressor | undefined;
  private zd: Decompressor | undefined;

  compress(kind: Compression, data: Uint8Array): Uint8Array | Promise<Uint8Array> {
    switch (kind) {
      case 'zstd':
        if (!this.zc) {
          this.zc = new Compressor();
          this.zc.setParameters({ compressionLevel: 3 });
        }
        return this.zc.compress(data);
      case 'gzip':
        return gzipSync(data);
      case 'xz':
        return xz().compress(data, { preset: 6, check: xz().CHECK_CRC64 });
    }
  }

  /** Decompresses by magic; null if the bytes are not in any known format. */
  decompress(data: Uint8Array): Uint8Array | Promise<Uint8Array> | null {
    switch (detectCompression(data)) {
      case 'zstd':
        this.zd ??= new Decompressor();
        return this.zd.decompress(data);
      case 'gzip':
        return gunzipSync(data);
      case 'xz':
        return xz().decompress(data);
      default:
        return null;
    }
  }
}
