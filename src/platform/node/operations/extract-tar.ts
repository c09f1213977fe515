// extract() with `outputFormat: 'tar'`: the tree of a .catar or .caidx as a
// pax tar stream (format/tar-writer.ts), to a file (written under a temporary
// name and renamed into place) or handed out in order (standard output).  The
// archive is decoded as it arrives: a .catar as a tree extraction reads it, a
// .caidx reassembled by the worker threads from seeds and stores, each chunk
// checked.  Payloads are copied through in the decoder's pieces and output
// goes out in 1 MiB writes, so memory does not grow with the tree or its files.
//
// The stream holds "./", then "./PATH" for each entry in archive order.  What
// tar cannot carry is left out with a warning: sockets (the entry), chattr and
// FAT attributes and quota project ids (one warning, counted), xattrs whose
// name has "=" in it (pax's record syntax cannot hold them).

import { lstatSync } from 'node:fs';
import { usageError } from '../../../errors.ts';
import { CatarDecoder, type CatarEvent } from '../../../format/catar-decoder.ts';
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK, type CatarNode } from '../../../format/catar-node.ts';
import { combineFeatureFlags } from '../../../format/feature-flag-names.ts';
import {
  CA_FORMAT_SUPPORTED_WITH_MASK,
  CA_FORMAT_WITH_ACL,
  CA_FORMAT_WITH_FCAPS,
  CA_FORMAT_WITH_SELINUX,
  CA_FORMAT_WITH_USER_NAMES,
  CA_FORMAT_WITH_XATTRS,
  replayFeatureFlags,
} from '../../../format/feature-flags.ts';
import { aclText, padding, tarEnd, tarHeaders, type TarType } from '../../../format/tar-writer.ts';
import { escapePath } from '../../../inspect/inspect-escape.ts';
import { stripFileUrl } from '../../../stores/locator.ts';
import { AtomicFile } from '../io/atomic-file.ts';
import { writeFully } from '../io/file-io.ts';
import { linuxFs } from '../linux/index.ts';
import { emptyFetchStats } from '../pool/jobs.ts';
import { checkAborted, countedProgress } from './common.ts';
import type { ExtractOptions, ExtractResult } from './extract.ts';
import { archiveSource, feedArchive } from './extract-tree.ts';
import { Extraction } from './extraction.ts';
import { joinPath } from './inspect-walk.ts';
import { Network } from './network.ts';

const WRITE = 1 << 20;
const TYPES = new Map<number, TarType>([
  [S_IFREG, 'file'],
  [S_IFDIR, 'directory'],
  [S_IFLNK, 'symlink'],
  [S_IFCHR, 'char'],
  [S_IFBLK, 'block'],
  [S_IFIFO, 'fifo'],
]);
const utf8 = new TextEncoder();
const EQUALS = 0x3d;

export async function extractTar(o: ExtractOptions, what: 'archive' | 'archive-index'): Promise<ExtractResult> {
  if (o.output === undefined && !o.onData) throw usageError('extract: a tar stream needs `output` (a file) or `onData`');
  const output = o.output === undefined ? undefined : stripFileUrl(o.output);
  const st = output === undefined ? undefined : lstatSync(output, { throwIfNoEntry: false });
  if (st && !st.isFile()) throw usageError(`${output}: exists and is not a regular file; refusing to replace it with a tar stream`);
  const file = output === undefined ? null : new AtomicFile(output);
  let pos = 0;
  const out = file
    ? async (b: Uint8Array) => {
        writeFully({ fd: file.fd, path: file.path }, b, pos);
        pos += b.length;
      }
    : async (b: Uint8Array) => o.onData!(b);
  const mask = combineFeatureFlags({ with: o.features?.with ?? [], without: o.features?.without ?? [], digest: 'sha512-256' }, CA_FORMAT_SUPPORTED_WITH_MASK);
  try {
    const r = what === 'archive' ? await fromArchive(o, out, mask) : await fromIndex(o, out, mask);
    file?.commit();
    return r;
  } catch (e) {
    file?.abort();
    throw e;
  }
}

async function fromIndex(o: ExtractOptions, out: Sink, mask: bigint): Promise<ExtractResult> {
  const linux = linuxFs();
  const ex = await Extraction.open({ ...o, index: o.input, stores: o, network: o, seeds: o.seeds ?? [], trees: linux ?? undefined, announceReady: true, trust: o });
  const tar = new CatarToTar(`${ex.name} (archive stream)`, ex.header.flags, mask, out, o.onWarning);
  const progress = countedProgress(o, ex.blobSize, true);
  try {
    const r = await ex.run({ seedTrees: ex.seeds.trees, onData: (b) => tar.push(b), progress: progress.buffer });
    progress.end();
    checkAborted(o.signal);
    await tar.end();
    const { size, chunks, clonedBytes: _none, ...sources } = r;
    return { what: 'archive-index', size, chunks, entries: tar.entries, sources, seeds: ex.seeds.reports, seedChunks: ex.seeds.index.size, staleSeeds: ex.settle(r) };
  } finally {
    progress.stop();
    await ex.close();
  }
}

