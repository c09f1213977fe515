// Verification of an index's chunks on every core of a browser: Web Workers
// (verify-worker.ts), each fetching, decompressing and hashing its share of the
// distinct chunks with several requests in flight.
//
// The page thread parses nothing but the index and hands out small batches of
// (id, size) pairs, keeping a few batches queued per worker so no worker idles
// while the next one travels; fetch concurrency, the number that matters on a
// slow link, is divided among the workers.  A worker answers each batch with one
// verdict per chunk, in batch order, or with the error that stopped it (a store
// unreachable after its retries), which stops the whole run: a chunk that could
// not be fetched is neither missing nor corrupt, and is not reported as either.
//
// With a ChunkShare (a .caidx whose tree the page browses meanwhile), a chunk the
// page has fetched or is fetching is counted by the page's verdict and never
// sent to a worker, and the workers send good chunks' bytes back for the page
// to reuse; batches are therefore made of whichever chunks are left, not of
// fixed slices of the list.

import type { DigestName } from '../../chunk/digest.ts';
import { toHex } from '../../chunk/chunk-id.ts';
import { CHUNK_ID_SIZE } from '../../format/constants.ts';
import { report, type ChunkVerdict, type DistinctChunks, type VerifyReport } from '../../engine/verify.ts';
import type { ChunkShare } from './chunk-share.ts';

/** Page → worker.  `keep`: send good chunks' bytes back with the verdicts (see chunk-share.ts). */
export type ToWorker =
  | { type: 'init'; stores: string[]; digest: DigestName; concurrency: number; keep: boolean }
  | { type: 'batch'; seq: number; ids: Uint8Array; sizes: Float64Array };

/** Worker → page.  `data`: with keep, each good chunk's bytes (null for the others), transferred. */
export type FromWorker =
  | { type: 'ready' }
  | { type: 'verdicts'; seq: number; verdicts: ChunkVerdict[]; data?: (Uint8Array | null)[] }
  | { type: 'error'; seq: number | null; message: string };

export interface VerifyProgress {
  chunks: number;
  bytes: number;
  totalChunks: number;
  totalBytes: number;
  missing: number;
  invalid: number;
}

export interface PoolVerifyOptions {
  /** the built verify-worker script (a module worker) */
  workerUrl: string | URL;
  /** store URLs, tried in order for each chunk */
  stores: string[];
  digest: DigestName;
  chunks: DistinctChunks;
  /** workers to start (default navigator.hardwareConcurrency) */
  workers?: number;
  /** chunk requests in flight over all workers (default 16) */
  concurrency?: number;
  onProgress?(p: VerifyProgress): void;
  /** each chunk that is missing or corrupt, as it is found */
  onProblem?(v: ChunkVerdict): void;
  /**
   * Chunks shared with the page thread: those it fetched are counted, not
   * fetched again, and the workers' good chunks are handed to it.
   */
  share?: ChunkShare;
  /** ends the run: the workers are stopped and the promise rejects with the signal's reason */
  signal?: AbortSignal;
}

export interface PoolVerifyResult {
  report: VerifyReport;
  /** the missing and corrupt chunks in index order, with why a copy was rejected */
  problems: ChunkVerdict[];
}

/**
 * Batches queued per worker: enough that a worker still has chunks to fetch
 * while the page thread is busy (listing a .caidx on the same cores) and late
 * in answering it.
 */
const QUEUED = 2;

/**
 * Chunks a batch holds, where the index has enough: about 8 MiB of casync's
 * 64 KiB chunks, which a store with pack files fetches in one or two requests
 * (access.ts).  Chromium spends less CPU a byte on fewer, larger answers:
 * fetching a 256 MiB pack store took it about a fifth less CPU time in 8 MiB
 * ranges than in 2 MiB ones, and the page over packs, with 128-chunk batches,
 * about as much less than with 32.
 */
const BATCH_CHUNKS = 128;

