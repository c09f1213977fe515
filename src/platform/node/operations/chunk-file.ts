// chunk(): a file or block device cut into chunks as `make` would cut it, with
// the same chunk sizes and digest, but nothing compressed or stored: each
// chunk's start, size and id, in order (desync's `chunk`).  It runs make's own
// pipeline, only without a store, so the ids are those `make` (and casync)
// would write into the index.

import { toHex } from '../../../chunk/chunk-id.ts';
import { usageError } from '../../../errors.ts';
import { CHUNK_ID_SIZE } from '../../../format/constants.ts';
import { stripFileUrl } from '../../../stores/locator.ts';
import { openBlobInput } from '../io/blob-file.ts';
import { chunkFile } from '../pool/chunk-pipeline.ts';
import { Executors } from '../pool/executors.ts';
import { checkAborted, chunkSizes, digestName, type ChunkSizes, type DigestName, type OperationOptions } from './common.ts';

export interface ChunkEntry {
  /** byte offset of the chunk in the file */
  offset: number;
  size: number;
  /** the chunk id, 64 hex digits */
  id: string;
}

export interface ChunkOptions extends Pick<OperationOptions, 'workers' | 'signal'> {
  /** a regular file or block device */
  file: string;
  /** `[MIN:]AVG[:MAX]` with suffixes, or the three sizes (default 16K:64K:256K, as make) */
  chunkSize?: string | ChunkSizes;
  digest?: DigestName;
  /**
   * Each batch of chunks, in file order, as soon as it is known; without it
   * the result carries the whole list.
   */
  onChunks?(chunks: ChunkEntry[]): void | Promise<void>;
}

export interface ChunkResult {
  /** bytes chunked, and the number of chunks */
  size: number;
  count: number;
  sizes: ChunkSizes;
  digest: DigestName;
  /** the chunks, when no onChunks was given */
  chunks?: ChunkEntry[];
}

/** The chunks `make` would cut `file` into, without storing them. */
export async function chunk(o: ChunkOptions): Promise<ChunkResult> {
  if (typeof o?.file !== 'string') throw usageError('chunk: `file` (a file or block device) is required');
  checkAborted(o.signal);
  const sizes = chunkSizes(o.chunkSize);
  const digest = digestName(o.digest);
  const input = openBlobInput(stripFileUrl(o.file));
  const executors = new Executors(input.size, o.workers);
  const kept: ChunkEntry[] | undefined = o.onChunks ? undefined : [];
  let start = 0;
  let count = 0;
  try {
    await chunkFile({
      input,
      size: input.size,
      sizes,
      digest,
      store: null,
      compression: 'zstd',
      executor: executors.chunks,
      onChunks: async (ends, r) => {
        checkAborted(o.signal);
        const batch: ChunkEntry[] = ends.map((end, i) => {
          const e = { offset: start, size: end - start, id: toHex(r.ids.subarray(i * CHUNK_ID_SIZE, (i + 1) * CHUNK_ID_SIZE)) };
          start = end;
          return e;
        });
        count += batch.length;
        if (kept) kept.push(...batch);
        else await o.onChunks!(batch);
      },
    });
  } finally {
    await executors.close();
    input.close();
  }
  return { size: input.size, count, sizes, digest, chunks: kept };
}
