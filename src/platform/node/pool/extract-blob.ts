// `extract X.caibx OUT`: reassembles a blob from seeds and stores.  The index is
// read as a stream; its entries are planned in batches (zero chunk, seed location
// or store) and handed to fetch jobs, which verify every chunk against its id and
// write it at its offset, or clone it from its seed file (seed-clones.ts).  With
// no output descriptor the bytes come back in order through onData (stdout,
// digests).

import { CHUNK_ID_SIZE } from '../../../format/constants.ts';
import type { IndexEntry } from '../../../format/index-file.ts';
import type { DigestName } from '../../../chunk/digest.ts';
import { handled } from './chunk-pipeline.ts';
import { isFile, stitchSeam, type SeedRun } from './seed-clones.ts';
import type { LinuxFs } from '../linux/index.ts';
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
/** Shared memory a job collects its bytes into (reuseData): a batch and its last chunk, most often. */
const SPACE_BYTES = BATCH_BYTES + (1 << 20);

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
  /** with `out` (a regular file): seed data is cloned (FICLONERANGE) where the file systems can */
  reflink?: LinuxFs | null;
  /** with `out` (a block device): chunks already there are not rewritten */
  compareOutput?: boolean;
  /** Ids of all-zero chunks, by size; those chunks are never fetched.  None: all are. */
  zeroIds?: Map<number, Uint8Array>;
  executor: Executor;
  /** the bytes in order, with where seed-tree parts of them came from */
  onData?(bytes: Uint8Array, origins: Origin[]): void | Promise<void>;
  /**
   * onData is done with the bytes once it returns (or its promise settles): the
   * jobs then collect into a few pieces of shared memory, reused, instead of a
   * fresh buffer each (page faults, and the collections external memory brings)
   */
  reuseData?: boolean;
  /** batches fetched ahead per worker thread (4 unless told): each holds up to 5 MiB until onData takes it */
  depthPerThread?: number;
  onWarning?(message: string): void;
  /** progress-counter.ts: the bytes written and where they came from, bumped by the jobs per chunk */
  progress?: SharedArrayBuffer;
}

export interface ExtractBlobResult extends FetchStats {
  size: number;
  chunks: number;
  /** with `reflink`: bytes cloned from seed files rather than written */
  clonedBytes: number;
}

export async function extractBlob(o: ExtractBlobOptions): Promise<ExtractBlobResult> {
  const totals: ExtractBlobResult = { ...emptyFetchStats(), size: 0, chunks: 0, clonedBytes: 0 };
  const depth = (o.depthPerThread ?? 4) * o.executor.parallelism;
  const seedFiles = o.seedFiles ?? [];
  const seeds = seedFiles.map(fileRef);
  const out = o.out ? fileRef(o.out) : null;
  const linux = out && o.reflink;
  // Only regular files: on a device the same ioctl number means something else.
  const cloneSeeds = linux ? Array.from(seedFiles, (f) => !!f && isFile(linux, f.fd)) : null;
  /** the run the last job drained ended with, its start as far back as the run goes */
  let tail: SeedRun | null = null;
  const inFlight: Promise<FetchResult>[] = [];
  let batch: IndexEntry[] = [];
  let batchBytes = 0;
  const spaces: SharedArrayBuffer[] = [];
  const space = (n: number) => {
    const s = spaces.pop();
    return s && s.byteLength >= n ? s : new SharedArrayBuffer(Math.max(n, SPACE_BYTES));
  };

  const stitch = (r: FetchResult) => {
    const c = r.clones;
    if (!c || !linux || !out || !cloneSeeds) return void (tail = null);
    totals.clonedBytes += c.bytes;
    for (const s of c.refused) cloneSeeds[s] = false;
    const head = c.head;
    const joined = tail && head && tail.seed === head.seed && tail.end === head.start && tail.delta === head.delta;
    if (joined && cloneSeeds[head.seed]) {
      const got = stitchSeam(linux, out, seeds[head.seed], tail!, head);
      if (got < 0) cloneSeeds[head.seed] = false;
      else totals.clonedBytes += got;
    }
    tail = joined && c.tail && c.tail.start === head.start ? { ...c.tail, start: tail!.start } : c.tail;
  };

  const drainOne = async () => {
    const r = await inFlight.shift()!;
    for (const k of Object.keys(r.stats) as (keyof FetchStats)[]) totals[k] += r.stats[k];
    stitch(r);
    for (const w of r.warnings) o.onWarning?.(w);
    if (r.data) await o.onData?.(r.data, r.origins);
    if (r.data?.buffer instanceof SharedArrayBuffer) spaces.push(r.data.buffer);
  };

  const dispatch = async (last: boolean) => {
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
          cloneSeeds: cloneSeeds ? [...cloneSeeds] : undefined,
          last,
          into: o.reuseData && !out ? space(batchBytes) : undefined,
        }),
      ),
    );
    batch = [];
    batchBytes = 0;
    while (inFlight.length > depth) await drainOne();
  };

  for await (const entries of o.entries) {
    for (const e of entries) {
      // A full batch goes once the next entry shows it is not the last (the last may clone to the end).
      if (batchBytes >= BATCH_BYTES) await dispatch(false);
      batch.push(e);
      batchBytes += e.size;
      totals.chunks++;
      totals.size = e.offset + e.size;
    }
  }
  if (batch.length) await dispatch(true);
  while (inFlight.length) await drainOne();
  return totals;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
