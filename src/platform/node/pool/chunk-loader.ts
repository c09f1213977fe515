// Where a mounted index's chunks are fetched and verified: on the worker pool,
// one fetch job (jobs.ts FetchJob) per chunk, so that reading a store
// file, decompressing and hashing (SHA-512/256 is ≈350 MB/s per core here) run
// beside the thread that answers the kernel instead of on it.
//
// The job is extraction's: the chunk is taken from a seed first when one holds
// it (a seed file at an offset, or a seed tree's recipe of record bytes and file
// ranges), checked against its id, and otherwise from the stores in order (a
// corrupt copy makes it try the next; remote chunks land in --cache).  The bytes
// come back transferred, not copied.  A chunk no store has, or only corrupt
// copies of, fails the job with the error naming the chunk and the stores.

import {
  FETCH_PLAN_FIELDS,
  Source,
  fileRef,
  type Executor,
  type FetchJob,
  type FetchResult,
  type FileRef,
  type RecipePiece,
} from './jobs.ts';
import type { StoreGraph } from '../../../stores/store-graph.ts';
import type { SeedIndex } from '../seeds/seed-index.ts';
import type { TreeSeedMap } from '../seeds/tree-seed-map.ts';
import type { DigestName } from '../../../chunk/digest.ts';

export interface LoaderSeeds {
  index: SeedIndex;
  /** blob seeds by seed number (holes where a number is a tree) */
  files: readonly (FileRef | undefined)[];
  trees: ReadonlyMap<number, TreeSeedMap>;
}

export interface ChunkLoaderOptions {
  executor: Executor;
  digest: DigestName;
  /** where chunks no seed gives are read */
  stores: StoreGraph;
  seeds?: LoaderSeeds | null;
  /** a store's corrupt copy that another store replaced, and the like */
  onWarning(message: string): void;
}

const NO_FILE: FileRef = { fd: -1, path: '' };

/** A loader for IndexReadAt's `load` option. */
export function poolChunkLoader(o: ChunkLoaderOptions): (i: number, id: Uint8Array, size: number) => Promise<Uint8Array> {
  const seedFiles = o.seeds ? Array.from(o.seeds.files, (f) => (f ? fileRef(f) : NO_FILE)) : [];
  return async (_i, id, size) => {
    const plan = new Float64Array(FETCH_PLAN_FIELDS);
    plan[1] = size;
    plan[2] = Source.Store;
    let recipes: RecipePiece[][] | undefined;
    const seed = o.seeds?.index.get(id);
    if (seed) {
      const tree = o.seeds!.trees.get(seed.seed);
      plan[3] = seed.seed;
      if (tree) {
        plan[2] = Source.Recipe;
        recipes = [tree.recipe(seed.offset, size)];
      } else {
        plan[2] = Source.Seed;
        plan[4] = seed.offset;
      }
    }
    const job: FetchJob = {
      kind: 'fetch',
      ids: id.slice(),
      plan,
      digest: o.digest,
      stores: o.stores,
      seeds: seedFiles,
      out: null,
      holes: false,
      compareOutput: false,
      recipes,
    };
    const r = await o.executor.run<FetchResult>(job);
    for (const w of r.warnings) o.onWarning(w);
    if (!r.data || r.data.length !== size) throw new Error(`fetch job returned ${r.data?.length ?? 'no'} bytes for a chunk of ${size}`);
    return r.data;
  };
}
