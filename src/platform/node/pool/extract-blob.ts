// `extract X.caibx OUT`: reassembles a blob from seeds and stores.  The index is
// read as a stream; its entries are planned in batches (zero chunk, seed location
// or store) and handed to fetch jobs, which verify every chunk against its id and
// write it at its offset.  With no output descriptor the bytes come back in order
// through onData (stdout, digests).

import { CHUNK_ID_SIZE } from '../../../format/constants.ts';
import type { IndexEntry } from '../../../format/index-file.ts';
import type { DigestName } from '../../../chunk/digest.ts';
import { handled } from './chunk-pipeline.ts';
import {
  FETCH_PLAN_FIELDS,
  Source,
  emptyFetchStats,
  fileRef,
  type Executor,
  type FetchResult,
  type FetchStats,
  type FileRef,
  type Origin,
  type RecipePiece,
} from './jobs.ts';
import type { StoreGraph } from '../../../stores/store-graph.ts';
import type { SeedIndex } from '../seeds/seed-index.ts';
import type { TreeSeedMap } from '../seeds/tree-seed-map.ts';

const BATCH_BYTES = 4 << 20;

export interface ExtractBlobOptions {
  entries: AsyncIterable<IndexEntry[]>;
  digest: DigestName;
  /** where chunks no seed gives are read */
  stores: StoreGraph;
  /** none: no seeds */
  seeds?: SeedIndex | null;
  /** blob seeds, by seed number */
  seedFiles?: FileRef[];
  /** seed trees, by seed number: their chunks are rebuilt from recipes */
  seedTrees?: Map<number, TreeSeedMap>;
  /** where chunks are written at their offsets; none: the bytes go to onData */
  out?: FileRef | null;
  /** with `out`: zero chunks are left as holes */
  holes?: boolean;
  /** with `out` (a block device): chunks already there are not rewritten */
  compareOutput?: boolean;
  /** Ids of all-zero chunks, by size; those chunks are never fetched.  None: all are. */
  zeroIds?: Map<number, Uint8Array>;
  executor: Executor;
  /** the bytes in order, with where seed-tree parts of them came from */
  onData?(bytes: Uint8Array, origins: Origin[]): void | Promise<void>;
  onWarning?(message: string): void;
  /** progress-counter.ts: the bytes written and where they came from, bumped by the jobs per chunk */
  progress?: SharedArrayBuffer;
}

export interface ExtractBlobResult extends FetchStats {
  size: number;
  chunks: number;
}

export async function extractBlob(o: ExtractBlobOptions): Promise<ExtractBlobResult> {
  const totals: ExtractBlobResult = { ...emptyFetchStats(), size: 0, chunks: 0 };
  const depth = 4 * o.executor.parallelism;
  const seeds = (o.seedFiles ?? []).map(fileRef);
  const out = o.out ? fileRef(o.out) : null;
  const inFlight: Promise<FetchResult>[] = [];
  let batch: IndexEntry[] = [];
  let batchBytes = 0;

  const drainOne = async () => {
    const r = await inFlight.shift()!;
    for (const k of Object.keys(r.stats) as (keyof FetchStats)[]) totals[k] += r.stats[k];
    for (const w of r.warnings) o.onWarning?.(w);
    if (r.data) await o.onData?.(r.data, r.origins);
  };

  const dispatch = async () => {
    const n = batch.length;
    const ids = new Uint8Array(n * CHUNK_ID_SIZE);
    const plan = new Float64Array(n * FETCH_PLAN_FIELDS);
    const recipes: RecipePiece[][] = [];
    batch.forEach((e, i) => {
      ids.set(e.id, i * CHUNK_ID_SIZE);
      const p = i * FETCH_PLAN_FIELDS;
      plan[p] = e.offset;
      plan[p + 1] = e.size;
      const zero = o.zeroIds?.get(e.size);
      const seed = o.seeds?.get(e.id);
      const tree = seed && o.seedTrees?.get(seed.seed);
      if (zero && equal(zero, e.id)) plan[p + 2] = Source.Zero;
      else if (tree) {
        plan[p + 2] = Source.Recipe;
        plan[p + 4] = recipes.push(tree.recipe(seed.offset, e.size)) - 1;
      } else if (seed) {
        plan[p + 2] = Source.Seed;
        plan[p + 3] = seed.seed;
        plan[p + 4] = seed.offset;
      } else plan[p + 2] = Source.Store;
    });
    inFlight.push(
      handled(
        o.executor.run<FetchResult>({
          kind: 'fetch',
          ids,
          plan,
          digest: o.digest,
          stores: o.stores,
          seeds,
          out,
          holes: !!o.holes,
          compareOutput: !!o.compareOutput,
          recipes,
          progress: o.progress,
        }),
      ),
    );
    batch = [];
    batchBytes = 0;
    while (inFlight.length > depth) await drainOne();
  };

  for await (const entries of o.entries) {
    for (const e of entries) {
      batch.push(e);
      batchBytes += e.size;
      totals.chunks++;
      totals.size = e.offset + e.size;
      if (batchBytes >= BATCH_BYTES) await dispatch();
    }
  }
  if (batch.length) await dispatch();
  while (inFlight.length) await drainOne();
  return totals;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
