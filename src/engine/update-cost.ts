// What an update to an index costs a machine that already has some chunks (an
// older version's index, seeds, stores): every chunk of the new index is
// `shared` (at hand), `zero` (all zeros: extraction writes them, or leaves a
// hole, and never fetches them) or `new` (it has to be downloaded).  The
// figures are the same for `wasync info` and the verification page, which
// draws them as a strip along the image: one cell per slice of its bytes,
// coloured by what most of that slice is.
//
// Zero runs are cut by the chunker into chunks of the largest size (the
// rolling hash of zeros never matches), so the all-zero chunk of the index is
// the one of `max` bytes; for fixed-size indexes min = avg = max.  That is the
// id extraction recognises (operations/extraction.ts), and so the one counted.
//
// Runtime-neutral: the caller supplies the digest of `max` zero bytes and the
// "is it at hand" test.

import { toHex } from '../chunk/chunk-id.ts';
import type { IndexEntry } from '../format/index-file.ts';

export type ChunkClass = 'shared' | 'zero' | 'new';
export const CHUNK_CLASSES: readonly ChunkClass[] = ['shared', 'zero', 'new'];

/** Zero runs longer than this are not looked for: hashing the zeros would cost more than it tells. */
export const ZERO_ID_LIMIT = 16 << 20;

export interface UpdateCostFigures {
  /** chunks of the index, and the bytes they cover */
  chunks: number;
  size: number;
  /** per class: index entries, bytes of the image they cover */
  entries: Record<ChunkClass, number>;
  covered: Record<ChunkClass, number>;
  /** distinct chunks to download, and their (uncompressed) bytes */
  download: number;
  downloadSize: number;
}

export interface UpdateCostOptions {
  /** the id of an all-zero chunk of the index's largest size; null: none is looked for */
  zeroId: Uint8Array | null;
  /** whether a chunk is at hand (in the old index, a seed, a store) */
  have(id: Uint8Array): boolean;
  /** for the strip: the image's size (known beforehand) and the number of cells */
  strip?: { size: number; cells: number };
}

const key = (id: Uint8Array) => toHex(id.subarray(0, 12));

export class UpdateCost {
  private readonly zeroKey: string | null;
  private readonly seen = new Set<string>();
  private readonly figures: UpdateCostFigures = {
    chunks: 0,
    size: 0,
    entries: { shared: 0, zero: 0, new: 0 },
    covered: { shared: 0, zero: 0, new: 0 },
    download: 0,
    downloadSize: 0,
  };
  /** per cell, bytes of each class: cells × 3 */
  private readonly cells: Float64Array | null;
  private readonly cellBytes: number;

  constructor(private readonly o: UpdateCostOptions) {
    this.zeroKey = o.zeroId ? key(o.zeroId) : null;
    const n = o.strip ? Math.max(1, Math.floor(o.strip.cells)) : 0;
    this.cells = o.strip ? new Float64Array(n * 3) : null;
    this.cellBytes = o.strip ? Math.max(1, o.strip.size / n) : 1;
  }

  /** Entries in index order. */
  add(batch: readonly IndexEntry[]): void {
    const f = this.figures;
    for (const e of batch) {
      const k = key(e.id);
      const c: ChunkClass = k === this.zeroKey ? 'zero' : this.o.have(e.id) ? 'shared' : 'new';
      f.chunks++;
      f.size = e.offset + e.size;
      f.entries[c]++;
      f.covered[c] += e.size;
      if (c === 'new' && !this.seen.has(k)) {
        this.seen.add(k);
        f.download++;
        f.downloadSize += e.size;
      }
      if (this.cells) this.paint(e.offset, e.size, CHUNK_CLASSES.indexOf(c));
    }
  }

  result(): UpdateCostFigures {
    const f = this.figures;
    return { ...f, entries: { ...f.entries }, covered: { ...f.covered } };
  }

  /** Each cell's class: the one covering most of its bytes (cells past the end: null). */
  strip(): (ChunkClass | null)[] {
    if (!this.cells) return [];
    const out: (ChunkClass | null)[] = [];
    for (let i = 0; i < this.cells.length; i += 3) {
      let best = -1;
      let most = 0;
      for (let c = 0; c < 3; c++) if (this.cells[i + c] > most) (most = this.cells[i + c]), (best = c);
      out.push(best < 0 ? null : CHUNK_CLASSES[best]);
    }
    return out;
  }

  private paint(offset: number, size: number, c: number): void {
    const cells = this.cells!;
    const last = cells.length / 3 - 1;
    const end = offset + size;
    // Cell bounds are fractions: step on by comparing with them, never by dividing again.
    let cell = Math.min(last, Math.floor(offset / this.cellBytes));
    for (let at = offset; at < end; cell++) {
      const bound = cell >= last ? Infinity : (cell + 1) * this.cellBytes;
      if (bound <= at) continue;
      const to = Math.min(end, bound);
      cells[Math.min(cell, last) * 3 + c] += to - at;
      at = to;
      if (to === end) break;
    }
  }
}

/** A set of chunk ids, by the 96 bits that tell chunks apart (as DistinctChunks). */
export class ChunkIdSet {
  private readonly ids = new Set<string>();
  add(batch: readonly IndexEntry[]): void {
    for (const e of batch) this.ids.add(key(e.id));
  }
  has(id: Uint8Array): boolean {
    return this.ids.has(key(id));
  }
  get size(): number {
    return this.ids.size;
  }
}
