// `make X.catar|X.caidx DIR`: walks a directory tree in casync's order (children
// sorted by raw name bytes) and writes its catar serialization to a sink, file
// payloads read straight into the sink's buffer.  Exclusions follow casync
// (casync-format.md §4.6, §7.1, §7.2): node types without their feature flag,
// .caexclude patterns, chattr +d (nodump), other mounts, and the contents of API
// file systems (proc, sysfs, …).
//
// Entries are reached by path while the path is short, and past that through
// the open parent directory (entry-path.ts), so that a tree of any depth can be
// archived; messages still name the real path.

import { closeSync, readdirSync } from 'node:fs';
import { WasyncError, ioError } from '../../../errors.ts';
import { CatarEncoder } from '../../../format/catar-encoder.ts';
import { S_IFDIR, S_IFMT, S_IFREG } from '../../../format/catar-node.ts';
import { isApiFileSystem } from '../../../format/api-filesystems.ts';
import {
  CA_FORMAT_EXCLUDE_FILE,
  CA_FORMAT_EXCLUDE_NODUMP,
  CA_FORMAT_EXCLUDE_SUBMOUNTS,
} from '../../../format/feature-flags.ts';
import { ExcludeRules } from '../../../format/exclude.ts';
import { CatarOutput } from './catar-output.ts';
import { FS_NODUMP_FL, type LinuxFs } from '../linux/index.ts';
import { NodeReader, requireLinux, type NodeExtras } from './read-node.ts';
import type { CatarNode } from '../../../format/catar-node.ts';
import type { TreeStat } from '../io/fd-io.ts';
import { EntryPath, LONG_PATH, O_DIR, O_FILE, open, readWhole, stat } from './entry-path.ts';
import { AT_FDCWD } from '../linux/libc.ts';
import { DEPTH_MAX } from '../../../format/catar-constants.ts';

export interface CatarSink {
  /** may return nothing when it took the bytes at once */
  write(bytes: Uint8Array): Promise<void> | void;
  /** Space for the next n (≤ RING_PIECE) bytes as one or two views; fill, then commit(n).  Both may answer at once. */
  reserve(n: number): Uint8Array[] | Promise<Uint8Array[]>;
  commit(n: number): Promise<void> | void;
}

export interface EncodeTreeOptions {
  root: string;
  featureFlags: bigint;
  sink: CatarSink;
  linux: LinuxFs | null;
  /** why the Linux adapter is missing, for the error message */
  linuxMissing?: string | null;
  /** told where each part of the stream comes from (seeds: see TreeSeedMap) */
  observer?: StreamObserver;
  /** takes the regular files' content instead of the sink (make with an encoder cache) */
  taker?: PayloadTaker;
}

/**
 * Takes regular files' content instead of the sink (which then sees only
 * record bytes), and may know a file's node without it being opened.
 */
export interface PayloadTaker {
  /** the node of a regular file (lstat `st`) known already, or null to read it */
  known(path: Buffer, st: TreeStat): CatarNode | null;
  /**
   * The file's content comes next in the stream (node.size bytes).  `fd` is
   * open while this runs, or -1 when known() gave the node; `extras` is what
   * was read beyond lstat (null when known).
   */
  payload(path: Buffer, st: TreeStat, fd: number, node: CatarNode, extras: NodeExtras | null): Promise<void> | void;
  /** whether to leave this node out (the cache's own directory) */
  skip(st: TreeStat): boolean;
  /**
   * A directory whose node and everything below it the taker knows, byte for
   * byte: the node's size; -1: walk it.  Asked only where nothing outside the
   * directory can change what is below it (no exclusion rules, no submounts).
   */
  knownDir(path: Buffer, st: TreeStat): number;
  /** The known directory's node comes next in the stream (after its FILENAME); returns how many nodes it has. */
  subtree(): number;
  /**
   * A directory is walked: its node starts at stream offset `at`; `whole`: no
   * exclusion rule from above applies below it, and neither do submounts.
   */
  enterDir(path: Buffer, st: TreeStat, at: number, whole: boolean): void;
  /** Its GOODBYE ends at `at`; `nodes` were archived of it. */
  leaveDir(at: number, nodes: number): void;
  /** A symlink, device node, FIFO or socket was archived. */
  other(path: Buffer, st: TreeStat): void;
  /** A name is left out (st undefined: it vanished since readdir). */
  leftOut(path: Buffer, st: TreeStat | undefined): void;
}

