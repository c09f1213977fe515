// wasync digest [ARCHIVE|BLOB|ARCHIVE_INDEX|BLOB_INDEX|DIRECTORY] [PATH]
// (casync-format.md §6).  What is digested:
//   directory        the catar stream `make` would write from it, with --digest
//   .catar / .caidx  the archive's bytes (checked by decoding them), with the
//                    archive's own algorithm whatever --digest says
//   ARCHIVE PATH     a directory's bytes from its ENTRY to the end of its GOODBYE,
//                    or a regular file's content; PATH is found through the
//                    GOODBYE tables, and other node types are refused
//   blob / .caibx    the raw bytes, with --digest or the index's algorithm

import { statSync } from 'node:fs';
import { createHash, type Hash } from 'node:crypto';
import { WasyncError, usageError } from '../errors.ts';
import { toHex } from '../chunk/chunk-id.ts';
import { digestOfFlags } from '../format/feature-flags.ts';
import { splitSeekPath } from '../format/catar-lookup.ts';
import { S_IFDIR, S_IFMT, S_IFREG } from '../format/catar-node.ts';
import { openIndexStream } from '../engine/index-stream.ts';
import { extractBlob } from '../platform/node/pool/extract-blob.ts';
import { openBlobInput } from '../platform/node/io/blob-file.ts';
import { Executors } from '../platform/node/pool/executors.ts';
import { openIndexInput } from '../platform/node/io/index-input.ts';
import { escapeBytes } from '../inspect/inspect-escape.ts';
import { openTree, runTarget, type TreeKind } from './inspect-source.ts';
import { hasSuffix, stripFileUrl } from '../stores/locator.ts';
import { parseDigest, parseWhat, type GlobalOptions, type What } from './options.ts';
import { readStores } from './stores.ts';

/** casync's choice of what to digest (verb_digest); input null is standard input. */
function digestWhat(input: string | null, seeking: boolean, opts: GlobalOptions): What {
  let what = parseWhat(opts.what);
  if (!what && input !== null) {
    if (hasSuffix(input, '.catar')) what = 'archive';
    else if (hasSuffix(input, '.caidx')) what = 'archive-index';
    else if (hasSuffix(input, '.caibx')) what = 'blob-index';
  }
  const st = input === null ? null : statSync(input, { throwIfNoEntry: false });
  if (st?.isDirectory()) {
    if (what && what !== 'directory') throw usageError(`${input} is a directory, but --what=${what} was asked for; refusing`);
    what = 'directory';
  } else if (st && !st.isFile() && !st.isBlockDevice()) {
    throw usageError(`${input} is neither a directory, a regular file nor a block device; refusing`);
  } else if (st && what === 'directory') {
    throw usageError(`${input} is not a directory; refusing`);
  }
  what ??= seeking ? 'archive' : 'blob';
  // casync refuses a subtree path for directories; wasync digests it as the archive would.
  if (seeking && what !== 'archive' && what !== 'archive-index' && what !== 'directory') {
    throw usageError('a subtree path is only supported for the digest of an archive, archive index or directory');
  }
  return what;
}

export async function digest(inputArg: string | undefined, pathArg: string | undefined, opts: GlobalOptions) {
  process.stdout.write(`${toHex(await digestOf(inputArg, pathArg, opts))}\n`);
}

/** What `digest` prints, as bytes (shared with the library API). */
export async function digestOf(inputArg: string | undefined, pathArg: string | undefined, opts: GlobalOptions): Promise<Uint8Array> {
  // No input means the current directory, unless --what names something else.
  const arg = stripFileUrl(inputArg ?? (opts.what === undefined || opts.what === 'directory' ? '.' : '-'));
  const input = arg === '-' ? null : arg;
  const path = splitSeekPath(pathArg ?? '');
  const what = digestWhat(input, path.length > 0, opts);
  let d: Uint8Array;
  if (what === 'blob') d = await digestBlob(arg, opts);
  else if (what === 'blob-index') d = await digestBlobIndex(arg, opts);
  else d = await digestTree(what, input, path, pathArg ?? '', opts);
  return d;
}

/** The digest of an archive, an index's archive or a directory's, or of the node at `path`. */
async function digestTree(kind: TreeKind, input: string | null, path: Uint8Array[], pathArg: string, opts: GlobalOptions): Promise<Uint8Array> {
  const tree = await openTree(kind, input, opts);
  try {
    const alg = digestOfFlags(tree.featureFlags);
    let content: Hash | null = null;
    let result: Uint8Array | null = null;
    const r = await runTarget(
      tree,
      path,
      (e) => {
        if (e.type === 'node' && e.depth === 0 && (e.node.mode & S_IFMT) === S_IFREG) content = createHash(alg);
        else if (e.type === 'payload') content?.update(e.data);
        else if (e.type === 'payload-end' && content) {
          result = content.digest();
          return true;
        }
      },
      (mode) => {
        const type = mode & S_IFMT;
        if (type === S_IFDIR) return alg;
        if (type === S_IFREG) return null;
        throw new WasyncError('EUSAGE', `${tree.name}: ${escapeBytes(pathArg)} does not refer to a file or directory`);
      },
    );
    if (!r.found) throw new WasyncError('EINPUT', `${tree.name}: no ${escapeBytes(pathArg)} in the archive (seek path not available)`);
    const d = result ?? r.digest;
    if (!d) throw new Error('digest: the node was found but not digested');
    return d;
  } finally {
    await tree.close();
  }
}

async function digestBlob(path: string, opts: GlobalOptions): Promise<Uint8Array> {
  const input = openBlobInput(path);
  const executors = new Executors(0);
  try {
    return await executors.digest.run<Uint8Array>({
      kind: 'digest',
      input,
      start: 0,
      end: input.size,
      digest: parseDigest(opts.digest),
      final: true,
    });
  } finally {
    input.close();
  }
}

/**
 * The digest of the blob an index describes.  casync 2 always uses SHA-512/256
 * here, even for a SHA-256 index; wasync uses the index's own algorithm (or
 * --digest), so the result equals what `make` printed.
 */
async function digestBlobIndex(path: string, opts: GlobalOptions): Promise<Uint8Array> {
  const indexLoc = path === '-' ? null : path;
  const index = openIndexInput(indexLoc);
  const { header, entries } = await openIndexStream(index.bytes, index.name);
  const hash = createHash(opts.digest ? parseDigest(opts.digest) : digestOfFlags(header.flags));
  const executors = new Executors(index.blobSize ?? Infinity);
  try {
    await extractBlob({
      entries,
      digest: digestOfFlags(header.flags),
      stores: readStores(opts, indexLoc),
      executor: executors.chunks,
      onData: (b) => {
        hash.update(b);
      },
    });
  } finally {
    await executors.close();
  }
  return hash.digest();
}
