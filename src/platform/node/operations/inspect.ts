// list(), mtree(), stat(): casync's inspection verbs, with its output byte for
// byte (inspect/inspect-format.ts), as text handed out as it is made (the
// command line prints it at once) or as lines.
//
// The input is opened by inspect-source.ts; PATH (components split on '/', as
// casync does) picks the node to start from, found in archives and indexes through
// their GOODBYE tables.  What is printed:
//   list   one line per node below PATH, in archive order; --recursive=no stops
//          at PATH's direct children (taken from its GOODBYE table, not decoded);
//   mtree  one line per node, regular files with their content digest;
//   stat   the block of PATH alone (the root without PATH), with the content and
//          hardlink digests of a non-directory.
// The feature options do not change what is decoded: like casync's decoder,
// the formatter masks the archive's flags with them (replayFeatureFlags).

import { WasyncError, usageError } from '../../../errors.ts';
import {
  CA_FORMAT_EXCLUDE_NODUMP,
  CA_FORMAT_WITH_CHATTR,
  CA_FORMAT_WITH_FAT_ATTRS,
  CA_FORMAT_WITH_QUOTA_PROJID,
  digestOfFlags,
} from '../../../format/feature-flags.ts';
import { splitSeekPath } from '../../../format/catar-lookup.ts';
import { S_IFDIR, S_IFMT, S_IFREG } from '../../../format/catar-node.ts';
import { formatListLine, formatMtreeLine, formatStat, type InspectEntry, type InspectOptions as FormatOptions } from '../../../inspect/inspect-format.ts';
import { escapePath } from '../../../inspect/inspect-escape.ts';
import { stripFileUrl } from '../../../stores/locator.ts';
import { decoderMask } from './common.ts';
import { EntryCollector, joinPath } from './inspect-walk.ts';
import { openTree, runTarget, type TreeInput, type TreeSourceOptions } from './inspect-source.ts';
import { resolveTree, type TreeWhat } from './resolve.ts';

export type InspectVerb = 'list' | 'mtree' | 'stat';

export interface InspectOptions extends TreeSourceOptions {
  /** an archive (.catar: a path, URL or '-' for standard input), archive index (.caidx, chunks from the stores) or directory */
  input: string;
  /** a path inside it to start from (default: the top) */
  path?: string;
  /** what `input` is, when its suffix does not say */
  what?: TreeWhat;
}

export interface ListOptions extends InspectOptions {
  /** list subdirectories too (default true) */
  recursive?: boolean;
}

/**
 * The text of list, mtree or stat, handed to `add` piece by piece as it is made.
 * A promise `add` returns (its output is behind) is waited for before more is
 * decoded, so the text streams in bounded memory however much of it there is.
 */
export async function inspectText(verb: InspectVerb, o: ListOptions, add: (text: string) => void | Promise<void>): Promise<void> {
  if (typeof o?.input !== 'string') throw usageError(`${verb}: \`input\` (an archive, archive index or directory) is required`);
  const input = o.input === '-' ? null : stripFileUrl(o.input);
  const kind = resolveTree(verb, o.what, input);
  const mask = decoderMask(o.features, o.digest);
  const path = splitSeekPath(o.path ?? '');
  const tree = await openTree(kind, input, o);
  const out = { add };
  o.notify?.({ state: 'ready' });
  try {
    const f: FormatOptions = { featureFlags: tree.featureFlags, mask, digest: o.digest };
    if (verb === 'stat') await statBlock(tree, path, f, out);
    else if (verb === 'list' && o.recursive === false && tree.lookup) await listShallow(tree, path, out);
    else await walk(verb, tree, path, f, o.recursive ?? true, out);
  } finally {
    await tree.close();
  }
}

async function text(verb: InspectVerb, o: ListOptions): Promise<string> {
  const parts: string[] = [];
  await inspectText(verb, o, (s) => void parts.push(s));
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

type TextSink = { add(text: string): void | Promise<void> };

const notFound = (tree: TreeInput, path: readonly Uint8Array[]) =>
  new WasyncError('EINPUT', `${tree.name}: no ${escapePath(joinPath(path))} in the archive (seek path not available)`);

/** list and mtree: every node from PATH down (list --recursive=no: PATH and its children). */
async function walk(verb: InspectVerb, tree: TreeInput, path: Uint8Array[], o: FormatOptions, recursive: boolean, out: TextSink) {
  const collector = new EntryCollector({
    base: path,
    payloadDigest: verb === 'mtree' ? digestOfFlags(tree.featureFlags) : null,
    onEntry: (e, depth) => {
      if (recursive || depth <= 1) behind = out.add(verb === 'list' ? formatListLine(e) : formatMtreeLine(e, o));
    },
  });
  let behind: void | Promise<void>;
  const r = await runTarget(tree, path, (e) => {
    const stop = collector.event(e);
    if (!behind) return stop;
    const wait = behind;
    behind = undefined;
    return wait.then(() => stop);
  });
  if (!r.found) throw notFound(tree, path);
}

/** list --recursive=no on an archive: PATH's line, then its children's from the GOODBYE table. */
async function listShallow(tree: TreeInput, path: Uint8Array[], out: TextSink) {
  const lookup = tree.lookup!;
  const loc = await lookup.lookup(path);
  if (!loc) throw notFound(tree, path);
  const line = (p: readonly Uint8Array[], mode: number) => formatListLine({ path: joinPath(p), mode } as InspectEntry);
  await out.add(line(loc.path, loc.mode));
  for (const c of await lookup.children(loc)) await out.add(line(c.path, c.mode));
}

/** stat: the block of one node, with its digests unless it is a directory. */
async function statBlock(tree: TreeInput, path: Uint8Array[], o: FormatOptions, out: TextSink) {
  const alg = digestOfFlags(tree.featureFlags);
  let entry: InspectEntry | null = null;
  const collector = new EntryCollector({
    base: path,
    payloadDigest: alg,
    onEntry: (e) => {
      entry = e;
      return true;
    },
  });
  const isDir = (mode: number) => (mode & S_IFMT) === S_IFDIR;
  const r = await runTarget(tree, path, (e) => collector.event(e), (mode) => (isDir(mode) ? null : alg));
  if (!r.found) throw notFound(tree, path);
  if (!entry) throw new Error('stat: the node was found but not decoded');
  const e: InspectEntry = entry;
  if (r.digest) e.hardlinkDigest = r.digest;
  if (!tree.dir) return void (await out.add(formatStat(e, o)));
  // casync shows a directory input through its encoder, which answers from what
  // it read: a project id (0 when there is none) once quota-projid is on, and
  // chattr and FAT attributes only when the flags made it read them.
  const type = e.mode & S_IFMT;
  const fileOrDir = type === S_IFREG || type === S_IFDIR;
  const f = tree.featureFlags;
  if (fileOrDir && f & CA_FORMAT_WITH_QUOTA_PROJID) e.projid ??= 0;
  let block = formatStat(e, o);
  if (fileOrDir && !(f & (CA_FORMAT_WITH_CHATTR | CA_FORMAT_EXCLUDE_NODUMP))) block = block.replace(/^FileAttr: .*\n/m, '');
  if (fileOrDir && !(f & CA_FORMAT_WITH_FAT_ATTRS)) block = block.replace(/^ FATAttr: .*\n/m, '');
  await out.add(block);
}
