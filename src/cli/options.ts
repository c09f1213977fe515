// The options wasync shares with casync, turned from strings into the typed
// values the operations take, with messages that name the option and the bad
// value.  The environment is read here, and only here: $CASYNC_STORE for the
// store, $WASYNC_TOKEN for the bearer token.

import { usageError } from '../errors.ts';
import { COMPRESSIONS, type Compression } from '../chunk/compression.ts';
import { DIGESTS, type DigestName } from '../chunk/digest.ts';
import type { FeatureOptions } from '../platform/node/operations/common.ts';
import type { NetworkOptions } from '../platform/node/operations/network.ts';
import type { StoreChoice } from '../platform/node/operations/stores.ts';
import type { UidShift } from '../platform/node/tree/apply-metadata.ts';

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
  cacheAuto?: boolean;
  token?: string;
  progress?: string;
  recursive?: string;
  listen?: string;
  writable?: boolean;
}

export function parseYesNo(name: string, v: string | undefined, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (/^(yes|y|true|t|on|1)$/i.test(v)) return true;
  if (/^(no|n|false|f|off|0)$/i.test(v)) return false;
  throw usageError(`--${name}=${v}: expected yes or no`);
}

/** An option that is yes or no, as the operations take it: undefined when not given. */
const yesNo = (name: string, v: string | undefined) => (v === undefined ? undefined : parseYesNo(name, v, false));

export function parseDigest(v: string | undefined): DigestName | undefined {
  if (v === undefined || v === 'default') return undefined;
  if (!DIGESTS.includes(v as DigestName)) throw usageError(`--digest=${v}: not one of ${DIGESTS.join(', ')}`);
  return v as DigestName;
}

export function parseCompression(v: string | undefined): Compression | undefined {
  if (v === undefined || v === 'default') return undefined;
  if (!COMPRESSIONS.includes(v as Compression)) throw usageError(`--compression=${v}: not one of ${COMPRESSIONS.join(', ')}`);
  return v as Compression;
}

function positive(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = /^\d+$/.test(v) ? Number(v) : NaN;
  if (!(n >= 1 && Number.isSafeInteger(n))) throw usageError(`--${name}=${v}: expected a positive whole number`);
  return n;
}

/** --concurrency, --rate-limit-bps, --token (default $WASYNC_TOKEN); -v passes on what ssh peers say. */
export const network = (o: GlobalOptions): NetworkOptions => ({
  concurrency: positive('concurrency', o.concurrency),
  rateLimitBps: positive('rate-limit-bps', o.rateLimitBps),
  token: o.token ?? process.env.WASYNC_TOKEN,
  verbose: !!o.verbose,
});

/** --store (default $CASYNC_STORE), --extra-store, --cache. */
export const storeChoice = (o: GlobalOptions): StoreChoice => ({
  store: o.store ?? (process.env.CASYNC_STORE || undefined),
  extraStores: o.extraStore,
  cache: o.cache,
});

/** --with, --without and the exclusion options. */
export const features = (o: GlobalOptions): FeatureOptions => ({
  with: o.with,
  without: o.without,
  excludeNodump: yesNo('exclude-nodump', o.excludeNodump),
  excludeSubmounts: yesNo('exclude-submounts', o.excludeSubmounts),
  excludeFile: yesNo('exclude-file', o.excludeFile),
});

/** What extraction restores and how: --delete, --undo-immutable, --punch-holes, --reflink, --hardlink, --uid-shift, --uid-range, --seed-output. */
export const extraction = (o: GlobalOptions) => ({
  seeds: o.seed,
  seedOutput: yesNo('seed-output', o.seedOutput),
  features: { with: o.with, without: o.without },
  delete: yesNo('delete', o.delete),
  undoImmutable: yesNo('undo-immutable', o.undoImmutable),
  punchHoles: yesNo('punch-holes', o.punchHoles),
  reflink: yesNo('reflink', o.reflink),
  hardlink: yesNo('hardlink', o.hardlink),
  uidShift: uidShift(o),
});

/** --uid-shift=yes|no|SHIFT and --uid-range=N (1..2^32), casync's semantics. */
function uidShift(opts: GlobalOptions): UidShift | null {
  let apply = false;
  let shift = 0;
  let range = 0x10000;
  if (opts.uidShift !== undefined) {
    if (/^\d+$/.test(opts.uidShift)) {
      shift = Number(opts.uidShift);
      if (shift > 0xfffffffe) throw usageError(`--uid-shift=${opts.uidShift}: not a valid uid`);
      apply = true;
    } else apply = parseYesNo('uid-shift', opts.uidShift, false);
  }
  if (opts.uidRange !== undefined) {
    const n = /^\d+$/.test(opts.uidRange) ? Number(opts.uidRange) : NaN;
    if (n >= 1 && n <= 2 ** 32) {
      range = n === 2 ** 32 ? 0 : n;
      apply = true;
    } else apply = parseYesNo('uid-range', opts.uidRange, false);
  }
  return apply ? { shift, range } : null;
}
