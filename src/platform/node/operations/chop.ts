// chop(): the chunks an index lists, cut from the file they were made of and
// put into a store (desync's `chop`): a store filled again from a local copy
// of the image without chunking anything.  The file's bytes at each chunk's
// offset must hash to that chunk's id; the first that does not stops chop,
// naming the offset and the chunk.  Each batch of chunks is hashed first and
// stored only once all of its ids match, on the worker threads, so whatever
// chop leaves in the store is a chunk the index names.

import { toHex } from '../../../chunk/chunk-id.ts';
import { openIndexStream } from '../../../engine/index-stream.ts';
import { ChunkTableBuilder } from '../../../engine/random-access.ts';
import { WasyncError, usageError } from '../../../errors.ts';
import { CHUNK_ID_SIZE } from '../../../format/constants.ts';
import { digestOfFlags } from '../../../format/feature-flags.ts';
import { stripFileUrl } from '../../../stores/locator.ts';
import { openBlobInput } from '../io/blob-file.ts';
import { indexFromBytes, openIndexLocator } from '../io/index-input.ts';
import { handled } from '../pool/chunk-pipeline.ts';
import { Executors } from '../pool/executors.ts';
import { fileRef, type ChunkResult } from '../pool/jobs.ts';
import { checkAborted, compressionName, type Compression, type OperationOptions } from './common.ts';
import { Network, type NetworkOptions } from './network.ts';
import { OperationStores, type StoreChoice, type StoreLike } from './stores.ts';

/** Input bytes per job. */
const BATCH_BYTES = 4 << 20;

export interface ChopOptions extends NetworkOptions, Pick<StoreChoice, 'encryption'>, Pick<OperationOptions, 'workers' | 'signal' | 'onProgress'> {
  /** a .caibx or .caidx: a path, URL, or its bytes */
  index: string | Uint8Array;
  /** the file (or block device) the index was made of: a blob, or a .catar for an archive index */
  file: string;
  /** where the chunks go; default default.castr beside the index */
  store?: StoreLike;
  compression?: Compression;
}

export interface ChopResult {
  /** chunks in the index, and bytes of the file they cover */
  chunks: number;
  size: number;
  /** chunks the store did not have yet, and their stored bytes */
  stored: number;
  storedBytes: number;
  store: string;
}

export async function chop(o: ChopOptions): Promise<ChopResult> {
  if (typeof o?.index !== 'string' && !(o?.index instanceof Uint8Array)) throw usageError('chop: `index` (a path, URL or the bytes of an index) is required');
  if (typeof o.file !== 'string') throw usageError('chop: `file` (what the index was made of) is required');
  checkAborted(o.signal);
  const compression = compressionName(o.compression);
  const loc = typeof o.index === 'string' ? stripFileUrl(o.index) : null;
  const net = new Network(o);
  const stores = new OperationStores(net);
  let executors: Executors | null = null;
  let closeInput = () => {};
  try {
    const store = stores.writing(o.store, loc, o.encryption);
    const index = loc === null ? indexFromBytes(o.index as Uint8Array) : await openIndexLocator(loc, net.client);
    const { header, entries } = await openIndexStream(index.bytes, index.name);
    const digest = digestOfFlags(header.flags);
    const tb = new ChunkTableBuilder();
    for await (const batch of entries) tb.add(batch);
    const t = tb.finish();
    const path = stripFileUrl(o.file);
    const input = openBlobInput(path);
    closeInput = () => input.close();
    if (input.size < t.size || (input.size > t.size && !input.isBlockDevice)) {
      const beyond = input.size < t.size ? `; chunk ${toHex(t.id(t.find(input.size)))} at offset ${t.start(t.find(input.size))} runs past its end` : '';
      throw new WasyncError('EINPUT', `${input.path}: ${input.size} bytes, but ${index.name} describes ${t.size}${beyond}`);
    }
    const ex = (executors = new Executors(t.size, o.workers));
    const pool = ex.chunks;
    const graph = stores.graph(store, pool.parallelism);
    const file = fileRef(input);
    let stored = 0;
    let storedBytes = 0;
    let done = 0;
    /** Chunks [from, to): hashed and compared, then stored. */
    const run = async (from: number, to: number) => {
      const pairs = new Float64Array(2 * (to - from));
      for (let i = from; i < to; i++) {
        pairs[2 * (i - from)] = t.start(i);
        pairs[2 * (i - from) + 1] = t.end(i) - t.start(i);
      }
      const job = { kind: 'chunks', input: file, chunks: pairs, digest, compression } as const;
      const hashed = await pool.run<ChunkResult>({ ...job, chunks: pairs.slice(), store: null });
      for (let i = from; i < to; i++) {
        const got = hashed.ids.subarray((i - from) * CHUNK_ID_SIZE, (i - from + 1) * CHUNK_ID_SIZE);
        if (toHex(got) !== toHex(t.id(i))) {
          throw new WasyncError('EINPUT', `${input.path}: the ${t.end(i) - t.start(i)} bytes at offset ${t.start(i)} are not chunk ${toHex(t.id(i))} (chunk ${i} of ${index.name}): they hash to ${toHex(got)}`);
        }
      }
      const r = await pool.run<ChunkResult>({ ...job, store: graph });
      stored += r.stored;
      storedBytes += r.storedBytes;
      done += t.end(to - 1) - t.start(from);
      o.onProgress?.({ done, total: t.size });
    };
    const jobs = new Set<Promise<void>>();
    for (let from = 0; from < t.count; ) {
      while (jobs.size >= 2 * pool.parallelism) await Promise.race(jobs);
      checkAborted(o.signal);
      let to = from + 1;
      while (to < t.count && t.end(to) - t.start(from) <= BATCH_BYTES) to++;
      const job: Promise<void> = handled(run(from, to).finally(() => jobs.delete(job)));
      jobs.add(job);
      from = to;
    }
    await Promise.all(jobs);
    return { chunks: t.count, size: t.size, stored, storedBytes, store: store.name };
  } finally {
    await executors?.close();
    closeInput();
    stores.close();
    await net.close();
  }
}
