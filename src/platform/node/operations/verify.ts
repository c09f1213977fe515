// verify(): every chunk an index names is in a store, decompresses and hashes
// to its id.  Distinct chunks are checked once, in batches spread over the
// worker threads, against the stores the index would be extracted from; the
// missing and corrupt ones are returned, not thrown.
//
// With `repair`, as desync's `verify -r`, a corrupt chunk is then removed from
// every store that holds a copy, so that the next verify reports it missing
// and the next make or chop stores it again.  Corrupt means no copy is good, so
// every copy there is bad.  A store that cannot remove chunks (HTTP, ssh) is
// refused before anything is read.

import { DistinctChunks, type ChunkVerdict } from '../../../engine/verify.ts';
import { WasyncError, usageError } from '../../../errors.ts';
import { EncryptedStore } from '../../../stores/encrypted-store.ts';
import { HttpStore } from '../../../stores/http-store.ts';
import { isWriteStore, type ChunkStore, type WriteStore } from '../../../stores/store.ts';
import { hasSuffix, stripFileUrl } from '../../../stores/locator.ts';
import { handled } from '../pool/chunk-pipeline.ts';
import type { VerifyResult as VerifyJobResult } from '../pool/jobs.ts';
import { checkAborted, type OperationOptions } from './common.ts';
import { Extraction } from './extraction.ts';
import { Network, type NetworkOptions } from './network.ts';
import { OperationStores, type StoreChoice } from './stores.ts';
import type { TrustOptions } from '../trust/signed-input.ts';
import type { Signer } from '../../../trust/signature-check.ts';

const BATCH_BYTES = 4 << 20;

export interface VerifyOptions extends NetworkOptions, StoreChoice, TrustOptions, Pick<OperationOptions, 'onProgress' | 'signal' | 'workers'> {
  /** a .caibx or .caidx: a path, URL or ssh location, or its bytes */
  index: string | Uint8Array;
  /** remove corrupt chunks from the stores (local directories, S3, their failover groups and caches) */
  repair?: boolean;
  /** with `repair`: each corrupt chunk removed, and from which store */
  onRemove?(removed: RemovedChunk): void;
  /** with `repair`: a corrupt chunk that could not be removed */
  onWarning?(message: string): void;
}

export interface RemovedChunk {
  id: string;
  store: string;
}

export interface VerifyResult {
  /** every chunk present and intact */
  ok: boolean;
  /** distinct chunks checked, and their bytes */
  chunks: number;
  bytes: number;
  /** the stores checked, in the order they were tried */
  stores: string;
  /** those of them that do not exist (local directories), when chunks are missing */
  absent: string[];
  /** ids no store has */
  missing: string[];
  /** ids with no good copy, and why */
  corrupt: { id: string; why: string }[];
  /** with `repair`: the copies removed */
  removed: RemovedChunk[];
  /** who signed the index, when trusted keys were given */
  signer: Signer | null;
}

/** Checks every chunk of an index: present in a store, decompresses, matches its id. */
export async function verify(o: VerifyOptions): Promise<VerifyResult> {
  if (typeof o?.index !== 'string' && !(o?.index instanceof Uint8Array)) throw usageError('verify: `index` (a path, URL or the bytes of an index) is required');
  const loc = typeof o.index === 'string' ? stripFileUrl(o.index) : null;
  if (loc !== null && !hasSuffix(loc, '.caibx') && !hasSuffix(loc, '.caidx')) throw usageError(`${loc}: expected an index (.caibx or .caidx)`);
  checkAborted(o.signal);
  if (!o.repair) return check(o);
  // (Local and S3 stores hold nothing to close; the network's connections are.)
  const net = new Network(o);
  try {
    const members = repairable(new OperationStores(net).members(o, loc));
    const r = await check(o);
    for (const c of r.corrupt) await removeCopies(c.id, members, o, r.removed);
    return r;
  } finally {
    await net.close();
  }
}

async function check(o: VerifyOptions): Promise<VerifyResult> {
  const ex = await Extraction.open({ ...o, index: o.index, stores: o, network: o, trust: o });
  try {
    const chunks = new DistinctChunks();
    for await (const batch of ex.entries()) chunks.add(batch);
    const pool = ex.executors.chunks;
    const problems: ChunkVerdict[] = [];
    const jobs = new Set<Promise<void>>();
    let done = 0;
    for (let from = 0; from < chunks.count; ) {
      while (jobs.size >= 4 * pool.parallelism) await Promise.race(jobs);
      checkAborted(o.signal);
      let to = from;
      let bytes = 0;
      while (to < chunks.count && bytes < BATCH_BYTES) bytes += chunks.sizes[to++];
      const { ids, sizes } = chunks.slice(from, to);
      const job: Promise<void> = handled(
        pool.run<VerifyJobResult>({ kind: 'verify', ids, sizes, digest: ex.digest, stores: ex.stores }).then((r) => {
          problems.push(...r.problems);
          done += bytes;
          o.onProgress?.({ done, total: chunks.bytes });
          jobs.delete(job);
        }),
      );
      jobs.add(job);
      from = to;
    }
    await Promise.all(jobs);
    const missing = problems.filter((p) => p.verdict === 'missing').map((p) => p.hex);
    const corrupt = problems.filter((p) => p.verdict === 'invalid').map((p) => ({ id: p.hex, why: p.why ?? '' }));
    const absent = missing.length ? ex.absentStores() : [];
    return { ok: !missing.length && !corrupt.length, chunks: chunks.count, bytes: chunks.bytes, stores: ex.storeNames, absent, missing, corrupt, removed: [], signer: ex.signer };
  } finally {
    await ex.close();
  }
}

/** The stores, unless one of them cannot remove chunks. */
function repairable(stores: ChunkStore[]): WriteStore[] {
  const canRemove = (s: ChunkStore): boolean => (s instanceof EncryptedStore ? canRemove(s.inner) : isWriteStore(s) && !(s instanceof HttpStore));
  const fixed = stores.find((s) => !canRemove(s));
  if (fixed) throw usageError(`verify --repair: ${fixed.name}: chunks cannot be removed from this store (only from local directories and S3)`);
  return stores as WriteStore[];
}

async function removeCopies(id: string, stores: WriteStore[], o: VerifyOptions, removed: RemovedChunk[]) {
  for (const s of stores) {
    try {
      if (!(await s.has(id)) || !(await s.remove(id))) continue;
    } catch (e) {
      o.onWarning?.(`chunk ${id} is corrupt, but cannot be removed from ${s.name}: ${e instanceof WasyncError ? e.message : String(e)}`);
      continue;
    }
    const r = { id, store: s.name };
    removed.push(r);
    o.onRemove?.(r);
  }
}
