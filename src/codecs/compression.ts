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