/** Sees the stream as it is produced: record bytes, and file payloads by path. */
export interface StreamObserver {
  records(bytes: Uint8Array): void;
  /** the next `size` stream bytes are the content of the file at `path` */
  payload(path: Buffer, size: number): void;
}

export interface EncodeTreeResult {
  bytes: number;
  entries: number;
}

const CAEXCLUDE = Buffer.from('.caexclude');

export async function encodeTree(o: EncodeTreeOptions): Promise<EncodeTreeResult> {
  requireLinux(o.featureFlags, o.linux, o.linuxMissing ?? null);
  return new TreeEncoder(o).run();
}

class TreeEncoder {
  private readonly enc: CatarEncoder;
  private readonly reader: NodeReader;
  private readonly flags: bigint;
  /** CA_FORMAT_EXCLUDE_NODUMP, tested once (each & of two BigInts makes one, and this one is per file) */
  private readonly nodump: boolean;
  private entries = 0;
  private readonly out: CatarOutput;

  constructor(private readonly o: EncodeTreeOptions) {
    this.flags = o.featureFlags;
    this.nodump = (o.featureFlags & CA_FORMAT_EXCLUDE_NODUMP) !== 0n;
    // Lent records: CatarOutput copies each at once.
    this.enc = new CatarEncoder(o.featureFlags, true);
    this.reader = new NodeReader(o.featureFlags, o.linux);
    this.out = new CatarOutput(o.sink, o.observer);
  }

  async run(): Promise<EncodeTreeResult> {
    const root = new EntryPath(null, Buffer.from(this.o.root));
    const st = stat(AT_FDCWD, root.bytes(), root.bytes(), root);
    if (!st || (Number(st.mode) & S_IFMT) !== S_IFDIR) {
      throw new WasyncError('EUSAGE', `${this.o.root} is not a directory`);
    }
    const fd = open(root.bytes(), root, O_DIR);
    try {
      await this.directory(root, st, fd, ExcludeRules.root(), null);
      await this.out.flush();
    } finally {
      closeSync(fd);
    }
    return { bytes: this.enc.offset, entries: this.entries };
  }

  /**
   * The node of a directory, its children and its GOODBYE.  `parent`: the
   * file system its parent directory is on, null for the root; `chattr`: its
   * flags word if read already (undefined: not read).
   */
  private async directory(path: EntryPath, st: TreeStat, fd: number, rules: ExcludeRules, parent: DirFs | null, chattr?: number | null) {
    const linux = this.o.linux;
    // The file-system type changes only where st_dev does (a mount point), as
    // casync also assumes: one fstatfs per mount, not three per directory.
    const fs: DirFs | null = !linux ? null : parent && parent.dev === st.dev ? parent : { dev: st.dev, type: linux.fileSystemType(fd) };
    const apiFs = fs ? isApiFileSystem(fs.type) : false;
    const taker = this.o.taker;
    const before = this.entries;
    taker?.enterDir(path.bytes(), st, this.enc.offset, rules.empty && !apiFs && !(this.flags & CA_FORMAT_EXCLUDE_SUBMOUNTS) && path.length < LONG_PATH);
    await this.out.records(this.enc.node(this.reader.read(path.reach(fd, null), st, fd, apiFs, fs?.type, chattr)));
    this.entries++;
    const mount = linux && this.flags & CA_FORMAT_EXCLUDE_SUBMOUNTS ? linux.mountId(fd) : null;
    if (!apiFs) {
      let names: Buffer[];
      try {
        // getdents64 on the open directory: cheaper than Node's readdir by path.
        names = linux ? linux.readDirAt(fd) : readdirSync(path.reach(fd, null), { encoding: 'buffer' });
      } catch (e) {
        throw ioError('EINPUT', path.toString(), e);
      }
      sortNames(names);
      if (this.flags & CA_FORMAT_EXCLUDE_FILE && names.some((n) => n.equals(CAEXCLUDE))) {
        const file = new EntryPath(path, CAEXCLUDE);
        rules = rules.withFile(readWhole(file.reach(fd, CAEXCLUDE), file), file.toString());
      }
      for (const name of names) {
        const w = this.child(path, fd, name, rules, mount, apiFs, fs);
        if (w) await w;
      }
    }
    await this.out.records(this.enc.endDirectory());
    taker?.leaveDir(this.enc.offset, this.entries - before);
  }

