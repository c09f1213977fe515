// The options wasync shares with casync, parsed and checked with messages that
// name the option and the bad value.

import { usageError } from '../errors.ts';
import { DEFAULT_CHUNK_SIZES, parseChunkSizeOption, type ChunkSizes } from '../chunker/sizes.ts';
import { COMPRESSIONS, type Compression } from '../chunk/compression.ts';
import { DIGESTS, type DigestName } from '../chunk/digest.ts';

export interface GlobalOptions {
  verbose?: boolean;
  dryRun?: boolean;
  store?: string;
  extraStore?: string[];
  seed?: string[];
  seedOutput?: string;
  chunkSize?: string;
  digest?: string;
  compression?: string;
  what?: string;
  with?: string[];
  without?: string[];
  excludeNodump?: string;
  excludeSubmounts?: string;
  excludeFile?: string;
  delete?: string;
  undoImmutable?: string;
  punchHoles?: string;
  uidShift?: string;
  uidRange?: string;
  reflink?: string;
  hardlink?: string;
  concurrency?: string;
  rateLimitBps?: string;
  cache?: string;
  token?: string;
  progress?: string;
}

export type What = 'archive' | 'archive-index' | 'blob' | 'blob-index' | 'directory';
const WHATS: readonly What[] = ['archive', 'archive-index', 'blob', 'blob-index', 'directory'];

export function parseWhat(v: string | undefined): What | null {
  if (v === undefined) return null;
  if (!WHATS.includes(v as What)) {
    throw usageError(`--what=${v}: not one of ${WHATS.join(', ')}`);
  }
  return v as What;
}

export function parseYesNo(name: string, v: string | undefined, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (/^(yes|y|true|t|on|1)$/i.test(v)) return true;
  if (/^(no|n|false|f|off|0)$/i.test(v)) return false;
  throw usageError(`--${name}=${v}: expected yes or no`);
}

export function parseDigest(v: string | undefined): DigestName {
  if (v === undefined || v === 'default') return 'sha512-256';
  if (!DIGESTS.includes(v as DigestName)) throw usageError(`--digest=${v}: not one of ${DIGESTS.join(', ')}`);
  return v as DigestName;
}

export function parseCompression(v: string | undefined): Compression {
  if (v === undefined || v === 'default') return 'zstd';
  if (!COMPRESSIONS.includes(v as Compression)) {
    throw usageError(`--compression=${v}: not one of ${COMPRESSIONS.join(', ')}`);
  }
  return v as Compression;
}

export function parseChunkSizes(v: string | undefined): ChunkSizes {
  return v === undefined ? DEFAULT_CHUNK_SIZES : parseChunkSizeOption(v);
}
