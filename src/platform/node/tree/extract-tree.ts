// `extract X.catar|X.caidx DIR`: recreates a tree from decoder events.
//
// Every entry is created relative to an open descriptor of its directory and
// never through a symlink (Linux adapter, *at calls with O_NOFOLLOW), so an
// archive cannot reach outside the target whatever names and symlinks it holds
// (the decoder has already refused '/', '.', '..', NUL and unsorted names).
// Files, symlinks and special files are made under a short temporary name and
// renamed over the old entry once complete, so an interrupted run leaves each
// entry either old or new; a 255-byte name still fits.  Small files go in
// batches to the worker threads (small-file-jobs.ts), large ones are streamed
// from here.
// Directory metadata is applied once a directory and every file job in it are
// done, root included; with --delete (the default) what the archive does not
// list is removed then.
// Deep trees keep a few descriptors open, not one per level (directory-window.ts).

import { closeSync, constants, lstatSync, mkdirSync, openSync } from 'node:fs';
import { WasyncError, ioError } from '../../../errors.ts';
import type { CatarEvent } from '../../../format/catar-decoder.ts';
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK, type CatarNode } from '../../../format/catar-node.ts';
import type { LinuxFs } from '../linux/index.ts';
import type { Executor, Origin } from '../pool/jobs.ts';
import { MetadataApplier, type Fresh, type UidShift } from './apply-metadata.ts';
import { Remover } from './remove-tree.ts';
import { HardLinker, type HardlinkSeed } from './hardlink.ts';
import { Cloner } from './reflink.ts';
import { FileWriter, UMASK, temporaryName, wrapError } from './file-writer.ts';
import { SMALL_FILE, SmallFileJobs } from './small-file-jobs.ts';
import { DirectoryWindow, type WindowedDir } from './directory-window.ts';

export interface ExtractTreeOptions {
  target: string;
  linux: LinuxFs;
  /** what to restore, given the archive's flags (masked by --with/--without) */
  replayFlags(archiveFlags: bigint): bigint;
  /** remove entries the archive does not list (casync's default) */
  deleteExtra: boolean;
  undoImmutable: boolean;
  /** leave runs of zeros as holes */
  punchHoles: boolean;
  /** clone data taken from seed files (FICLONERANGE) where the file system can */
  reflink: boolean;
  /** --hardlink=yes: seed trees whose identical files are linked instead of copied */
  hardlinkSeeds: HardlinkSeed[] | null;
  uidShift: UidShift | null;
  warn(message: string): void;
  /** where small files are written; none: all on this thread */
  executor?: Executor;
}

interface Frame extends WindowedDir {
  node: CatarNode;
  path: string;
  /** its path below the target, as archived (empty for the target) */
  rel: Buffer;
  /** created by this extraction: it held nothing, and its children inherit nothing */
  fresh: Fresh;
  /** names present before extraction (for --delete), as latin1 strings */
  existing: Set<string> | null;
  seen: Set<string>;
  /** the owner new entries get here (a set-gid directory passes on its group) */
  newOwner: { uid: number; gid: number };
  /** file jobs not yet done in this directory */
  pending: number;
  /** its directory-end was decoded; it is finalized once `pending` is 0 */
  ended: boolean;
}

interface OpenFile {
  fd: number;
  /** permission bits it was created with */
  mode: number;
  /** the last write ended in a hole (ftruncate sets the size) */
  hole: boolean;
  tmp: Buffer;
  name: Buffer;
  node: CatarNode;
  parent: Frame;
  pos: number;
  path: string;
}

const ACL_DEFAULT_XATTR = Buffer.from('system.posix_acl_default');
const S_ISGID = 0o2000;

export class TreeExtractor {
  private readonly stack: Frame[] = [];
  private readonly window: DirectoryWindow;
  private file: OpenFile | null = null;
  /** where small files go (none without an executor) */
  private small: SmallFileJobs<Frame> | null = null;
  private failure: unknown = null;
  private meta!: MetadataApplier;
  private writer!: FileWriter;
  private replay = 0n;
  private readonly remover: Remover;
  private readonly linux: LinuxFs;
  private readonly cloner: Cloner;
  /** temporary names in use, by "dirfd:name", removed if extraction fails */
  private readonly temporaries = new Map<string, { dirfd: number; name: Buffer }>();
  private hardlinks: HardLinker | null = null;
  /** the target directory's descriptor, opened by node:fs (the others by the adapter) */
  private rootFd = -1;
  entries = 0;