  /**
   * `apiFs`: the directory is on an API file system (its files are too, but
   * for bind mounts).  Returns a promise unless the child was done at once
   * (left out, or a file the taker knew): a second make meets 10^5 of those.
   */
  private child(
    dir: EntryPath, dirfd: number, name: Buffer, rules: ExcludeRules, mount: number | null, apiFs: boolean, dirFs: DirFs | null,
  ): Promise<void> | void {
    const path = new EntryPath(dir, name);
    // What the decoder would refuse is not written (see DEPTH_MAX).
    if (path.depth > DEPTH_MAX) {
      throw new WasyncError('EUNSUPPORTED', `${path}: more than ${DEPTH_MAX} directories deep (wasync archives at most that many levels)`);
    }
    const at = path.reach(dirfd, name);
    const st = stat(dirfd, name, at, path);
    const taker = this.o.taker;
    if (!st) return taker?.leftOut(path.bytes(), st); // vanished since readdir
    const mode = Number(st.mode);
    const type = mode & S_IFMT;
    if (!CatarEncoder.archives(this.flags, mode) || rules.excludes(name, type === S_IFDIR)) return taker?.leftOut(path.bytes(), st);
    if (taker?.skip(st)) return;
    if (taker && type === S_IFDIR && mount === null && !apiFs && rules.empty) {
      const size = taker.knownDir(path.bytes(), st);
      if (size >= 0) return this.knownDir(name, size);
    }
    // A known file is not opened: what its descriptor would tell (nodump,
    // submounts, attributes) is part of what is known, unless submounts matter.
    const known = taker && type === S_IFREG && mount === null && !apiFs ? taker.known(path.bytes(), st) : null;
    if (known) return this.knownChild(name, path, st, known);
    return this.openedChild(name, path, at, st, type, rules, mount, apiFs, dirFs);
  }

  /** A directory the taker knew whole: its FILENAME, then its node from the taker. */
  private async knownDir(name: Buffer, size: number) {
    await this.out.records(this.enc.filename(name));
    await this.out.flush();
    this.entries += this.o.taker!.subtree();
    this.enc.skipNode(size);
  }

  /** A regular file whose node the taker knew: its records, then its content from the taker. */
  private knownChild(name: Buffer, path: EntryPath, st: TreeStat, known: CatarNode): Promise<void> | void {
    const a = this.out.records(this.enc.filename(name));
    if (a) return this.knownFrom(a, 0, path, st, known);
    const b = this.out.records(this.enc.node(known));
    if (b) return this.knownFrom(b, 1, path, st, known);
    this.entries++;
    const c = this.out.flush();
    if (c) return this.knownFrom(c, 2, path, st, known);
    const d = this.o.taker!.payload(path.bytes(), st, -1, known, null);
    if (d) return this.knownFrom(d, 3, path, st, known);
    this.enc.payloadDone(known.size!);
  }

  /** knownChild() after its step `step` returned `w`. */
  private async knownFrom(w: Promise<void>, step: number, path: EntryPath, st: TreeStat, known: CatarNode) {
    await w;
    if (step < 1) await this.out.records(this.enc.node(known));
    if (step < 2) {
      this.entries++;
      await this.out.flush();
    }
    if (step < 3) await this.o.taker!.payload(path.bytes(), st, -1, known, null);
    this.enc.payloadDone(known.size!);
  }

  /**
   * A child opened and read here.  Like child(), it returns a promise only when
   * something waits (a directory, or the sink): most files of a first make are
   * written without one.
   */
  private openedChild(
    name: Buffer, path: EntryPath, at: Buffer, st: TreeStat, type: number, rules: ExcludeRules, mount: number | null, apiFs: boolean,
    dirFs: DirFs | null,
  ): Promise<void> | void {
    const fd = type === S_IFDIR ? open(at, path, O_DIR) : type === S_IFREG ? open(at, path, O_FILE) : -1;
    let w: Promise<void> | void;
    try {
      w = this.openedSteps(fd, name, path, at, st, type, rules, mount, apiFs, dirFs);
    } catch (e) {
      if (fd >= 0) closeSync(fd);
      throw e;
    }
    if (!w) {
      if (fd >= 0) closeSync(fd);
      return;
    }
    return w.finally(() => {
      if (fd >= 0) closeSync(fd);
    });
  }

