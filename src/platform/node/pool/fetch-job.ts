// The fetch job (jobs.ts FetchJob) on Node: each chunk of a batch is taken from
// what the plan says first (known zeros, a seed file, a seed tree's recipe),
// checked against its id, and otherwise read from the job's stores, which
// check every copy (store-graph.ts).  Output goes to its offset in the target,
// or into one buffer returned in order.
//
// When the stores include remote ones, the store reads start as soon as the
// job arrives (prefetch), before the thread is free to assemble it, so the next
// batches' requests are in flight while this one is written; the assembling
// itself runs one job at a time (JobRunner), because it shares this thread's
// buffers.

import { closeSync, constants, openSync, readSync } from 'node:fs';
import { toHex } from '../../../chunk/chunk-id.ts';
import type { DigestName } from '../../../chunk/digest.ts';
import { chunkMissing } from '../../../errors.ts';
import { CHUNK_ID_SIZE } from '../../../format/constants.ts';
import type { BuiltStores, StoreGraph } from '../../../stores/store-graph.ts';
import { absentOf, type ChunkRead } from '../../../stores/store.ts';
import {
  FETCH_PLAN_FIELDS,
  Source,
  type FetchJob,
  type FetchResult,
  type FileRef,
  type Origin,
  type RecipePiece,
} from './jobs.ts';
import type { NodeChunks } from '../storage/node-check.ts';
import { readFully, writeFully } from '../io/file-io.ts';
import { JobTally, type ChunkSource } from './progress-counter.ts';
import { linuxFs } from '../linux/index.ts';
import { SeedCloner } from './seed-clones.ts';

export type Prefetched = Map<number, Promise<ChunkRead | null>>;

const SOURCE_STATS: Record<'store' | 'cache' | 'remote', ChunkSource> = {
  store: ['fromStore', 'fromStoreBytes'],
  cache: ['fromCache', 'fromCacheBytes'],
  remote: ['fromRemote', 'fromRemoteBytes'],
};
const UNCHANGED: ChunkSource = ['unchanged', 'unchangedBytes'];
const ZERO: ChunkSource = ['zero', 'zeroBytes'];
const SEED: ChunkSource = ['fromSeed', 'fromSeedBytes'];

export class FetchRunner {
  private buf = Buffer.alloc(0);
  /** where store chunks are decoded: each is written out before the next is read */
  private plain = Buffer.alloc(0);

  constructor(
    private readonly check: NodeChunks,
    private readonly storesOf: (graph: StoreGraph, digest: DigestName) => BuiltStores,
  ) {}

  /** Starts reading the job's store chunks when the stores include remote ones. */
  prefetch(job: FetchJob): Prefetched {
    const early: Prefetched = new Map();
    const stores = this.storesOf(job.stores, job.digest);
    // On a block device most chunks are usually right already: look first.
    if (job.compareOutput || !stores.remote) return early;
    const n = job.ids.length / CHUNK_ID_SIZE;
    for (let i = 0; i < n; i++) {
      const p = i * FETCH_PLAN_FIELDS;
      if (job.plan[p + 2] !== Source.Store) continue;
      const read = stores.source.read(toHex(job.ids.subarray(i * CHUNK_ID_SIZE, (i + 1) * CHUNK_ID_SIZE)), job.plan[p + 1]);
      read.catch(() => {}); // run() reports it
      early.set(i, read);
    }
    return early;
  }