  constructor(private readonly o: ExtractTreeOptions) {
    this.linux = o.linux;
    this.remover = new Remover(o.linux, o.undoImmutable);
    this.cloner = new Cloner(o.linux, o.reflink);
    this.window = new DirectoryWindow(o.linux, this.stack, (fd) => this.closeDir(fd));
  }

  get clonedBytes() {
    return this.cloner.clonedBytes;
  }

  get linkedBytes() {
    return this.hardlinks?.linkedBytes ?? 0;
  }

  /** Where upcoming stream bytes came from (seed files), in stream order. */
  noteOrigins(origins: Origin[]): void {
    this.cloner.note(origins);
  }

  event(ev: CatarEvent): void {
    if (this.failure) throw this.failure;
    switch (ev.type) {
      case 'node':
        this.entries++;
        if (ev.depth === 0) this.root(ev.node, ev.featureFlags);
        else this.child(ev.name as Uint8Array, ev.node);
        return;
      case 'payload':
        this.payload(ev.data, ev.offset);
        return;
      case 'payload-end':
        this.finishFile();
        return;
      case 'directory-end':
        this.endDirectory();
        return;
      case 'end':
        return;
    }
  }

  /** Enough file jobs are queued to keep the workers busy: settle() before more events. */
  get busy(): boolean {
    return !!this.small?.busy || !!this.failure;
  }

  /** Waits while too many file jobs are queued (memory stays bounded: a few batch spaces). */
  async settle(): Promise<void> {
    await this.small?.settle();
    if (this.failure) throw this.failure;
  }

  /** Waits for the file jobs and the directories waiting on them. */
  async finish(): Promise<void> {
    await this.small?.drain();
    this.cloner.close();
    if (this.failure) throw this.failure;
  }

  /** After a failure: the file jobs end, temporary files go, descriptors close; what was completed stays. */
  async abort(): Promise<void> {
    await this.small?.stopped();
    this.cloner.close();
    if (this.file) {
      safely(() => this.linux.close(this.file!.fd));
      this.file = null;
    }
    for (const t of this.temporaries.values()) safely(() => this.linux.unlinkAt(t.dirfd, t.name, false));
    this.temporaries.clear();
    for (const f of this.stack.splice(0).reverse()) if (f.fd >= 0) safely(() => this.closeDir(f.fd));
  }

  private root(node: CatarNode, archiveFlags: bigint) {
    this.replay = this.o.replayFlags(archiveFlags);
    this.meta = new MetadataApplier(this.linux, this.replay, this.o.uidShift, this.o.warn);
    this.writer = new FileWriter(this.linux, this.meta, this.remover, this.o.punchHoles);
    if (this.o.hardlinkSeeds?.length) this.hardlinks = new HardLinker(this.linux, this.replay, this.o.hardlinkSeeds);
    if (this.o.executor) this.small = this.smallFiles(this.o.executor);
    const target = this.o.target;
    const st = lstatSync(target, { throwIfNoEntry: false });
    if (st && !st.isDirectory() && !st.isSymbolicLink()) {
      throw new WasyncError('EOUTPUT', `${target} exists and is not a directory`);
    }
    try {
      if (!st) mkdirSync(target, { recursive: true, mode: 0o700 });
      const fd = openSync(target, constants.O_RDONLY | constants.O_DIRECTORY);
      this.rootFd = fd;
      const fresh = { created: !st, inheritsNothing: this.passesNothing(fd) };
      this.stack.push(this.frame(fd, null, node, target, EMPTY, fresh, this.ownerOfNew(fd)));
    } catch (e) {
      throw ioError('EOUTPUT', target, e);
    }
  }

  private frame(fd: number, name: Buffer | null, node: CatarNode, path: string, rel: Buffer, fresh: Fresh, newOwner: Frame['newOwner']): Frame {
    const existing = this.o.deleteExtra && !fresh.created ? new Set(this.linux.readDirAt(fd).map((n) => n.toString('latin1'))) : null;
    return { fd, name, node, path, rel, fresh, newOwner, existing, seen: new Set(), pending: 0, ended: false };
  }

