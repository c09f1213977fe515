// `verify`: is every chunk an index names present in a store, does it decompress,
// and do its bytes hash to its id?  Runtime-neutral: the CLI runs it in worker
// threads over its stores, the web page in Web Workers over fetch; the checking
// itself is the stores' (stores/checked-store.ts).
//
// Each distinct chunk is checked once.  A chunk is missing when no store has it,
// invalid when some store has it but no copy is good (the reason is kept), and
// fine otherwise; the first good copy ends the search, as extraction would use it.

import { toHex } from '../chunk/chunk-id.ts';
import { ChunkCorruptError } from '../errors.ts';
import { CHUNK_ID_SIZE } from '../format/constants.ts';
import type { IndexEntry } from '../format/index-file.ts';
import type { ChunkSource } from '../stores/store.ts';

/** What the page sets as window.wasyncReport, and `verify --json` prints. */
export interface VerifyReport {
  status: 'ok' | 'failed';
  /** distinct chunks checked */
  chunks: number;
  /** their uncompressed bytes */
  bytes: number;
  missing: string[];
  invalid: string[];
}

export interface ChunkVerdict {
  hex: string;
  verdict: 'ok' | 'missing' | 'invalid';
  /** invalid: why, and where the bad copy was */
  why?: string;
}

/** The distinct chunks of an index, in first-use order: packed ids and sizes. */
export class DistinctChunks {
  private readonly seen = new Map<string, number>();
  ids: Uint8Array[] = [];
  sizes: number[] = [];
  /** how many entries of the index name each */
  uses: number[] = [];
  bytes = 0;

  add(entries: readonly IndexEntry[]) {
    for (const e of entries) {
      // 96 bits of the id tell chunks apart (a collision among a billion chunks has odds below 1e-10).
      const key = toHex(e.id.subarray(0, 12));
      const at = this.seen.get(key);
      if (at !== undefined) {
        this.uses[at]++;
        continue;
      }
      this.seen.set(key, this.ids.length);
      this.uses.push(1);
      this.ids.push(e.id);
      this.sizes.push(e.size);
      this.bytes += e.size;
    }
  }

  get count() {
    return this.ids.length;
  }

  /** Chunks [from, to) packed for a job: ids back to back, sizes alongside. */
  slice(from: number, to: number): { ids: Uint8Array; sizes: Float64Array } {
    const ids = new Uint8Array((to - from) * CHUNK_ID_SIZE);
    for (let i = from; i < to; i++) ids.set(this.ids[i], (i - from) * CHUNK_ID_SIZE);
    return { ids, sizes: Float64Array.from(this.sizes.slice(from, to)) };
  }
}

/** Chunk `id`'s verdict from `source`, whose stores check every copy (the first good one ends the search). */
export async function verifyChunk(source: Pick<ChunkSource, 'read'>, id: Uint8Array, size: number): Promise<ChunkVerdict> {
  const hex = toHex(id);
  try {
    return { hex, verdict: (await source.read(hex, size)) ? 'ok' : 'missing' };
  } catch (e) {
    if (e instanceof ChunkCorruptError) return { hex, verdict: 'invalid', why: `${e.where}: ${e.why}` };
    throw e;
  }
}

export function report(chunks: DistinctChunks, verdicts: Iterable<ChunkVerdict>): VerifyReport {
  const missing: string[] = [];
  const invalid: string[] = [];
  for (const v of verdicts) {
    if (v.verdict === 'missing') missing.push(v.hex);
    else if (v.verdict === 'invalid') invalid.push(v.hex);
  }
  return { status: missing.length || invalid.length ? 'failed' : 'ok', chunks: chunks.count, bytes: chunks.bytes, missing, invalid };
}