  async run(job: FetchJob, early: Prefetched): Promise<FetchResult> {
    // Counted per chunk as it is written, so that progress moves while the job runs.
    const tally = new JobTally(job.progress);
    const stores = this.storesOf(job.stores, job.digest);
    const warnings: string[] = [];
    const origins: Origin[] = [];
    const n = job.ids.length / CHUNK_ID_SIZE;
    let total = 0;
    for (let i = 0; i < n; i++) total += job.plan[i * FETCH_PLAN_FIELDS + 1];
    // The caller's shared memory when it gives enough, else an ArrayBuffer of its
    // own (not pooled), so it can be transferred; every byte gets written.
    const collected = job.out ? null : job.into && job.into.byteLength >= total ? new Uint8Array(job.into, 0, total) : Buffer.allocUnsafeSlow(total);
    let collectedAt = 0;
    const linux = job.out && job.cloneSeeds?.includes(true) ? linuxFs() : null;
    const last = n ? job.plan[(n - 1) * FETCH_PLAN_FIELDS] + job.plan[(n - 1) * FETCH_PLAN_FIELDS + 1] : 0;
    const cloner = linux ? new SeedCloner(linux, job.out!, job.seeds, job.cloneSeeds!, job.last ? last : Infinity) : null;
    for (let i = 0; i < n; i++) {
      const p = i * FETCH_PLAN_FIELDS;
      const plan = job.plan;
      const offset = plan[p];
      const size = plan[p + 1];
      const source = plan[p + 2];
      const seedNo = plan[p + 3];
      const seedOffset = plan[p + 4];
      const id = job.ids.subarray(i * CHUNK_ID_SIZE, (i + 1) * CHUNK_ID_SIZE);
      let data: Uint8Array | null = null;
      let from: ChunkSource | null = null;
      if (job.out && job.compareOutput && this.check.matches(job.digest, id, this.read(job.out, offset, size))) {
        tally.chunk(size, UNCHANGED);
        continue;
      }
      if (source === Source.Zero) {
        if (job.out && job.holes) {
          cloner?.other();
          tally.chunk(size, ZERO);
          continue;
        }
        data = this.check.zeroBytes(size);
        from = ZERO;
      } else if (source === Source.Seed || source === Source.Recipe) {
        const candidate =
          source === Source.Seed ? this.read(job.seeds[seedNo], seedOffset, size) : this.rebuild(job.recipes![seedOffset], size);
        if (candidate && this.check.matches(job.digest, id, candidate)) {
          data = candidate;
          from = SEED;
          if (source === Source.Recipe) addOrigins(origins, job.recipes![seedOffset], offset);
          else if (cloner) {
            cloner.seedChunk(data, offset, seedNo, seedOffset);
            tally.chunk(size, SEED);
            continue;
          }
        } else tally.seedMiss();
      }
      cloner?.other();
      if (!data) {
        const hex = toHex(id);
        // Decoded straight into place when the bytes are collected.
        const got = await (early.get(i) ?? stores.source.read(hex, size, collected ? collected.subarray(collectedAt, collectedAt + size) : this.scratch(size)));
        if (!got) throw chunkMissing(hex, [stores.source.name], absentOf(stores.source));
        data = got.data;
        from = SOURCE_STATS[stores.kindOf(got.store)];
      }
      if (collected) {
        if (data.buffer !== collected.buffer || data.byteOffset !== collected.byteOffset + collectedAt) collected.set(data, collectedAt);
        collectedAt += size;
      } else {
        writeFully(job.out as FileRef, data, offset);
      }
      tally.chunk(size, from!);
    }
    return { stats: tally.stats, data: collected, warnings, origins, clones: cloner?.finish() };
  }

  private read(f: FileRef, pos: number, len: number): Uint8Array {
    this.grow(len);
    readFully(f, this.buf, 0, len, pos);
    return this.buf.subarray(0, len);
  }

  private scratch(len: number): Uint8Array {
    if (this.plain.length < len) this.plain = Buffer.allocUnsafe(Math.max(len, 1 << 20));
    return this.plain;
  }

  private grow(len: number) {
    if (this.buf.length < len) this.buf = Buffer.allocUnsafe(Math.max(len, 1 << 20));
  }

  /** A chunk from a seed tree's pieces; null if a file is gone or shorter now. */
  private rebuild(pieces: RecipePiece[], size: number): Uint8Array | null {
    this.grow(size);
    let at = 0;
    for (const p of pieces) {
      if ('bytes' in p) {
        this.buf.set(p.bytes, at);
        at += p.bytes.length;
        continue;
      }
      let fd: number;
      try {
        fd = openSync(Buffer.from(p.path.buffer, p.path.byteOffset, p.path.length), constants.O_RDONLY | constants.O_NOFOLLOW);
      } catch {
        return null;
      }
      try {
        for (let done = 0; done < p.length; ) {
          const n = readSync(fd, this.buf, at + done, p.length - done, p.offset + done);
          if (n === 0) return null;
          done += n;
        }
      } catch {
        return null;
      } finally {
        closeSync(fd);
      }
      at += p.length;
    }
    return at === size ? this.buf.subarray(0, size) : null;
  }
}

/** The file pieces of a recipe used for the chunk at stream offset `at`. */
function addOrigins(origins: Origin[], pieces: RecipePiece[], at: number) {
  for (const p of pieces) {
    if ('path' in p) origins.push({ offset: at, length: p.length, path: p.path, fileOffset: p.offset });
    at += 'bytes' in p ? p.bytes.length : p.length;
  }
}
