// Chunk codecs by name, for callers that handle stored chunks themselves (a
// store of their own, a chunk fetched by hand): compress as casync writes
// chunks (zstd level 3, gzip at zlib's default, xz preset 6 with CRC64),
// decompress whatever the magic says.  The command line's own codecs do the
// work (storage/chunk-codec.ts).
//
// casync's zstd frames carry no content size.  Given the size (an index entry
// says it), decompression goes into a buffer of that size and refuses more;
// without it, zstd-napi's streaming decoder finds the size as it goes.

import { COMPRESSIONS, detectCompression, type Compression } from '../../../chunk/compression.ts';
import { WasyncError, isUnsupported, usageError } from '../../../errors.ts';
import { ChunkCodec, zstdAddon } from '../storage/chunk-codec.ts';

export { COMPRESSIONS, detectCompression, type Compression };

const codec = new ChunkCodec();

/** `data` compressed as casync stores a chunk in `compression` (zstd, gzip or xz). */
export async function compress(compression: Compression, data: Uint8Array): Promise<Uint8Array> {
  if (!COMPRESSIONS.includes(compression)) throw usageError(`compression ${compression}: not one of ${COMPRESSIONS.join(', ')}`);
  return codec.compress(compression, data);
}

/**
 * A stored chunk decompressed (zstd, gzip or xz, told by its magic).  `size`,
 * when known, is the exact size expected: more or fewer bytes are an error.
 */
export async function decompress(data: Uint8Array, size?: number): Promise<Uint8Array> {
  const kind = detectCompression(data);
  if (!kind) throw new WasyncError('EFORMAT', 'decompress: the data starts with no zstd, gzip or xz magic');
  let plain: Uint8Array;
  try {
    if (kind === 'zstd' && size === undefined) plain = zstdAddon().decompress(data);
    else plain = (await codec.decompress(data, size ?? 0))!;
  } catch (e) {
    // A codec this platform cannot run says so; the data is not thereby invalid.
    if (isUnsupported(e)) throw e;
    throw new WasyncError('EFORMAT', `decompress: not valid ${kind} data: ${(e as Error).message}`, { cause: e });
  }
  if (size !== undefined && plain.length !== size) {
    throw new WasyncError('EFORMAT', `decompress: ${kind} data holds ${plain.length} bytes, not the ${size} expected`);
  }
  return plain;
}
