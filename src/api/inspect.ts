// The read-only operations: list, mtree and stat of an archive, archive index
// or directory; digest; verify; and readIndex.  list, mtree, stat, digest and
// verify are the command line's own code (cli/inspect.ts, cli/digest.ts,
// cli/verify.ts), handed options built from the caller's values, so their
// results are what the command line prints, line for line.

import { toHex } from '../chunk/chunk-id.ts';
import { usageError } from '../errors.ts';
import { digestOfFlags, CA_FORMAT_WITH_MASK } from '../format/feature-flags.ts';
import { formatFeatureFlagNames } from '../format/feature-flag-names.ts';
import { openIndexStream } from '../engine/index-stream.ts';
import { inspectText, type InspectCliOptions, type InspectVerb } from '../cli/inspect.ts';
import { digestOf } from '../cli/digest.ts';
import { verifyIndex } from '../cli/verify.ts';
import type { GlobalOptions } from '../cli/options.ts';
import { openIndexInput } from '../platform/node/io/index-input.ts';
import { stripFileUrl } from '../stores/locator.ts';
import { checkAborted, featureCliOptions, type DigestName, type FeatureOptions, type OperationOptions } from './common.ts';
import { bindStores, storesOrDefault, type BoundStores, type RemoteOptions, type StoreLike } from './stores.ts';

export interface InspectOptions extends RemoteOptions {
  /** an archive (.catar), archive index (.caidx, chunks from `stores`) or directory */
  input: string;
  /** a path inside it to start from (default: the top) */
  path?: string;
  /** what `input` is, when its suffix does not say */
  what?: 'archive' | 'archive-index' | 'directory';
  /** archive indexes: default default.castr beside the index */
  stores?: StoreLike | StoreLike[];
  /** directories: the metadata the archive would keep; archives: what the output shows */
  features?: FeatureOptions;
  /** the digest mtree and stat print for directories (default sha512-256) */
  digest?: DigestName;
}

export interface ListOptions extends InspectOptions {
  /** list subdirectories too (default true) */
  recursive?: boolean;
}

/** Options for the shared command-line code; relayed store objects bound for the call. */
function cliOptions(o: InspectOptions, stores: BoundStores | null): InspectCliOptions {
  const [store, ...extraStore] = stores?.locators ?? [];
  return {
    ...featureCliOptions(o.features),
    what: o.what,
    digest: o.digest,
    store,
    extraStore,
    progress: 'no',
    token: '',
  };
}

/** Binds stores where the input may be an index (a directory or archive needs none). */
function storesFor(o: { input: string; stores?: StoreLike | StoreLike[] } & RemoteOptions): BoundStores | null {
  if (o.stores === undefined && !/\.ca[ib]dx([?;]|$)/.test(o.input)) return null;
  return bindStores(storesOrDefault(o.stores, o.input), o);
}

async function text(verb: InspectVerb, o: ListOptions): Promise<string> {
  if (typeof o?.input !== 'string') throw usageError(`${verb}: \`input\` (an archive, archive index or directory) is required`);
  const stores = storesFor(o);
  const parts: string[] = [];
  try {
    const opts = cliOptions(o, stores);
    if (o.recursive !== undefined) opts.recursive = o.recursive ? 'yes' : 'no';
    await inspectText(verb, stripFileUrl(o.input), o.path, opts, () => ({ add: (s) => void parts.push(s) }));
  } finally {
    stores?.close();
  }
  return parts.join('');
}

const lines = (s: string) => (s === '' ? [] : s.replace(/\n$/, '').split('\n'));

/** The lines `wasync list` prints (mode and path, escaped as casync does). */
export async function list(o: ListOptions): Promise<string[]> {
  return lines(await text('list', o));
}

/** The lines `wasync mtree` prints. */
export async function mtree(o: InspectOptions): Promise<string[]> {
  return lines(await text('mtree', o));
}

/** The block `wasync stat` prints for `path` (or the top). */
export async function stat(o: InspectOptions): Promise<string> {
  return text('stat', o);
}

export interface DigestOptions extends RemoteOptions {
  /** a directory, archive, archive index, file, block device or blob index */
  input: string;
  /** a path inside an archive, archive index or directory */
  path?: string;
  what?: 'archive' | 'archive-index' | 'blob' | 'blob-index' | 'directory';
  /** indexes: default default.castr beside the index */
  stores?: StoreLike | StoreLike[];
  /** directories and blobs (default sha512-256); indexes and archives use their own */
  digest?: DigestName;
  features?: FeatureOptions;
}

/** What `wasync digest` prints, in hex. */
export async function digest(o: DigestOptions): Promise<string> {
  if (typeof o?.input !== 'string') throw usageError('digest: `input` is required');
  const stores = storesFor(o);
  try {
    const opts: GlobalOptions = { ...cliOptions({ ...o, what: undefined }, stores), what: o.what };
    return toHex(await digestOf(stripFileUrl(o.input), o.path, opts));
  } finally {
    stores?.close();
  }
}

export interface VerifyOptions extends RemoteOptions, Pick<OperationOptions, 'onProgress' | 'signal'> {
  /** a .caibx or .caidx (path or URL) */
  index: string;
  /** default: default.castr beside the index */
  stores?: StoreLike | StoreLike[];
}

export interface VerifyResult {
  /** every chunk present and intact */
  ok: boolean;
  /** distinct chunks checked, and their bytes */
  chunks: number;
  bytes: number;
  /** ids no store has */
  missing: string[];
  /** ids with no good copy, and why */
  corrupt: { id: string; why: string }[];
}

/** Checks every chunk of an index: present in a store, decompresses, matches its id. Problems are returned, not thrown. */
export async function verify(o: VerifyOptions): Promise<VerifyResult> {
  if (typeof o?.index !== 'string') throw usageError('verify: `index` is required');
  checkAborted(o.signal);
  const stores = bindStores(storesOrDefault(o.stores, o.index), o);
  try {
    const r = await verifyIndex(o.index, cliOptions({ input: o.index }, stores), (done, total) => {
      checkAborted(o.signal);
      o.onProgress?.({ done, total });
    });
    return {
      ok: !r.missing.length && !r.invalid.length,
      chunks: r.chunks,
      bytes: r.bytes,
      missing: r.missing.map((p) => p.hex),
      corrupt: r.invalid.map((p) => ({ id: p.hex, why: p.why ?? '' })),
    };
  } finally {
    stores.close();
  }
}

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

/** A .caibx or .caidx (path or bytes), parsed and checked. */
export async function readIndex(index: string | Uint8Array): Promise<IndexInfo> {
  const input =
    typeof index === 'string'
      ? openIndexInput(stripFileUrl(index))
      : { name: 'index', bytes: (async function* (b) { yield b; })(index) };
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
