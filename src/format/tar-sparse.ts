// GNU tar's sparse files (tar --sparse), in the three forms GNU tar writes:
// the file's data regions are stored back to back, and a map says where each
// one lies in the file; the rest of the file (up to its real size) is holes.
//
//   gnu format, typeflag 'S': the header holds up to 4 map entries
//     {offset[12], numbytes[12]} at 386, isextended[1] at 482, realsize[12] at
//     483; while isextended is set, a 512-byte extension block follows the
//     header with 21 more entries at 0 and its own isextended at 504.
//   pax 0.1: GNU.sparse.map = "OFF,LEN,OFF,LEN,…", GNU.sparse.size = real size,
//     GNU.sparse.name = the real path.
//   pax 1.0 (GNU.sparse.major=1, minor=0): GNU.sparse.realsize and
//     GNU.sparse.name; the data starts with the map as decimal lines (the
//     count, then offset and length for each), padded to a whole block.
// (pax 0.0 repeats GNU.sparse.offset/numbytes keys, and is refused.)

import { parseOctal } from './tar-fields.ts';

/** One data region of a sparse file: `length` bytes at `offset` of the file. */
export interface SparseRegion {
  offset: number;
  length: number;
}

const octal = (f: Uint8Array): number => parseOctal(f) ?? 0;

/** The map of an old GNU 'S' header and its extension blocks, and the real size. */
export function gnuSparseMap(header: Uint8Array, extensions: readonly Uint8Array[]): { regions: SparseRegion[]; realSize: number } {
  const regions: SparseRegion[] = [];
  const take = (b: Uint8Array, at: number, n: number) => {
    for (let i = 0; i < n; i++) {
      const e = b.subarray(at + 24 * i, at + 24 * i + 24);
      if (e[0] === 0) break;
      regions.push({ offset: octal(e.subarray(0, 12)), length: octal(e.subarray(12, 24)) });
    }
  };
  take(header, 386, 4);
  for (const x of extensions) take(x, 0, 21);
  return { regions, realSize: octal(header.subarray(483, 495)) };
}

/** An old GNU header says an extension block follows (the header's flag at 482, an extension's at 504). */
export const gnuSparseExtended = (block: Uint8Array, isHeader: boolean) => block[isHeader ? 482 : 504] !== 0;

/** pax 0.1's GNU.sparse.map; null when it does not parse. */
export function paxSparseMap(map: string): SparseRegion[] | null {
  if (!/^([0-9]+,[0-9]+)?(,[0-9]+,[0-9]+)*$/.test(map)) return null;
  const n = map ? map.split(',').map(Number) : [];
  const regions: SparseRegion[] = [];
  for (let i = 0; i < n.length; i += 2) regions.push({ offset: n[i], length: n[i + 1] });
  return regions;
}

/** Parses pax 1.0's map from the start of the data, fed block by block. */
export class SparseMapParser {
  private readonly numbers: number[] = [];
  private line = '';

  /** The regions once the blocks so far hold the whole map, null while more are needed, 'bad' for a malformed one. */
  push(block: Uint8Array): SparseRegion[] | null | 'bad' {
    const n = this.numbers;
    for (const c of block) {
      if (c !== 0x0a) {
        if (c < 0x30 || c > 0x39 || this.line.length > 20) return 'bad';
        this.line += String.fromCharCode(c);
        continue;
      }
      if (!this.line) return 'bad';
      n.push(Number(this.line));
      this.line = '';
      if (n.length === 1 + 2 * n[0]) {
        const regions: SparseRegion[] = [];
        for (let k = 1; k < n.length; k += 2) regions.push({ offset: n[k], length: n[k + 1] });
        return regions;
      }
    }
    return null;
  }
}

/** Why the regions cannot describe a file of `realSize` whose stored data is `stored` bytes, or null. */
export function sparseProblem(regions: readonly SparseRegion[], realSize: number, stored: number): string | null {
  let end = 0;
  let total = 0;
  for (const r of regions) {
    if (!Number.isSafeInteger(r.offset) || !Number.isSafeInteger(r.length) || r.offset < end) return 'its sparse map has regions out of order or overlapping';
    end = r.offset + r.length;
    total += r.length;
  }
  if (end > realSize) return `its sparse map reaches byte ${end} of a ${realSize}-byte file`;
  if (total !== stored) return `its sparse map holds ${total} bytes of data, the archive ${stored}`;
  return null;
}