async function fromArchive(o: ExtractOptions, out: Sink, mask: bigint): Promise<ExtractResult> {
  const source = archiveSource(o);
  const net = new Network(o);
  const tar = new CatarToTar(source.name, undefined, mask, out, o.onWarning);
  let size: number;
  try {
    size = await feedArchive(o, source, net, tar);
  } finally {
    await net.close();
  }
  return { what: 'archive', size, chunks: 0, entries: tar.entries, sources: emptyFetchStats(), seeds: [], seedChunks: 0, staleSeeds: false };
}

type Sink = (bytes: Uint8Array) => Promise<void>;

/** Archive bytes in, tar bytes out, through the streaming catar decoder. */
class CatarToTar {
  private readonly decoder: CatarDecoder;
  /** output gathered into one write; a fresh buffer after each, so that a sink may keep what it was given */
  private buf = new Uint8Array(WRITE);
  private used = 0;
  /** names of the open nodes below the root, by depth - 1 */
  private readonly names: Uint8Array[] = [];
  /** the current regular file's payload size, for its padding */
  private payload = 0;
  /** the archive's flags masked with the extraction's */
  private flags = 0n;
  private unkept = 0;
  entries = 0;

  constructor(
    private readonly file: string,
    expectFlags: bigint | undefined,
    private readonly mask: bigint,
    private readonly sink: Sink,
    private readonly warn: ((m: string) => void) | undefined,
  ) {
    this.decoder = new CatarDecoder(file, { expectFlags });
  }

  async push(bytes: Uint8Array): Promise<void> {
    this.decoder.push(bytes);
    await this.drain();
  }

  async end(): Promise<void> {
    this.decoder.end();
    await this.drain();
    if (this.unkept) this.warn?.(`${this.file}: ${this.unkept} entries have chattr or FAT attributes or a quota project id, which tar cannot carry: left out`);
  }

  /** Every event the decoder has; a payload view is written before the decoder is asked again. */
  private async drain() {
    for (let e = this.decoder.next(); e; e = this.decoder.next()) await this.event(e);
  }

  private async event(e: CatarEvent) {
    switch (e.type) {
      case 'node':
        return this.node(e.depth, e.name, e.node, e.featureFlags);
      case 'payload':
        return this.write(e.data);
      case 'payload-end':
        return this.write(new Uint8Array(padding(this.payload)));
      case 'end':
        await this.write(tarEnd());
        return this.flush();
    }
  }

  private async node(depth: number, name: Uint8Array | null, n: CatarNode, archiveFlags: bigint) {
    if (depth === 0) this.flags = replayFeatureFlags(archiveFlags, this.mask);
    else {
      this.names.length = depth - 1;
      this.names.push(name!);
    }
    const path = depth === 0 ? utf8.encode('.') : joinPath([utf8.encode('.'), ...this.names]);
    const type = TYPES.get(n.mode & S_IFMT);
    if (!type) {
      const what = (n.mode & S_IFMT) === S_IFSOCK ? 'a socket' : `of file type 0${(n.mode & S_IFMT).toString(8)}`;
      return this.warn?.(`${this.file}: ${escapePath(path)} is ${what}, which tar cannot carry: left out`);
    }
    if (n.flags || n.projid) this.unkept++;
    const f = this.flags;
    const xattrs = f & CA_FORMAT_WITH_XATTRS ? n.xattrs.filter((x) => this.keepXattr(path, x.name)) : [];
    if (f & CA_FORMAT_WITH_FCAPS && n.fcaps) xattrs.push({ name: utf8.encode('security.capability'), value: n.fcaps });
    if (f & CA_FORMAT_WITH_SELINUX && n.selinux) xattrs.push({ name: utf8.encode('security.selinux'), value: Uint8Array.from([...n.selinux, 0]) });
    const acl = f & CA_FORMAT_WITH_ACL ? aclText(n.mode, n.acl) : null;
    const names = !!(f & CA_FORMAT_WITH_USER_NAMES);
    this.payload = n.size ?? 0;
    this.entries++;
    await this.write(
      tarHeaders({
        path,
        type,
        mode: n.mode,
        uid: n.uid,
        gid: n.gid,
        userName: names ? n.userName : null,
        groupName: names ? n.groupName : null,
        mtimeNs: BigInt.asIntN(64, n.mtimeNs),
        size: n.size,
        target: n.target,
        rdev: n.rdev,
        xattrs,
        aclAccess: acl?.access,
        aclDefault: acl?.default,
      }),
    );
  }

  private keepXattr(path: Uint8Array, name: Uint8Array): boolean {
    if (!name.includes(EQUALS)) return true;
    this.warn?.(`${this.file}: ${escapePath(path)}: the xattr ${escapePath(name)} has "=" in its name, which a pax header cannot carry: left out`);
    return false;
  }

  private async write(b: Uint8Array) {
    if (this.used + b.length > this.buf.length) await this.flush();
    if (b.length > this.buf.length) return this.sink(b.slice());
    this.buf.set(b, this.used);
    this.used += b.length;
  }

  private async flush() {
    if (!this.used) return;
    const full = this.buf.subarray(0, this.used);
    this.buf = new Uint8Array(WRITE);
    this.used = 0;
    await this.sink(full);
  }
}