  private ownerOfNew(fd: number): Frame['newOwner'] {
    const st = this.linux.statFd(fd);
    return { uid: process.geteuid!(), gid: st.mode & S_ISGID ? st.gid : process.getegid!() };
  }

  /** A directory with no default ACL and no chattr flags gives new entries nothing to undo. */
  private passesNothing(fd: number): boolean {
    try {
      return !this.linux.getXattrFd(fd, ACL_DEFAULT_XATTR) && !this.linux.getChattrFlags(fd);
    } catch {
      return false;
    }
  }

  private child(nameBytes: Uint8Array, node: CatarNode) {
    const parent = this.stack[this.stack.length - 1];
    if (parent.existing) parent.seen.add(String.fromCharCode(...nameBytes));
    const type = node.mode & S_IFMT;
    if (type === S_IFREG && this.small && node.size! <= SMALL_FILE && !this.hardlinks && !this.cloner.pending) {
      this.small.begin(parent, { dirfd: parent.fd, name: nameBytes, node, dirPath: parent.path, fresh: this.created(parent), dirCreated: parent.fresh.created });
      return;
    }
    // Small names are copied on V8's heap; a Buffer over the same bytes would move them off it.
    const name = Buffer.from(nameBytes);
    const path = `${parent.path}/${name.toString()}`;
    try {
      if (type === S_IFDIR) return this.directory(parent, name, node, path);
      const tmp = this.temporary(parent);
      if (type === S_IFREG) {
        const { fd, mode } = this.writer.open(parent.fd, tmp, node);
        this.file = { fd, mode, hole: false, tmp, name, node, parent, pos: 0, path };
        return;
      }
      if (type === S_IFLNK) this.linux.symlinkAt(Buffer.from(node.target!), parent.fd, tmp);
      else {
        const rdev = node.rdev ?? { major: 0, minor: 0 };
        if (![S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK].includes(type)) {
          throw new WasyncError('EFORMAT', `${path}: unknown file type ${type.toString(8)}`);
        }
        this.linux.mknodAt(parent.fd, tmp, (node.mode & S_IFMT) | 0o600, rdev.major, rdev.minor);
      }
      const fresh = { ...this.created(parent), mode: type === S_IFLNK ? null : 0o600 & ~UMASK };
      this.meta.beforeRename({ dirfd: parent.fd, name: tmp, path: () => path }, node, fresh);
      this.writer.install(parent.fd, tmp, name, parent.fresh.created, () => path);
      this.forget(parent, tmp);
    } catch (e) {
      throw wrapError(e, path);
    }
  }

  private directory(parent: Frame, name: Buffer, node: CatarNode, path: string) {
    const st = parent.fresh.created ? null : this.linux.statAt(parent.fd, name);
    if (st && (st.mode & S_IFMT) !== S_IFDIR) this.remover.remove(parent.fd, name, () => path);
    const created = !st || (st.mode & S_IFMT) !== S_IFDIR;
    if (created) this.linux.mkdirAt(parent.fd, name, 0o700);
    const fd = this.linux.openDirAt(parent.fd, name);
    // A new directory's own ACLs and flags come at its end: until then it passes
    // on to its children only what its parent passed on to it.
    const fresh = { created, inheritsNothing: created ? parent.fresh.inheritsNothing : this.passesNothing(fd) };
    // mkdir passes a set-gid parent's group and bit on, so new entries here get what they get in the parent.
    // (The path below the target only for --hardlink: a deep tree would hold every level's.)
    const rel = this.hardlinks ? below(parent, name) : EMPTY;
    this.stack.push(this.frame(fd, name, node, path, rel, fresh, created ? parent.newOwner : this.ownerOfNew(fd)));
    this.window.pushed();
  }

  private payload(data: Uint8Array, offset: number) {
    if (this.small?.collecting) return this.small.append(data);
    const f = this.file!;
    try {
      let from = 0;
      for (const [a, b] of this.cloner.clone(f.fd, f.pos, offset, data.length, f.node.size!)) {
        this.writer.write(f.fd, f.pos, data, from, a);
        from = b;
      }
      f.hole = !this.writer.write(f.fd, f.pos, data, from, data.length) || from === data.length;
    } catch (e) {
      throw wrapError(e, f.path);
    } finally {
      f.pos += data.length;
    }
  }

