// Chunk compression formats casync reads and writes (casync-format.md §5).  A
// stored chunk's format is known only by its leading magic bytes.

export type Compression = 'zstd' | 'gzip' | 'xz';

export const COMPRESSIONS: readonly Compression[] = ['zstd', 'gzip', 'xz'];

const MAGIC: [Compression, number[]][] = [
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
  ['gzip', [0x1f, 0x8b]],
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
];

export function detectCompression(data: Uint8Array): Compression | null {
  for (const [name, magic] of MAGIC) {
    if (data.length >= magic.length && magic.every((b, i) => data[i] === b)) return name;
  }
  return null;
}

/** Largest raw block of a zstd frame (RFC 8878 §3.1.1.2.4). */
const ZSTD_BLOCK_MAX = 128 * 1024;

/**
 * A chunk held uncompressed, in a stored form every zstd decoder reads: one
 * frame of raw (uncompressed) blocks, its content size stated (RFC 8878
 * §3.1.1: single segment, 4-byte size).  Decoding it is a copy, so stores
 * can hand out every chunk as stored bytes without compressing anything.
 */
export function storedUncompressed(plain: Uint8Array): Uint8Array {
  const blocks = Math.max(1, Math.ceil(plain.length / ZSTD_BLOCK_MAX));
  const out = new Uint8Array(9 + 3 * blocks + plain.length);
  out.set([0x28, 0xb5, 0x2f, 0xfd, 0xa0]); // magic; FCS 4 bytes, single segment
  new DataView(out.buffer).setUint32(5, plain.length, true);
  let at = 9;
  for (let b = 0; b < blocks; b++) {
    const piece = plain.subarray(b * ZSTD_BLOCK_MAX, (b + 1) * ZSTD_BLOCK_MAX);
    const header = (piece.length << 3) | (b === blocks - 1 ? 1 : 0); // block type 0: raw
    out.set([header & 0xff, (header >> 8) & 0xff, (header >> 16) & 0xff], at);
    out.set(piece, at + 3);
    at += 3 + piece.length;
  }
  return out;
}
