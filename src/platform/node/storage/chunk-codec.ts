// Chunk codecs on Node.  zstd: libzstd through zstd-napi's thin binding, with one
// context and one output buffer per thread (3.4 GB/s on incompressible chunks,
// against 2.4 for its convenience API and 0.15 for the wasm builds; see the
// README); the frames it writes state their content size, and frames without
// one (casync writes none) are read as well.  gzip: node:zlib at zlib's default
// level, as casync.  xz: liblzma through lzma-native, preset 6 with a CRC64
// check, as casync.  The addons load here for every decoder of wasync's (tars
// and the library's codecs too), so that one that cannot load is reported the
// same way everywhere.

import { gunzipSync, gzipSync } from 'node:zlib';
import { detectCompression, type Compression } from '../../../chunk/compression.ts';
import { unsupported } from '../../../errors.ts';
import { nativeAddons, type Lzma, type ZstdBinding } from '../native-addons.ts';

type ZstdApi = ReturnType<typeof nativeAddons.zstd>;

let zstd: ZstdBinding | undefined;
let zstdApi: ZstdApi | undefined;
let lzma: Lzma | undefined;
const zstdBinding = () => (zstd ??= loaded('zstd', 'zstd-napi', nativeAddons.zstdBinding, (m) => typeof m.DCtx === 'function'));
/** zstd-napi's own API, for the callers beside the chunk codec (zstd tars, frames of unknown size) */
export const zstdAddon = () => (zstdApi ??= loaded('zstd', 'zstd-napi', nativeAddons.zstd, (m) => typeof m.DecompressStream === 'function'));
/** lzma-native, for this codec and for xz tars */
export const xzAddon = () => (lzma ??= loaded('xz', 'lzma-native', nativeAddons.lzma, (m) => typeof m.createDecompressor === 'function'));

/**
 * A codec's addon, or EUNSUPPORTED: a codec that cannot run here says so, and
 * is never taken for corrupt data (a corrupt chunk verify --repair would remove).
 */
function loaded<T>(codec: string, addon: string, load: () => T, works: (m: T) => boolean): T {
  let m: T;
  try {
    m = load();
  } catch (e) {
    throw unsupported(`${codec} needs ${addon}, which does not load here: ${(e as Error).message}`);
  }
  if (!works(m)) throw unsupported(`${codec} needs ${addon}, which loaded without its functions`);
  return m;
}

const ZSTD_LEVEL = 3;

/** One per thread (the zstd contexts are reused).  Results are the caller's: never reused. */
export class ChunkCodec {
  private cctx: InstanceType<ZstdBinding['CCtx']> | undefined;
  private dctx: InstanceType<ZstdBinding['DCtx']> | undefined;
  private packed = Buffer.alloc(0);

  /**
   * `data` as casync stores a chunk.  With `reuse`, zstd writes into a buffer
   * of this codec's, valid until its next call (a caller that stores each chunk
   * at once saves an allocation).
   */
  compress(kind: Compression, data: Uint8Array, reuse = false): Uint8Array | Promise<Uint8Array> {
    switch (kind) {
      case 'zstd': {
        const z = zstdBinding();
        this.cctx ??= new z.CCtx();
        const bound = z.compressBound(data.length);
        if (reuse && this.packed.length < bound) this.packed = Buffer.allocUnsafe(Math.max(bound, 1 << 20));
        const out = reuse ? this.packed : Buffer.allocUnsafe(bound);
        return out.subarray(0, this.cctx.compress(out, data, ZSTD_LEVEL));
      }
      case 'gzip':
        return gzipSync(data);
      case 'xz':
        return xzAddon().compress(data, { preset: 6, check: xzAddon().CHECK_CRC64 });
    }
  }

  /**
   * Decompresses a stored chunk of `size` bytes, picking the format by its magic;
   * null if the bytes are in no known format.  Throws if they do not decompress,
   * or decompress to more than `size` bytes.  zstd decodes into `into` when it
   * is given (at least `size` bytes; the result is then a view of it).
   */
  decompress(data: Uint8Array, size: number, into?: Uint8Array): Uint8Array | Promise<Uint8Array> | null {
    switch (detectCompression(data)) {
      case 'zstd': {
        this.dctx ??= new (zstdBinding().DCtx)();
        const out = into ?? Buffer.allocUnsafe(size);
        return out.subarray(0, this.dctx.decompress(out.subarray(0, size), data));
      }
      case 'gzip':
        return gunzipSync(data, size > 0 ? { maxOutputLength: size } : {});
      case 'xz':
        return size > 0 ? xzAtMost(data, size) : xzAddon().decompress(data);
      default:
        return null;
    }
  }
}

/** xz decoded as a stream, stopped as soon as it passes `size` bytes: a small chunk may expand to gigabytes. */
function xzAtMost(data: Uint8Array, size: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const d = xzAddon().createDecompressor();
    const parts: Buffer[] = [];
    let n = 0;
    d.on('data', (b: Buffer) => {
      n += b.length;
      if (n <= size) parts.push(b);
      else {
        d.destroy();
        reject(new Error(`decompresses to more than ${size} bytes`));
      }
    });
    d.on('error', reject);
    d.on('end', () => resolve(Buffer.concat(parts)));
    d.end(data);
  });
}
