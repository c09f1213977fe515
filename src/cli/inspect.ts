// wasync list|mtree|stat [ARCHIVE|ARCHIVE_INDEX|DIRECTORY] [PATH]: casync's
// inspection verbs, with its output byte for byte (tree/inspect-format.ts).
//
// The input is opened by inspect-source.ts; PATH (components split on '/', as
// casync does) picks the node to start from, found in archives and indexes through
// their GOODBYE tables.  What is printed:
//   list   one line per node below PATH, in archive order; --recursive=no stops
//          at PATH's direct children (taken from its GOODBYE table, not decoded);
//   mtree  one line per node, regular files with their content digest;
//   stat   the block of PATH alone (the root without PATH), with the content and
//          hardlink digests of a non-directory.
// --with/--without do not change what is decoded: like casync's decoder, the
// formatter masks the archive's flags with them (replayFeatureFlags).

import { WasyncError } from '../errors.ts';
import {
  CA_FORMAT_EXCLUDE_NODUMP,
  CA_FORMAT_SUPPORTED_WITH_MASK,
  CA_FORMAT_WITH_CHATTR,
  CA_FORMAT_WITH_FAT_ATTRS,
  CA_FORMAT_WITH_QUOTA_PROJID,
  digestOfFlags,
} from '../format/feature-flags.ts';
import { combineFeatureFlags } from '../format/feature-flag-names.ts';
import { splitSeekPath } from '../format/catar-lookup.ts';
import { S_IFDIR, S_IFMT, S_IFREG } from '../format/catar-node.ts';
import { formatListLine, formatMtreeLine, formatStat, type InspectEntry, type InspectOptions } from '../inspect/inspect-format.ts';
import { escapePath } from '../inspect/inspect-escape.ts';
import { writeStdout } from '../platform/node/io/stdout.ts';
import { EntryCollector, joinPath } from './inspect-walk.ts';
import { openTree, runTarget, treeKind, type TreeInput } from './inspect-source.ts';
import { stripFileUrl } from '../stores/locator.ts';
import { parseDigest, parseYesNo, type GlobalOptions } from './options.ts';

export type InspectVerb = 'list' | 'mtree' | 'stat';

export interface InspectCliOptions extends GlobalOptions {
  recursive?: string;
}

/** The decoder mask casync builds from --with/--without and the exclusion options. */
export function inspectMask(opts: GlobalOptions): bigint {
  return combineFeatureFlags(
    {
      with: opts.with ?? [],
      without: opts.without ?? [],
      excludeNodump: parseYesNo('exclude-nodump', opts.excludeNodump, true),
      excludeSubmounts: parseYesNo('exclude-submounts', opts.excludeSubmounts, false),
      excludeFile: parseYesNo('exclude-file', opts.excludeFile, true),
      digest: parseDigest(opts.digest),
    },
    CA_FORMAT_SUPPORTED_WITH_MASK,
  );
}

/** The input argument as casync reads it: none is ".", "-" is standard input (null). */
export function inputOf(arg: string | undefined, kind: 'default-dot' | 'default-stdin'): string | null {
  if (arg === undefined) return kind === 'default-dot' ? '.' : null;
  const input = stripFileUrl(arg);
  return input === '-' ? null : input;
}

/**
 * Standard output in large pieces.  A failed write (a closed pipe) is thrown by
 * the next add(), which ends the walk instead of decoding on for nobody.
 */
class Out {
  private text = '';
  private failed: unknown = null;
  private writing: Promise<void> = Promise.resolve();

  constructor() {
    // Write errors arrive through the callbacks; without a listener the stream's
    // 'error' event would end the process with a stack trace.
    if (process.stdout.listenerCount('error') === 0) process.stdout.on('error', () => {});
  }

  add(s: string): void {
    if (this.failed) throw this.failed;
    this.text += s;
    if (this.text.length >= 1 << 16) this.write();
  }

  async flush(): Promise<void> {
    this.write();
    await this.writing;
    if (this.failed) throw this.failed;
  }

  private write() {
    const t = this.text;
    this.text = '';
    if (!t) return;
    this.writing = this.writing.then(() => writeStdout(Buffer.from(t, 'utf8'))).catch((e) => {
      this.failed ??= e;
    });
  }
}

/** Where inspection text goes: standard output (Out), or the library API's lines. */
export type TextSink = Pick<Out, 'add'>;

export async function inspect(verb: InspectVerb, inputArg: string | undefined, pathArg: string | undefined, opts: InspectCliOptions) {
  let out: Out | undefined;
  try {
    await inspectText(verb, inputArg, pathArg, opts, () => (out = new Out()));
    await out?.flush();
  } catch (e) {
    // What was printed before the failure still goes out, as with casync.
    await out?.flush().catch(() => {});
    throw e;
  }
}

/** The text of list, mtree or stat into the sink `open` gives once the input is open. */
export async function inspectText(
  verb: InspectVerb,
  inputArg: string | undefined,
  pathArg: string | undefined,
  opts: InspectCliOptions,
  open: () => TextSink,
) {
  // Without an input casync lists the current directory, unless --what says otherwise.
  const input = inputOf(inputArg, opts.what === undefined || opts.what === 'directory' ? 'default-dot' : 'default-stdin');
  const kind = treeKind(verb, input, opts);
  const recursive = parseYesNo('recursive', opts.recursive, true);
  const mask = inspectMask(opts);
  const path = splitSeekPath(pathArg ?? '');
  const tree = await openTree(kind, input, opts);
  const out = open();
  try {
    const o: InspectOptions = { featureFlags: tree.featureFlags, mask, digest: opts.digest === undefined ? undefined : parseDigest(opts.digest) };
    if (verb === 'stat') await stat(tree, path, o, out);
    else if (verb === 'list' && !recursive && tree.lookup) await listShallow(tree, path, out);
    else await walk(verb, tree, path, o, recursive, out);
  } finally {
    await tree.close();
  }
}

const notFound = (tree: TreeInput, path: readonly Uint8Array[]) =>
  new WasyncError('EINPUT', `${tree.name}: no ${escapePath(joinPath(path))} in the archive (seek path not available)`);

/** list and mtree: every node from PATH down (list --recursive=no: PATH and its children). */
async function walk(verb: InspectVerb, tree: TreeInput, path: Uint8Array[], o: InspectOptions, recursive: boolean, out: TextSink) {
  const collector = new EntryCollector({
    base: path,
    payloadDigest: verb === 'mtree' ? digestOfFlags(tree.featureFlags) : null,
    onEntry: (e, depth) => {
      if (recursive || depth <= 1) out.add(verb === 'list' ? formatListLine(e) : formatMtreeLine(e, o));
    },
  });
  const r = await runTarget(tree, path, (e) => collector.event(e));
  if (!r.found) throw notFound(tree, path);
}

/** list --recursive=no on an archive: PATH's line, then its children's from the GOODBYE table. */
async function listShallow(tree: TreeInput, path: Uint8Array[], out: TextSink) {
  const lookup = tree.lookup!;
  const loc = await lookup.lookup(path);
  if (!loc) throw notFound(tree, path);
  const line = (p: readonly Uint8Array[], mode: number) => formatListLine({ path: joinPath(p), mode } as InspectEntry);
  out.add(line(loc.path, loc.mode));
  for (const c of await lookup.children(loc)) out.add(line(c.path, c.mode));
}

/** stat: the block of one node, with its digests unless it is a directory. */
async function stat(tree: TreeInput, path: Uint8Array[], o: InspectOptions, out: TextSink) {
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
  if (!tree.dir) return out.add(formatStat(e, o));
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
  out.add(block);
}
