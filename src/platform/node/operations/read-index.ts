// readIndex(): a .caibx or .caidx (a path, URL or its bytes), parsed and
// checked whole: its flags and their casync names, chunk sizes, and chunks.

import { toHex } from '../../../chunk/chunk-id.ts';
import type { DigestName } from '../../../chunk/digest.ts';
import { openIndexStream } from '../../../engine/index-stream.ts';
import { CA_FORMAT_WITH_MASK, digestOfFlags } from '../../../format/feature-flags.ts';
import { formatFeatureFlagNames } from '../../../format/feature-flag-names.ts';
import { stripFileUrl } from '../../../stores/locator.ts';
import { indexFromBytes, openIndexLocator } from '../io/index-input.ts';
import { httpClient } from '../storage/node-fetch.ts';

export interface IndexInfo {
  what: 'blob-index' | 'archive-index';
  /** the feature flags, and their casync names */
  flags: bigint;
  features: string;
  digest: DigestName;
  chunkSize: { min: number; avg: number; max: number };
  /** bytes of the blob or archive stream */
  size: number;
  chunks: { id: string; offset: number; size: number }[];
}

export async function readIndex(index: string | Uint8Array): Promise<IndexInfo> {
  const input = typeof index === 'string' ? await openIndexLocator(stripFileUrl(index), httpClient()) : indexFromBytes(index);
  const { header, entries } = await openIndexStream(input.bytes, input.name);
  const chunks: IndexInfo['chunks'] = [];
  for await (const batch of entries) for (const e of batch) chunks.push({ id: toHex(e.id), offset: e.offset, size: e.size });
  const last = chunks[chunks.length - 1];
  return {
    what: header.flags & CA_FORMAT_WITH_MASK ? 'archive-index' : 'blob-index',
    flags: header.flags,
    features: formatFeatureFlagNames(header.flags),
    digest: digestOfFlags(header.flags),
    chunkSize: { min: header.min, avg: header.avg, max: header.max },
    size: last ? last.offset + last.size : 0,
    chunks,
  };
}
