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

import type { DigestName } from '../../digest.ts';
import { report, type ChunkVerdict, type DistinctChunks, type VerifyReport } from '../../engine/verify.ts';

/** Page → worker. */
export type ToWorker =
  | { type: 'init'; stores: string[]; digest: DigestName; concurrency: number }
  | { type: 'batch'; seq: number; ids: Uint8Array; sizes: Float64Array };

/** Worker → page. */
export type FromWorker =
  | { type: 'ready' }
  | { type: 'verdicts'; seq: number; verdicts: ChunkVerdict[] }
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
const QUEUED = 4;

export async function verifyWithWorkers(o: PoolVerifyOptions): Promise<PoolVerifyResult> {
  const total = o.chunks.count;
  const n = Math.max(1, Math.min(o.workers ?? (globalThis.navigator?.hardwareConcurrency || 2), Math.ceil(total / 4) || 1));
  const concurrency = Math.max(1, o.concurrency ?? 16);
  const perWorker = Math.max(1, Math.ceil(concurrency / n));
  const batchSize = perWorker;
  const progress: VerifyProgress = { chunks: 0, bytes: 0, totalChunks: total, totalBytes: o.chunks.bytes, missing: 0, invalid: 0 };
  const problems: { at: number; v: ChunkVerdict }[] = [];
  const workers: Worker[] = [];
  const batchStart = new Map<number, number>();
  let next = 0;
  let seq = 0;
  let outstanding = 0;

  try {
    await new Promise<void>((resolve, reject) => {
      const fail = (message: string) => reject(new Error(message));
      const send = (w: Worker) => {
        if (next >= total) return;
        const from = next;
        const to = Math.min(total, from + batchSize);
        next = to;
        const { ids, sizes } = o.chunks.slice(from, to);
        batchStart.set(seq, from);
        outstanding++;
        w.postMessage({ type: 'batch', seq: seq++, ids, sizes } satisfies ToWorker, [ids.buffer, sizes.buffer]);
      };
      for (let k = 0; k < n; k++) {
        const w = new Worker(o.workerUrl, { type: 'module', name: `wasync-verify-${k}` });
        workers.push(w);
        w.onerror = (e) => fail(`the verification worker ${String(o.workerUrl)} failed: ${e.message || 'it could not be loaded'}`);
        w.onmessage = (e: MessageEvent<FromWorker>) => {
          const m = e.data;
          if (m.type === 'error') return fail(m.message);
          if (m.type === 'ready') {
            for (let q = 0; q < QUEUED; q++) send(w);
            if (outstanding === 0) resolve();
            return;
          }
          const from = batchStart.get(m.seq)!;
          batchStart.delete(m.seq);
          m.verdicts.forEach((v, i) => {
            progress.chunks++;
            progress.bytes += o.chunks.sizes[from + i];
            if (v.verdict === 'ok') return;
            if (v.verdict === 'missing') progress.missing++;
            else progress.invalid++;
            problems.push({ at: from + i, v });
            o.onProblem?.(v);
          });
          o.onProgress?.({ ...progress });
          outstanding--;
          send(w);
          if (outstanding === 0 && next >= total) resolve();
        };
        w.postMessage({ type: 'init', stores: o.stores, digest: o.digest, concurrency: perWorker } satisfies ToWorker);
      }
    });
  } finally {
    for (const w of workers) w.terminate();
  }
  problems.sort((a, b) => a.at - b.at);
  const verdicts = problems.map((p) => p.v);
  return { report: report(o.chunks, verdicts), problems: verdicts };
}