export async function verifyWithWorkers(o: PoolVerifyOptions): Promise<PoolVerifyResult> {
  const total = o.chunks.count;
  const n = Math.max(1, Math.min(o.workers ?? (globalThis.navigator?.hardwareConcurrency || 2), Math.ceil(total / 4) || 1));
  const concurrency = Math.max(1, o.concurrency ?? 16);
  const perWorker = Math.max(1, Math.ceil(concurrency / n));
  // Batches larger than a worker's requests in flight: a store with pack files fetches neighbours together;
  // and at least eight of them a worker, so that a small index still shows its progress as it goes.
  const batchSize = Math.max(perWorker, Math.min(BATCH_CHUNKS, Math.ceil(total / (n * 8))));
  const progress: VerifyProgress = { chunks: 0, bytes: 0, totalChunks: total, totalBytes: o.chunks.bytes, missing: 0, invalid: 0 };
  const problems: { at: number; v: ChunkVerdict }[] = [];
  const workers: Worker[] = [];
  const queued = new Map<Worker, number>();
  /** the distinct-chunk numbers of each batch sent, by seq */
  const batches = new Map<number, number[]>();
  const share = o.share;
  // Chunks the page was fetching but could not (no verdict): the workers try them.
  const retry: number[] = [];
  let next = 0;
  let seq = 0;

  try {
    await new Promise<void>((resolve, reject) => {
      const fail = (message: string) => reject(new Error(message));
      if (o.signal?.aborted) return reject(o.signal.reason);
      o.signal?.addEventListener('abort', () => reject(o.signal!.reason), { once: true });
      const count = (k: number, v: ChunkVerdict) => {
        progress.chunks++;
        progress.bytes += o.chunks.sizes[k];
        if (v.verdict !== 'ok') {
          if (v.verdict === 'missing') progress.missing++;
          else progress.invalid++;
          problems.push({ at: k, v });
          o.onProblem?.(v);
        }
      };
      const finished = () => {
        o.onProgress?.({ ...progress });
        if (progress.chunks === total) resolve();
      };
      /** The next chunk a worker must fetch, counting on the way those the page already has. */
      const take = (): number | null => {
        if (retry.length) return retry.pop()!;
        while (next < total) {
          const k = next++;
          const theirs = share?.claim(toHex(o.chunks.ids[k]));
          if (!theirs) return k;
          theirs.then(
            (v) => {
              count(k, v);
              finished();
            },
            () => {
              retry.push(k);
              pump();
            },
          );
        }
        return null;
      };
      const send = (w: Worker): boolean => {
        const picked: number[] = [];
        for (let k = take(); k !== null; k = picked.length < batchSize ? take() : null) picked.push(k);
        if (!picked.length) return false;
        const ids = new Uint8Array(picked.length * CHUNK_ID_SIZE);
        picked.forEach((k, i) => ids.set(o.chunks.ids[k], i * CHUNK_ID_SIZE));
        const sizes = Float64Array.from(picked, (k) => o.chunks.sizes[k]);
        batches.set(seq, picked);
        queued.set(w, (queued.get(w) ?? 0) + 1);
        w.postMessage({ type: 'batch', seq: seq++, ids, sizes } satisfies ToWorker, [ids.buffer, sizes.buffer]);
        return true;
      };
      const pump = () => {
        for (const w of workers) while ((queued.get(w) ?? QUEUED) < QUEUED && send(w));
      };
      for (let k = 0; k < n; k++) {
        const w = new Worker(o.workerUrl, { type: 'module', name: `wasync-verify-${k}` });
        workers.push(w);
        w.onerror = (e) => fail(`the verification worker ${String(o.workerUrl)} failed: ${e.message || 'it could not be loaded'}`);
        w.onmessage = (e: MessageEvent<FromWorker>) => {
          const m = e.data;
          if (m.type === 'error') return fail(m.message);
          if (m.type === 'ready') {
            queued.set(w, 0);
            pump();
            return finished();
          }
          const picked = batches.get(m.seq)!;
          batches.delete(m.seq);
          queued.set(w, queued.get(w)! - 1);
          m.verdicts.forEach((v, i) => {
            share?.settle(v.hex, { verdict: v, data: m.data?.[i] ?? null });
            count(picked[i], v);
          });
          pump();
          finished();
        };
        w.postMessage({ type: 'init', stores: o.stores, digest: o.digest, concurrency: perWorker, keep: !!share } satisfies ToWorker);
      }
    });
  } finally {
    for (const w of workers) w.terminate();
    share?.end();
  }
  problems.sort((a, b) => a.at - b.at);
  const verdicts = problems.map((p) => p.v);
  return { report: report(o.chunks, verdicts), problems: verdicts };
}
