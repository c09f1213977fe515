// The make pipeline for one blob (a file or block device given by descriptor):
//
//   scan jobs (segments of SCAN_SEGMENT bytes, any order, any thread)
//     → CutResolver (here, in order) → batches of whole chunks
//     → chunk jobs (digest, and compress + store when a store is given)
//     → onChunks(ends, ids) in input order.
//
// A bounded number of jobs is in flight at any time, so memory does not grow with
// the input.  Seeds are chunked by the same pipeline without a store.

import { CutResolver } from '../chunker/cut-resolver.ts';
import { discriminator, type ChunkSizes } from '../chunker/sizes.ts';
import type { Compression } from '../codecs/compression.ts';
import type { DigestName } from '../digest.ts';
import { SCAN_SEGMENT, fileRef, type ChunkResult, type Executor, type FileRef, type ScanResult } from './jobs.ts';

/** Input bytes per chunk job. */
const BATCH_BYTES = 4 << 20;

export interface ChunkBlobOptions {
  input: FileRef;
  size: number;
  sizes: ChunkSizes;
  digest: DigestName;
  store: string | null;
  compression: Compression;
  executor: Executor;
  /** Called in input order with each batch's chunk end offsets and ids. */
  onChunks(ends: number[], result: ChunkResult): void | Promise<void>;
  /** Called as each segment [start, end) of input is first handed out. */
  onSegment?(start: number, end: number): void;
}

export interface ChunkBlobTotals {
  chunks: number;
  stored: number;
  storedBytes: number;
}

export async function chunkBlob(o: ChunkBlobOptions): Promise<ChunkBlobTotals> {
  const totals: ChunkBlobTotals = { chunks: 0, stored: 0, storedBytes: 0 };
  const input = fileRef(o.input);
  const depth = 4 * o.executor.parallelism;
  const resolver = new CutResolver(o.sizes);
  const d = discriminator(o.sizes);
  const scans: Promise<ScanResult & { end: number }>[] = [];
  const batches: { ends: number[]; result: Promise<ChunkResult> }[] = [];
  let scanned = 0;
  let cuts: number[] = [];
  let batchStart = 0;

  const drainOne = async () => {
    const b = batches.shift()!;
    const r = await b.result;
    totals.chunks += b.ends.length;
    totals.stored += r.stored;
    totals.storedBytes += r.storedBytes;
    await o.onChunks(b.ends, r);
  };

  const dispatch = async (all: boolean) => {
    let from = 0;
    while (from < cuts.length) {
      let to = from;
      while (to < cuts.length && cuts[to] - batchStart < BATCH_BYTES) to++;
      if (to === cuts.length && !all) break;
      if (to === from) to++; // one chunk larger than a batch
      const ends = cuts.slice(from, to);
      const chunks = new Float64Array(2 * ends.length);
      let start = batchStart;
      ends.forEach((end, i) => {
        chunks[2 * i] = start;
        chunks[2 * i + 1] = end - start;
        start = end;
      });
      const result = handled(
        o.executor.run<ChunkResult>({
          kind: 'chunks',
          input,
          chunks,
          digest: o.digest,
          store: o.store,
          compression: o.compression,
        }),
      );
      batches.push({ ends, result });
      batchStart = start;
      from = to;
      while (batches.length > depth) await drainOne();
    }
    cuts = cuts.slice(from);
  };

  const addCuts = (more: number[]) => {
    for (const c of more) cuts.push(c);
  };

  while (scanned < o.size || scans.length) {
    while (scans.length < depth && scanned < o.size) {
      const start = scanned;
      const end = Math.min(o.size, start + SCAN_SEGMENT);
      o.onSegment?.(start, end);
      if (resolver.needsCandidates) {
        scans.push(
          handled(o.executor.run<ScanResult>({ kind: 'scan', input, start, end, d })).then(
            (r) => ({ ...r, end }),
          ),
        );
      } else {
        addCuts(resolver.push([], 0, end));
      }
      scanned = end;
    }
    const next = scans.shift();
    if (next) {
      const r = await next;
      addCuts(resolver.push(r.candidates, r.base, r.end));
    }
    await dispatch(false);
  }
  addCuts(resolver.finish(o.size));
  await dispatch(true);
  while (batches.length) await drainOne();
  return totals;
}

/**
 * Marks a job's promise as handled, so that a failure while an earlier job is
 * being awaited is not reported as an unhandled rejection; the caller still
 * awaits it and sees the error.
 */
export function handled<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}
