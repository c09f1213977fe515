// digest(): what `wasync digest` prints (casync-format.md §6).  What is digested:
//   directory        the catar stream `make` would write from it, with `digest`
//   .catar / .caidx  the archive's bytes (checked by decoding them), with the
//                    archive's own algorithm whatever `digest` says
//   ARCHIVE PATH     a directory's bytes from its ENTRY to the end of its GOODBYE,
//                    or a regular file's content; PATH is found through the
//                    GOODBYE tables, and other node types are refused
//   blob / .caibx    the raw bytes, with `digest` or the index's algorithm

import { createHash, type Hash } from 'node:crypto';
import { toHex } from '../../../chunk/chunk-id.ts';
import { WasyncError, usageError } from '../../../errors.ts';
import { digestOfFlags } from '../../../format/feature-flags.ts';
import { splitSeekPath } from '../../../format/catar-lookup.ts';
import { S_IFDIR, S_IFMT, S_IFREG } from '../../../format/catar-node.ts';
import { escapeBytes } from '../../../inspect/inspect-escape.ts';
import { stripFileUrl } from '../../../stores/locator.ts';
import { openBlobInput } from '../io/blob-file.ts';
import { Executors } from '../pool/executors.ts';
import { digestName, type DigestName } from './common.ts';
import { Extraction } from './extraction.ts';
import { openTree, runTarget, type TreeKind, type TreeSourceOptions } from './inspect-source.ts';
import { resolveDigest, type What } from './resolve.ts';

export interface DigestOptions extends TreeSourceOptions {
  /** a directory, archive, archive index, file, block device or blob index ('-': standard input) */
  input: string;
  /** a path inside an archive, archive index or directory */
  path?: string;
  what?: What;
  /** directories and blobs (default sha512-256); indexes and archives use their own */
  digest?: DigestName;
}

/** What `wasync digest` prints, in hex. */
export async function digest(o: DigestOptions): Promise<string> {
  if (typeof o?.input !== 'string') throw usageError('digest: `input` is required');
  const arg = stripFileUrl(o.input);
  const input = arg === '-' ? null : arg;
  const path = splitSeekPath(o.path ?? '');
  const what = resolveDigest(o.what, input, path.length > 0);
  let d: Uint8Array;
  if (what === 'blob') d = await digestBlob(arg, digestName(o.digest), o);
  else if (what === 'blob-index') d = await digestBlobIndex(input, o);
  else d = await digestTree(what, input, path, o.path ?? '', o);
  return toHex(d);
}

/** The digest of an archive, an index's archive or a directory's, or of the node at `path`. */
async function digestTree(kind: TreeKind, input: string | null, path: Uint8Array[], pathArg: string, o: TreeSourceOptions): Promise<Uint8Array> {
  const tree = await openTree(kind, input, o);
  o.notify?.({ state: 'ready' });
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

async function digestBlob(path: string, digest: DigestName, o: TreeSourceOptions): Promise<Uint8Array> {
  const input = openBlobInput(path);
  const executors = new Executors(0);
  o.notify?.({ state: 'ready' });
  try {
    return await executors.digest.run<Uint8Array>({ kind: 'digest', input, start: 0, end: input.size, digest, final: true });
  } finally {
    input.close();
    await executors.close();
  }
}

/**
 * The digest of the blob an index describes.  casync 2 always uses SHA-512/256
 * here, even for a SHA-256 index; wasync uses the index's own algorithm (or
 * `digest`), so the result equals what `make` printed.
 */
async function digestBlobIndex(index: string | null, o: DigestOptions): Promise<Uint8Array> {
  const ex = await Extraction.open({ index, stores: o, network: o, notify: o.notify, announceReady: true, trust: o });
  try {
    const hash = createHash(o.digest ? digestName(o.digest) : ex.digest);
    await ex.run({ onData: (b) => void hash.update(b) });
    return hash.digest();
  } finally {
    await ex.close();
  }
}
