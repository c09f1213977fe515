// Chunk size parameters: casync's --chunk-size syntax, its derivation of min and
// max from an average, its limits, and the discriminator (casync-format.md §1.2,
// §1.3).

import {
  CA_CHUNK_SIZE_DEFAULT,
  CA_CHUNK_SIZE_LIMIT_MAX,
  CA_CHUNK_SIZE_LIMIT_MIN,
} from '../format/constants.ts';
import { usageError } from '../errors.ts';
import { WINDOW_SIZE } from '../generated/core-constants.ts';
import { parseSize } from '../format/units.ts';

export interface ChunkSizes {
  min: number;
  avg: number;
  max: number;
}

/** The buzhash window (48 bytes), the core's WINDOW_SIZE. */
export const BUZHASH_WINDOW = WINDOW_SIZE;

export const DEFAULT_CHUNK_SIZES: ChunkSizes = deriveChunkSizes(CA_CHUNK_SIZE_DEFAULT);

/** min = avg/4 (at least 1), max = avg*4 (at most 128 MiB), as casync derives them. */
export function deriveChunkSizes(avg: number): ChunkSizes {
  return {
    min: Math.max(Math.floor(avg / 4), CA_CHUNK_SIZE_LIMIT_MIN),
    avg,
    max: Math.min(avg * 4, CA_CHUNK_SIZE_LIMIT_MAX),
  };
}

export const isFixedSize = (s: ChunkSizes) => s.min === s.avg && s.avg === s.max;

/**
 * casync's discriminator, computed in IEEE double exactly as its C does, truncated,
 * then clamped into [min, max].  Past avg ≈ 9.32 MiB the denominator is negative;
 * casync's cast then yields a huge value, i.e. max after clamping.
 */
export function discriminator(s: ChunkSizes): number {
  const d = s.avg / (-1.42888852e-7 * s.avg + 1.33237515);
  if (!(d >= 0) || d > s.max) return s.max;
  return Math.max(s.min, Math.trunc(d));
}

/**
 * Parses --chunk-size=[MIN:]AVG[:MAX] with casync's rules and messages: either one
 * average, or all three values.  Returns the effective sizes.
 */
export function parseChunkSizeOption(v: string): ChunkSizes {
  const parts = v.split(':');
  const num = (p: string, what: string) => {
    const n = parseSize(p);
    if (n === null) throw usageError(`--chunk-size=${v}: can't parse ${what} chunk size '${p}'`);
    return n;
  };
  if (parts.length === 1) {
    const avg = num(parts[0], 'average');
    if (avg < CA_CHUNK_SIZE_LIMIT_MIN) {
      throw usageError(`--chunk-size=${v}: average chunk size must be >= ${CA_CHUNK_SIZE_LIMIT_MIN}`);
    }
    if (avg > CA_CHUNK_SIZE_LIMIT_MAX) {
      throw usageError(`--chunk-size=${v}: average chunk size must be <= ${CA_CHUNK_SIZE_LIMIT_MAX}`);
    }
    return checkWindow(deriveChunkSizes(avg), v);
  }
  if (parts.length !== 3) {
    throw usageError(
      `--chunk-size=${v}: give either a single average chunk size or a triplet MIN:AVG:MAX`,
    );
  }
  const min = num(parts[0], 'minimum');
  if (min < CA_CHUNK_SIZE_LIMIT_MIN) {
    throw usageError(`--chunk-size=${v}: minimum chunk size must be >= ${CA_CHUNK_SIZE_LIMIT_MIN}`);
  }
  const avg = num(parts[1], 'average');
  if (avg < min) throw usageError(`--chunk-size=${v}: average chunk size must not be below the minimum`);
  const max = num(parts[2], 'maximum');
  if (max < avg) throw usageError(`--chunk-size=${v}: maximum chunk size must not be below the average`);
  if (max > CA_CHUNK_SIZE_LIMIT_MAX) {
    throw usageError(`--chunk-size=${v}: maximum chunk size must be <= ${CA_CHUNK_SIZE_LIMIT_MAX}`);
  }
  return checkWindow({ min, avg, max }, v);
}

/**
 * With max below the 48-byte window (and not fixed-size) no cut could ever be
 * tested; casync fails with EINVAL at make time.  Say why up front instead.
 */
function checkWindow(s: ChunkSizes, v: string): ChunkSizes {
  if (s.max < BUZHASH_WINDOW && !isFixedSize(s)) {
    throw usageError(
      `--chunk-size=${v}: maximum chunk size ${s.max} is below the ${BUZHASH_WINDOW}-byte hash window; ` +
        'use MIN:AVG:MAX with all three equal for fixed-size chunks',
    );
  }
  return s;
}
