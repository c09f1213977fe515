// Chunk decompression where neither node:zlib nor native addons exist (browsers,
// Web Workers): decode only, the format told by its magic (chunk/compression.ts).
//
// Picked by measurement in headless Chromium 156 on the project's 2-core machine,
// casync-made 64 KiB chunks, one thread, MB/s of output (random data / text):
//   zstd  zstddec (libzstd in wasm)            754 / 317   (used)
//         fzstd (JavaScript)                    21 /  16
//         DecompressionStream('zstd')           not in Chromium
//   gzip  fflate                               728 /  52   (used)
//         DecompressionStream('gzip')           26 /  37   (a stream per chunk costs more than the inflate)
//   xz    xz-decompress (xz-embedded in wasm)   14 /  21   (used; the only wasm xz decoder, checks CRC64)
//
// casync's zstd frames state no content size.  zstddec, left to find the size
// itself, returns wrong bytes without an error, so it is always given the size
// the index states; and since it reports no errors, a frame that fails (corrupt,
// or larger than that size) comes back empty, which is turned into one here.
// Each decoder is loaded once per thread, on first use.  The stored bytes given
// may be lent only until the next task (pack-store.ts, PackStoreOptions.lent):
// each decoder here has finished with them, or copied them, by then.

import { ZSTDDecoder } from 'zstddec';
import { gunzipSync } from 'fflate';
import xzDecompress from 'xz-decompress';
import { detectCompression, type Compression } from '../../chunk/compression.ts';

let zstd: Promise<ZSTDDecoder> | undefined;
let zstdLoaded: ZSTDDecoder | undefined;

function zstdDecoder(): Promise<ZSTDDecoder> {
  zstd ??= (async () => {
    const d = new ZSTDDecoder();
    await d.init();
    return (zstdLoaded = d);
  })();
  return zstd;
}

async function unzstd(data: Uint8Array, size: number): Promise<Uint8Array> {
  // Stored bytes may be lent until the next task (PackStoreOptions.lent): a loaded decoder takes them at once,
  // and the first chunk, which waits for the decoder to load, is copied.
  const out = zstdLoaded ? zstdLoaded.decode(data, size) : (await zstdDecoder()).decode(data.slice(), size);
  if (out.length === 0) throw new Error(`not a zstd frame of at most ${size} bytes`);
  return out;
}

const XZ_RET: Record<number, string> = {
  2: 'unsupported integrity check (XZ_UNSUPPORTED_CHECK)',
  3: 'out of memory (XZ_MEM_ERROR)',
  4: 'memory limit reached (XZ_MEMLIMIT_ERROR)',
  5: 'not an xz stream (XZ_FORMAT_ERROR)',
  6: 'unsupported options (XZ_OPTIONS_ERROR)',
  7: 'corrupt data (XZ_DATA_ERROR)',
  8: 'truncated data (XZ_BUF_ERROR)',
};

async function unxz(data: Uint8Array): Promise<Uint8Array> {
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(data);
      c.close();
    },
  });
  const reader = new xzDecompress.XzReadableStream(body).getReader();
  const parts: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    let next: ReadableStreamReadResult<Uint8Array>;
    try {
      next = await reader.read();
    } catch (e) {
      // xz-embedded's enum xz_ret, which xz-decompress reports as a bare number.
      const code = /error code (\d+)/.exec((e as Error).message)?.[1];
      throw new Error(code && XZ_RET[Number(code)] ? `xz: ${XZ_RET[Number(code)]}` : `xz: ${(e as Error).message}`);
    }
    if (next.done) break;
    parts.push(next.value);
    n += next.value.length;
  }
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * The bytes of a stored chunk of `size` bytes (the index's), a fresh array; null
 * if they are in no format casync writes.  Throws if they do not decompress.
 */
export async function decompressChunk(data: Uint8Array, size: number): Promise<Uint8Array | null> {
  const kind: Compression | null = detectCompression(data);
  switch (kind) {
    case 'zstd':
      return unzstd(data, size);
    case 'gzip':
      return gunzipSync(data);
    case 'xz':
      // Its decoder reads through a stream, over tasks: bytes lent until the next one are copied first.
      return unxz(data.slice());
    default:
      return null;
  }
}

/**
 * Loads every decoder now, so that a runtime which cannot run one (no
 * WebAssembly, a content policy forbidding it) fails before verification starts,
 * naming the codec, rather than reporting every chunk as corrupt.
 */
export async function loadCodecs(): Promise<void> {
  try {
    await zstdDecoder();
  } catch (e) {
    throw new Error(`the zstd decoder (zstddec, WebAssembly) cannot load here: ${(e as Error).message}`);
  }
  try {
    // The smallest valid xz stream (empty content, CRC64), to load its wasm.
    await unxz(EMPTY_XZ);
  } catch (e) {
    throw new Error(`the xz decoder (xz-decompress, WebAssembly) cannot load here: ${(e as Error).message}`);
  }
}

const EMPTY_XZ = Uint8Array.from([
  0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00, 0x04, 0xe6, 0xd6, 0xb4, 0x46, 0x00, 0x00, 0x00, 0x00,
  0x1c, 0xdf, 0x44, 0x21, 0x1f, 0xb6, 0xf3, 0x7d, 0x01, 0x00, 0x00, 0x00, 0x00, 0x04, 0x59, 0x5a,
]);
