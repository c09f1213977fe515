// `verify`: is every chunk an index names present in a store, does it decompress,
// and do its bytes hash to its id?  Runtime-neutral: the CLI runs it in worker
// threads over local and HTTP stores, the web page in Web Workers over fetch.
//
// Each distinct chunk is checked once.  A chunk is missing when no store has it,
// invalid when some store has it but no copy is good (the reason is kept), and
// fine otherwise; the first good copy ends the search, as extraction would use it.

import { toHex } from '../chunk/chunk-id.ts';
import { CHUNK_ID_SIZE } from '../format/constants.ts';
import type { IndexEntry } from '../format/index-file.ts';
import type { DigestName } from '../chunk/digest.ts';
import type { ChunkStoreReader } from './random-access.ts';

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

export interface VerifyAccess {
  stores: readonly ChunkStoreReader[];
  /** decompressed bytes of a stored chunk, null for an unknown format; throws if it does not decompress */
  decompress(data: Uint8Array, size: number): Uint8Array | null | Promise<Uint8Array | null>;
  digest(name: DigestName, data: Uint8Array): Uint8Array | Promise<Uint8Array>;
}

/** The distinct chunks of an index, in first-use order: packed ids and sizes. */
export class DistinctChunks {
  private readonly seen = new Set<string>();
  ids: Uint8Array[] = [];
  sizes: number[] = [];
  bytes = 0;

  add(entries: readonly IndexEntry[]) {
    for (const e of entries) {
      // 96 bits of the id tell chunks apart (a collision among a billion chunks has odds below 1e-10).
      const key = toHex(e.id.subarray(0, 12));
      if (this.seen.has(key)) continue;
      this.seen.add(key);
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

export async function verifyChunk(a: VerifyAccess, digest: DigestName, id: Uint8Array, size: number): Promise<ChunkVerdict> {
  const hex = toHex(id);
  let why: string | null = null;
  for (const store of a.stores) {
    const copy = await store.get(hex);
    if (!copy) continue;
    const problem = await check(a, digest, id, size, copy.data, copy.compressed);
    if (problem === null) return { hex, verdict: 'ok' };
    why ??= `${copy.where}: ${problem}`;
  }
  return why === null ? { hex, verdict: 'missing' } : { hex, verdict: 'invalid', why };
}

async function check(a: VerifyAccess, digest: DigestName, id: Uint8Array, size: number, stored: Uint8Array, compressed: boolean): Promise<string | null> {
  let data: Uint8Array | null;
  try {
    data = compressed ? await a.decompress(stored, size) : stored;
  } catch (e) {
    return `does not decompress (${(e as Error).message})`;
  }
  if (!data) return 'not in a known compression format (zstd, gzip, xz)';
  if (data.length !== size) return `holds ${data.length} bytes, the index says ${size}`;
  const got = await a.digest(digest, data);
  for (let i = 0; i < CHUNK_ID_SIZE; i++) if (got[i] !== id[i]) return `its ${digest} digest does not match its id`;
  return null;
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