  private openedSteps(
    fd: number, name: Buffer, path: EntryPath, at: Buffer, st: TreeStat, type: number, rules: ExcludeRules, mount: number | null,
    apiFs: boolean, dirFs: DirFs | null,
  ): Promise<void> | void {
    const taker = this.o.taker;
    const linux = this.o.linux;
    // Read once, for nodump here and for the node's flags in read().
    let chattr: number | null | undefined;
    if (fd >= 0 && linux && this.nodump) {
      chattr = linux.getChattrFlags(fd);
      if (chattr !== null && chattr & FS_NODUMP_FL) return taker?.leftOut(path.bytes(), st);
    }
    if (fd >= 0 && mount !== null && linux!.mountId(fd) !== mount) return taker?.leftOut(path.bytes(), st);
    const w = this.out.records(this.enc.filename(name));
    if (type === S_IFDIR) {
      const enter = () => this.directory(path, st, fd, rules.enter(name), dirFs, chattr);
      return w ? w.then(enter) : enter();
    }
    if (w) return w.then(() => this.nonDirectory(fd, path, at, st, type, apiFs, dirFs, chattr));
    return this.nonDirectory(fd, path, at, st, type, apiFs, dirFs, chattr);
  }

  /** A child that is not a directory, after its FILENAME: its node, then a file's content. */
  private nonDirectory(
    fd: number, path: EntryPath, at: Buffer, st: TreeStat, type: number, apiFs: boolean, dirFs: DirFs | null, chattr: number | null | undefined,
  ): Promise<void> | void {
    const taker = this.o.taker;
    if (taker && type === S_IFREG) this.reader.captured = [];
    // A file on its directory's device is on its file system (on overlayfs
    // without xino a file's st_dev is the layer's, and fstatfs is asked).
    const fsType = dirFs && dirFs.dev === st.dev ? dirFs.type : undefined;
    const node = this.reader.read(at, st, fd, apiFs, fsType, chattr);
    const w = this.out.records(this.enc.node(node));
    this.entries++;
    if (taker && type === S_IFREG) {
      const extras = { flags: node.flags, projid: node.projid, xattrs: this.reader.captured! };
      this.reader.captured = null;
      return this.takenContent(w, path, st, apiFs ? -1 : fd, node, apiFs ? null : extras);
    }
    if (type !== S_IFREG) {
      if (!taker) return w;
      return w ? w.then(() => taker.other(path.bytes(), st)) : taker.other(path.bytes(), st);
    }
    return w ? w.then(() => this.content(fd, path, node.size!)) : this.content(fd, path, node.size!);
  }

  /** A regular file's content into the sink. */
  private content(fd: number, path: EntryPath, size: number): Promise<void> | void {
    const p = this.out.payload(path.bytes(), fd, 0, size, () => path.toString());
    if (p) return p.then(() => this.enc.payloadDone(size));
    this.enc.payloadDone(size);
  }

  /** A regular file's content through the taker (make with an encoder cache). */
  private async takenContent(w: Promise<void> | void, path: EntryPath, st: TreeStat, fd: number, node: CatarNode, extras: NodeExtras | null) {
    await w;
    await this.out.flush();
    await this.o.taker!.payload(path.bytes(), st, fd, node, extras);
    this.enc.payloadDone(node.size!);
  }
}

/** The file system a directory is on: its st_dev and statfs magic. */
interface DirFs {
  dev: bigint;
  type: number;
}

/**
 * Sorts names by their raw bytes, as casync does, through their latin1
 * strings (one code unit per byte, so the order is the same): string compares
 * cost far less than 10^6 calls of Buffer.compare on a large tree.
 */
function sortNames(names: Buffer[]): void {
  const keyed = names.map((b) => ({ k: b.toString('latin1'), b }));
  keyed.sort((x, y) => (x.k < y.k ? -1 : x.k > y.k ? 1 : 0));
  for (let i = 0; i < names.length; i++) names[i] = keyed[i].b;
}
