// The seeds of an extraction (--seed, and the existing output unless
// --seed-output=no): each file, block device or (for a tree) directory is
// chunked with the index's parameters, as casync does, and its chunk ids go into
// one SeedIndex; a directory also keeps its TreeSeedMap so chunks can be rebuilt
// from its files.  The persistent seed index (SeedCache) is asked first and
// filled afterwards, so the same seed is chunked only once.

import { closeSync, fstatSync, openSync, statSync } from 'node:fs';
import { CHUNK_ID_SIZE } from '../../../format/constants.ts';
import type { IndexHeader } from '../../../format/index-file.ts';
import type { DigestName } from '../../../chunk/digest.ts';
import { chunkFile } from '../pool/chunk-pipeline.ts';
import type { Executor } from '../pool/jobs.ts';
import { SeedIndex } from './seed-index.ts';
import type { TreeSeedMap } from './tree-seed-map.ts';
import { openBlobInput, type BlobInput } from '../io/blob-file.ts';
import type { LinuxFs } from '../linux/index.ts';
import { SeedCache, treeFingerprint, type ChunkList, type SeedParams } from './seed-cache.ts';
import { indexSeedTree } from './seed-tree.ts';
import { unsupported } from '../../../errors.ts';
import { classifyLocator } from '../../../stores/locator.ts';

/** How a seed was prepared: its chunk list taken from the seed index, or made anew. */
export interface SeedReport {
  path: string;
  chunks: number;
  how: 'seed-index' | 'chunked' | 'encoded';
}

export interface Seeds {
  index: SeedIndex;
  reports: SeedReport[];
  /** blob seeds by seed number (holes where a number is a tree) */
  files: BlobInput[];
  trees: Map<number, TreeSeedMap>;
  /** the seed-index entries used, dropped if the extraction finds them stale */
  keys: string[];
  cache: SeedCache | null;
  close(): void;
}

export interface SeedOptions {
  header: IndexHeader;
  digest: DigestName;
  executor: Executor;
  /** a seed left out (lenient) */
  onWarning?(message: string): void;
  /** a seed being chunked: bytes of it so far (of the file, or of a directory's archive stream), of `total` when known */
  onProgress?(seed: string, done: number, total: number | null): void;
  /** directories allowed (tree extraction), with the Linux adapter to read them */
  trees?: { linux: LinuxFs };
  /** a seed that cannot be read is skipped with a warning (trees) instead of failing */
  lenient?: boolean;
}

export const seedParams = (h: IndexHeader, digest: DigestName, tree: boolean): SeedParams => ({
  min: h.min,
  avg: h.avg,
  max: h.max,
  digest,
  featureFlags: tree ? h.flags : undefined,
});

export async function prepareSeeds(paths: string[], o: SeedOptions): Promise<Seeds> {
  const cache = SeedCache.open();
  const seeds: Seeds = {
    index: new SeedIndex(),
    reports: [],
    files: [],
    trees: new Map(),
    keys: [],
    cache,
    close: () => seeds.files.forEach((f) => f?.close()),
  };
  for (const [number, path] of paths.entries()) {
    try {
      // A seed is read at random offsets, so it is local whatever its name looks like (as in casync).
      if (classifyLocator(path) === 'url') {
        throw unsupported(`${path}: a seed is a local file, block device or directory, not a URL`);
      }
      const isDir = statSync(path, { throwIfNoEntry: false })?.isDirectory();
      if (isDir && !o.trees) throw unsupported(`${path}: directory seeds are not supported for blobs`);
      const list = isDir ? await treeSeed(path, number, seeds, o) : await blobSeed(path, number, seeds, o);
      addList(seeds.index, number, list);
    } catch (e) {
      if (!o.lenient) throw e;
      o.onWarning?.(`seed ${path} not used: ${(e as Error).message}`);
    }
  }
  return seeds;
}

/** After an extraction: drop the entries used if seed chunks no longer matched; true if there were any. */
export function seedsStale(seeds: Seeds): boolean {
  for (const key of seeds.keys) seeds.cache?.forget(key);
  return seeds.keys.length > 0;
}

