// What an argument is, decided in one place, as casync decides it: --what=
// first, then the locator's suffix (.catar, .caidx, .caibx, checked before a
// URL's query), then what the path is on disk; the messages are casync's.
// Each verb accepts a few kinds: make writes an index or archive, extract
// reads one into a file, device or directory, the inspections read a tree,
// digest anything, mount an index or archive, mkdev a blob or blob index.

import { statSync, type Stats } from 'node:fs';
import { WasyncError, usageError } from '../../../errors.ts';
import { hasSuffix } from '../../../stores/locator.ts';

export type What = 'archive' | 'archive-index' | 'blob' | 'blob-index' | 'directory';
export type MadeWhat = 'archive' | 'archive-index' | 'blob-index';
export type TreeWhat = 'archive' | 'archive-index' | 'directory';

export const WHATS: readonly What[] = ['archive', 'archive-index', 'blob', 'blob-index', 'directory'];

/** `--what=` as a name casync knows, whatever the verb. */
export function whatName(what: string | undefined): What | undefined {
  if (what !== undefined && !WHATS.includes(what as What)) throw usageError(`--what=${what}: not one of ${WHATS.join(', ')}`);
  return what as What | undefined;
}

/** `--what=` checked against what `verb` accepts. */
function checkWhat<W extends What>(verb: string, what: string | undefined, allowed: readonly W[]): W | undefined {
  if (whatName(what) === undefined) return undefined;
  if (!allowed.includes(what as W)) {
    const list = allowed.map((w) => `--what=${w}`);
    throw usageError(`"${verb}" may only be combined with ${list.slice(0, -1).join(', ')} or ${list[list.length - 1]}`);
  }
  return what as W;
}

/** What a locator's suffix names, or null. */
function whatOfSuffix(loc: string): MadeWhat | null {
  if (hasSuffix(loc, '.catar')) return 'archive';
  if (hasSuffix(loc, '.caidx')) return 'archive-index';
  if (hasSuffix(loc, '.caibx')) return 'blob-index';
  return null;
}

const MADE: readonly MadeWhat[] = ['archive', 'archive-index', 'blob-index'];

/** make: whether --what= or the output's suffix asks for an archive or archive index (of a tar, say). */
export function makesArchive(what: string | undefined, output: string | null): boolean {
  const w = checkWhat('make', what, MADE) ?? (output === null ? null : whatOfSuffix(output));
  return w === 'archive' || w === 'archive-index';
}

/**
 * make: what to write to `output` (null: standard output, or memory) from a
 * source that is a directory or not; `tree` is what a directory makes when
 * nothing else says (the command line writes an archive to standard output,
 * the library returns an index).
 */
export function resolveMake(o: { what?: string; output: string | null; source: string; isDir: boolean; tree: MadeWhat }): MadeWhat {
  let what: MadeWhat | null = checkWhat('make', o.what, MADE) ?? null;
  if (!what && o.output !== null) {
    what = whatOfSuffix(o.output);
    if (!what) throw usageError(`${o.output}: the file to create has no valid suffix (.catar, .caidx or .caibx); refusing`);
  }
  if (o.isDir) {
    if (what === 'blob-index') throw usageError(`${o.source} is a directory, but a blob index (.caibx) was asked for`);
    return what ?? o.tree;
  }
  if (what === 'archive' || what === 'archive-index') {
    throw usageError(`${o.source} is a regular file or block device, but a directory archive (.catar/.caidx) was asked for; refusing`);
  }
  return 'blob-index';
}

/** extract: what `input` holds (null: standard input), given what the output is on disk. */
export function resolveExtract(o: { what?: string; input: string | null; output?: Stats }): MadeWhat {
  let what: MadeWhat | null = checkWhat('extract', o.what, MADE) ?? null;
  if (!what && o.input !== null) {
    what = whatOfSuffix(o.input);
    if (!what) throw usageError(`${o.input}: the file to read has no valid suffix (.catar, .caidx or .caibx); refusing`);
  }
  const out = o.output;
  if (out?.isDirectory()) {
    if (what === 'blob-index') throw usageError('the output is a directory, but a blob index is being extracted; refusing');
    what ??= 'archive-index';
  } else if (out && (out.isFile() || out.isBlockDevice())) {
    if (what && what !== 'blob-index') throw usageError('the output is a regular file or block device, but an archive is being extracted; refusing');
    what ??= 'blob-index';
  } else if (out) {
    throw usageError('the output is neither a directory, a regular file nor a block device; refusing');
  }
  if (!what) throw usageError('cannot tell what to extract; use --what=archive, --what=archive-index or --what=blob-index');
  return what;
}

const TREES: readonly TreeWhat[] = ['archive', 'archive-index', 'directory'];

/** list, mtree, stat: the tree `input` is (null: standard input, an archive unless --what says). */
export function resolveTree(verb: string, what: string | undefined, input: string | null): TreeWhat {
  const w = checkWhat(verb, what, TREES);
  if (w) return w;
  if (input === null) return 'archive';
  const suffix = whatOfSuffix(input);
  if (suffix === 'archive' || suffix === 'archive-index') return suffix;
  const st = statOf(input);
  if (st.isDirectory()) return 'directory';
  if (st.isFile()) throw usageError(`${input}: input should be a directory, .catar or .caidx file (or name it with --what=); refusing to ${verb} it`);
  throw usageError(`${input}: input is neither a file nor a directory; refusing`);
}

/** digest: what `input` is (null: standard input); `seeking` when a path inside it is asked for. */
export function resolveDigest(what: string | undefined, input: string | null, seeking: boolean): What {
  let w: What | null = checkWhat('digest', what, WHATS) ?? null;
  if (!w && input !== null) w = whatOfSuffix(input);
  const st = input === null ? null : statSync(input, { throwIfNoEntry: false });
  if (st?.isDirectory()) {
    if (w && w !== 'directory') throw usageError(`${input} is a directory, but --what=${w} was asked for; refusing`);
    w = 'directory';
  } else if (st && !st.isFile() && !st.isBlockDevice()) {
    throw usageError(`${input} is neither a directory, a regular file nor a block device; refusing`);
  } else if (st && w === 'directory') {
    throw usageError(`${input} is not a directory; refusing`);
  }
  w ??= seeking ? 'archive' : 'blob';
  // casync refuses a subtree path for directories; wasync digests it as the archive would.
  if (seeking && w !== 'archive' && w !== 'archive-index' && w !== 'directory') {
    throw usageError('a subtree path is only supported for the digest of an archive, archive index or directory');
  }
  return w;
}

/** mount: an archive, archive index or blob index. */
export function resolveMount(what: string | undefined, input: string): MadeWhat {
  const w = checkWhat('mount', what, MADE) ?? whatOfSuffix(input);
  if (!w) throw usageError(`${input}: the input has no valid suffix (.catar, .caidx or .caibx); name it with --what=`);
  return w;
}

/** mkdev: a blob index, or a blob served as it is. */
export function resolveMkdev(what: string | undefined, input: string): 'blob' | 'blob-index' {
  if (what === undefined && (hasSuffix(input, '.caidx') || hasSuffix(input, '.catar'))) {
    throw usageError(`${input}: mkdev serves blobs (a .caibx or a blob file), not archives`);
  }
  return checkWhat('mkdev', what, ['blob', 'blob-index'] as const) ?? (hasSuffix(input, '.caibx') ? 'blob-index' : 'blob');
}

function statOf(path: string): Stats {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) throw new WasyncError('EINPUT', `${path}: cannot read: ENOENT no such file or directory`);
  return st;
}