  private finishFile() {
    if (this.small?.collecting) return this.small.end();
    const f = this.file!;
    this.file = null;
    const fresh = { ...this.created(f.parent), mode: f.mode };
    const target = { ...f, dirfd: f.parent.fd, fresh, dirCreated: f.parent.fresh.created };
    try {
      const link = this.hardlinks && this.temporary(f.parent);
      if (link) {
        this.meta.beforeRename({ fd: f.fd, path: () => f.path }, f.node, target.fresh);
        if (this.hardlinks!.link(f.fd, f.node, below(f.parent, f.name), f.parent.fd, f.name, link)) {
          this.linux.unlinkAt(f.parent.fd, f.tmp, false);
        } else {
          this.writer.install(f.parent.fd, f.tmp, f.name, target.dirCreated, () => f.path);
          this.meta.afterRename(f.fd, f.node, () => f.path, target.fresh);
        }
        this.forget(f.parent, link);
      } else {
        this.writer.finish(target, f.pos, f.hole);
      }
      this.forget(f.parent, f.tmp);
    } catch (e) {
      throw wrapError(e, f.path);
    } finally {
      this.linux.close(f.fd);
    }
  }

  private smallFiles(executor: Executor): SmallFileJobs<Frame> {
    return new SmallFileJobs<Frame>({
      executor,
      replay: this.replay,
      uidShift: this.o.uidShift,
      punchHoles: this.o.punchHoles,
      undoImmutable: this.o.undoImmutable,
      warn: this.o.warn,
      directoryDone: (dir) => (dir.ended ? this.finalize(dir) : this.window.jobsDone(dir)),
      failed: (e) => (this.failure ??= e),
    });
  }

  private endDirectory() {
    const frame = this.stack.pop()!;
    frame.ended = true;
    // (One with files in the batch is finalized once the batch's job is done.)
    if (!frame.pending) this.finalize(frame);
    this.window.popped();
  }

  /** Once a directory and its file jobs are done: --delete, metadata, close. */
  private finalize(frame: Frame) {
    try {
      if (frame.existing) {
        for (const name of frame.existing) {
          if (frame.seen.has(name)) continue;
          const bytes = Buffer.from(name, 'latin1');
          this.remover.remove(frame.fd, bytes, () => `${frame.path}/${bytes.toString()}`);
        }
      }
      this.meta.beforeRename({ fd: frame.fd, path: () => frame.path }, frame.node, frame.fresh);
      this.meta.afterRename(frame.fd, frame.node, () => frame.path, frame.fresh);
    } catch (e) {
      this.failure ??= wrapError(e, frame.path);
    } finally {
      this.closeDir(frame.fd);
    }
  }

  /**
   * Each descriptor is closed by what opened it: Deno's node:fs refuses (EBADF)
   * descriptors it did not open (see runtime.ts).
   */
  private closeDir(fd: number) {
    if (fd === this.rootFd) closeSync(fd);
    else this.linux.close(fd);
  }

  /** How new an entry just created in `parent` is. */
  private created(parent: Frame): Fresh {
    return { created: true, inheritsNothing: parent.fresh.inheritsNothing, owner: parent.newOwner };
  }

  /** A temporary name for a new entry here, removed should extraction fail. */
  private temporary(parent: Frame): Buffer {
    const name = temporaryName();
    this.temporaries.set(`${parent.fd}:${name.toString('latin1')}`, { dirfd: parent.fd, name });
    return name;
  }

  private forget(parent: Frame, tmp: Buffer) {
    this.temporaries.delete(`${parent.fd}:${tmp.toString('latin1')}`);
  }
}

const EMPTY = Buffer.alloc(0);
const SLASH = Buffer.from('/');

/** The path below the target of `name` in `dir`. */
const below = (dir: Frame, name: Buffer) => (dir.rel.length ? Buffer.concat([dir.rel, SLASH, name]) : name);

function safely(f: () => void) {
  try {
    f();
  } catch {}
}