async function blobSeed(path: string, number: number, seeds: Seeds, o: SeedOptions): Promise<ChunkList> {
  const f = openBlobInput(path);
  seeds.files[number] = f;
  const st = fstatSync(f.fd, { bigint: true });
  const key = seeds.cache?.key('blob', path, seedParams(o.header, o.digest, false));
  const known = key ? seeds.cache!.loadBlob(key, f.fd, f.size, st, o.digest) : null;
  if (key) seeds.keys.push(key);
  if (known) {
    seeds.reports.push({ path, chunks: known.ends.length, how: 'seed-index' });
    return known;
  }
  const list = new ListBuilder();
  await chunkFile({
    input: f, size: f.size, sizes: o.header, digest: o.digest, store: null, compression: 'zstd', executor: o.executor,
    onChunks: (ends, r) => {
      list.add(ends, r.ids);
      if (ends.length) o.onProgress?.(path, ends[ends.length - 1], f.size);
    },
  });
  const done = list.finish()!;
  if (key) seeds.cache!.saveBlob(key, f.size, st, done);
  seeds.reports.push({ path, chunks: done.ends.length, how: 'chunked' });
  return done;
}

async function treeSeed(path: string, number: number, seeds: Seeds, o: SeedOptions): Promise<ChunkList> {
  const key = seeds.cache?.key('tree', path, seedParams(o.header, o.digest, true));
  const known = key ? seeds.cache!.loadTree(key, path) : null;
  if (key) seeds.keys.push(key);
  if (known) {
    seeds.trees.set(number, known.map);
    seeds.reports.push({ path, chunks: known.list.ends.length, how: 'seed-index' });
    return known.list;
  }
  // Taken before encoding: a change while the tree is read makes the entry stale, never wrong.
  const fingerprint = key ? treeFingerprint(path) : '';
  const list = new ListBuilder();
  const map = await indexSeedTree({
    dir: path, featureFlags: o.header.flags, sizes: o.header, digest: o.digest, executor: o.executor, linux: o.trees!.linux,
    onChunks: (ends, ids) => {
      list.add(ends, ids);
      if (ends.length) o.onProgress?.(path, ends[ends.length - 1], null);
    },
  });
  seeds.trees.set(number, map);
  const done = list.finish()!;
  if (key) seeds.cache!.saveTree(key, fingerprint, done, map);
  seeds.reports.push({ path, chunks: done.ends.length, how: 'encoded' });
  return done;
}

/** Records a blob just written (a file or device) in the seed index, so the next update from it chunks nothing. */
export function rememberBlob(seeds: Seeds, path: string, params: SeedParams, list: ChunkList) {
  if (!seeds.cache) return;
  const fd = openSync(path, 'r');
  try {
    const size = list.ends.length ? list.ends[list.ends.length - 1] : 0;
    seeds.cache.saveBlob(seeds.cache.key('blob', path, params), size, fstatSync(fd, { bigint: true }), list);
  } finally {
    closeSync(fd);
  }
}

function addList(index: SeedIndex, seed: number, list: ChunkList) {
  let start = 0;
  for (let i = 0; i < list.ends.length; i++) {
    index.add(list.ids.subarray(i * CHUNK_ID_SIZE, (i + 1) * CHUNK_ID_SIZE), seed, start);
    start = list.ends[i];
  }
}

/** Chunk ends and ids gathered batch by batch; null past `limit` chunks (memory stays bounded). */
export class ListBuilder {
  private ends = new Float64Array(1024);
  private ids = new Uint8Array(1024 * CHUNK_ID_SIZE);
  private n = 0;
  private overflow = false;

  constructor(private readonly limit = Infinity) {}

  add(ends: ArrayLike<number>, ids: Uint8Array) {
    if (this.overflow || this.n + ends.length > this.limit) {
      this.overflow = true;
      return;
    }
    while (this.n + ends.length > this.ends.length) {
      const e = new Float64Array(this.ends.length * 2);
      e.set(this.ends);
      const d = new Uint8Array(this.ids.length * 2);
      d.set(this.ids);
      this.ends = e;
      this.ids = d;
    }
    for (let i = 0; i < ends.length; i++) this.ends[this.n + i] = ends[i];
    this.ids.set(ids.subarray(0, ends.length * CHUNK_ID_SIZE), this.n * CHUNK_ID_SIZE);
    this.n += ends.length;
  }

  finish(): ChunkList | null {
    if (this.overflow) return null;
    return { ends: this.ends.slice(0, this.n), ids: this.ids.slice(0, this.n * CHUNK_ID_SIZE) };
  }
}
