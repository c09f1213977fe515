// `make X.caibx FILE`: chunks a blob into a store and writes its index.  Besides
// the chunk ids, casync prints a digest of the whole blob; that digest is one
// sequential pass, fed segment by segment to its own executor (a dedicated
// thread) while the chunk pipeline runs on the others.

import { CA_FORMAT_BLOB_DEFAULT, CA_FORMAT_SHA512_256 } from '../format/feature-flags.ts';
import { encodeIndexItems, encodeIndexPreamble, encodeIndexTail } from '../format/index-file.ts';
import type { DigestName } from '../digest.ts';
import { chunkBlob, handled, type ChunkBlobOptions, type ChunkBlobTotals } from './chunk-blob.ts';
import { fileRef, type Executor } from './jobs.ts';

export interface MakeBlobOptions extends Omit<ChunkBlobOptions, 'onChunks' | 'onSegment'> {
  /** Runs the whole-blob digest; jobs sent to it must run in order. */
  digestExecutor: Executor;
  writeIndex(bytes: Uint8Array): void | Promise<void>;
}

export interface MakeBlobResult extends ChunkBlobTotals {
  digest: Uint8Array;
  size: number;
}

/** Feature flags of a blob index: no "with" bits, as casync writes them. */
export const blobIndexFlags = (digest: DigestName): bigint =>
  digest === 'sha256' ? CA_FORMAT_BLOB_DEFAULT & ~CA_FORMAT_SHA512_256 : CA_FORMAT_BLOB_DEFAULT;

export async function makeBlob(o: MakeBlobOptions): Promise<MakeBlobResult> {
  await o.writeIndex(
    encodeIndexPreamble({ flags: blobIndexFlags(o.digest), ...o.sizes }),
  );
  const input = fileRef(o.input);
  const digestJob = (start: number, end: number, final: boolean) =>
    handled(o.digestExecutor.run<Uint8Array | null>({ kind: 'digest', input, start, end, digest: o.digest, final }));
  const partial: Promise<unknown>[] = [];
  const totals = await chunkBlob({
    ...o,
    onSegment: (start, end) => {
      partial.push(digestJob(start, end, false));
    },
    onChunks: (ends, r) => o.writeIndex(encodeIndexItems(ends, r.ids)),
  });
  await Promise.all(partial);
  const digest = (await digestJob(o.size, o.size, true)) as Uint8Array;
  await o.writeIndex(encodeIndexTail(totals.chunks));
  return { ...totals, digest, size: o.size };
}
