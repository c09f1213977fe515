// `make X.caibx FILE`: chunks a blob into a store and writes its index.  Besides
// the chunk ids, casync prints a digest of the whole blob.  One runner (the
// calling thread's, see executors.ts) reads each segment of the blob once,
// scans it for cut candidates and feeds it to that digest, while the worker
// threads digest, compress and store the chunks.

import { CA_FORMAT_BLOB_DEFAULT, CA_FORMAT_SHA512_256 } from '../../../format/feature-flags.ts';
import { encodeIndexItems, encodeIndexPreamble, encodeIndexTail } from '../../../format/index-file.ts';
import type { DigestName } from '../../../chunk/digest.ts';
import { chunkFile, type ChunkPipelineOptions, type ChunkTotals } from './chunk-pipeline.ts';
import type { Executor, FileRef } from './jobs.ts';

export interface MakeBlobOptions extends Omit<ChunkPipelineOptions, 'onChunks' | 'input' | 'digestExecutor'> {
  input: FileRef;
  size: number;
  /** Runs the whole-blob digest; jobs sent to it must run in order. */
  digestExecutor: Executor;
  writeIndex(bytes: Uint8Array): void | Promise<void>;
}

export interface MakeBlobResult extends ChunkTotals {
  digest: Uint8Array;
  size: number;
}

/** Feature flags of a blob index: no "with" bits, as casync writes them. */
export const blobIndexFlags = (digest: DigestName): bigint =>
  digest === 'sha256' ? CA_FORMAT_BLOB_DEFAULT & ~CA_FORMAT_SHA512_256 : CA_FORMAT_BLOB_DEFAULT;

export async function makeBlob(o: MakeBlobOptions): Promise<MakeBlobResult> {
  await o.writeIndex(encodeIndexPreamble({ flags: blobIndexFlags(o.digest), ...o.sizes }));
  const totals = await chunkFile({
    ...o,
    // The digest's runner scans too, and so reads each segment once for both.
    scanExecutor: o.digestExecutor,
    onChunks: (ends, r) => o.writeIndex(encodeIndexItems(ends, r.ids)),
  });
  await o.writeIndex(encodeIndexTail(totals.chunks));
  return { ...totals, digest: totals.digest!, size: o.size };
}
