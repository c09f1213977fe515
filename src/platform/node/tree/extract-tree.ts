// `extract X.catar|X.caidx DIR`: recreates a tree from decoder events.
//
// Every entry is created relative to an open descriptor of its directory and
// never through a symlink (Linux adapter, *at calls with O_NOFOLLOW), so an
// archive cannot reach outside the target whatever names and symlinks it holds
// (the decoder has already refused '/', '.', '..', NUL and unsorted names).
// Files, symlinks and special files are made under a short temporary name and
// renamed over the old entry once complete, so an interrupted run leaves each
// entry either old or new; a 255-byte name still fits.  Directory metadata is
// applied when the directory ends, deepest first, root included; with --delete
// (the default) what the archive does not list is removed then.

import { closeSync, constants, ftruncateSync, lstatSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { WasyncError, ioError } from '../../../errors.ts';
import { CatarDecoder, type CatarEvent } from '../../../format/catar-decoder.ts';
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK, type CatarNode } from '../../../format/catar-node.ts';
import { O_CREAT, O_EXCL, O_RDWR, type LinuxFs } from '../linux/index.ts';
import type { Origin } from '../../../engine/jobs.ts';
import { MetadataApplier, type UidShift } from './apply-metadata.ts';
import { Remover } from './remove-tree.ts';
import { HardLinker } from './hardlink.ts';
import type { TreeSeedMap } from '../../../engine/tree-seed-map.ts';

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
  hardlinkSeeds: TreeSeedMap[] | null;
  uidShift: UidShift | null;
  warn(message: string): void;
}

interface Frame {
  fd: number;
  node: CatarNode;
  path: string;
  /** names present before extraction (for --delete), as latin1 strings */
  existing: Set<string> | null;
  seen: Set<string>;
}

interface OpenFile {
  fd: number;
  tmp: Buffer;
  name: Buffer;
  node: CatarNode;
  parent: Frame;
  pos: number;
  path: string;
}

const HOLE_BLOCK = 4096;

export class TreeExtractor {
  private readonly stack: Frame[] = [];
  private file: OpenFile | null = null;
  private meta!: MetadataApplier;
  private readonly remover: Remover;
  private readonly linux: LinuxFs;
  /** temporary names in use, removed if extraction fails */
  private readonly temporaries = new Set<{ dirfd: number; name: Buffer }>();
  /** seed-file origins of stream bytes not yet decoded (reflinks) */
  private origins: Origin[] = [];
  private readonly seedFds = new Map<string, number>();
  private cloneFailed = false;
  private hardlinks: HardLinker | null = null;
  entries = 0;
  clonedBytes = 0;

  get linkedBytes() {
    return this.hardlinks?.linkedBytes ?? 0;
  }

  constructor(private readonly o: ExtractTreeOptions) {
    this.linux = o.linux;
    this.remover = new Remover(o.linux, o.undoImmutable);
  }

  event(ev: CatarEvent): void {
    switch (ev.type) {
      case 'node':
        this.entries++;
        if (ev.depth === 0) {
          const replay = this.o.replayFlags(ev.featureFlags);
          this.meta = new MetadataApplier(this.linux, replay, this.o.uidShift, this.o.warn);
          if (this.o.hardlinkSeeds?.length) this.hardlinks = new HardLinker(this.linux, replay, this.o.hardlinkSeeds);
          this.root(ev.node);
        }
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

  /** Where upcoming stream bytes came from (seed files), in stream order. */
  noteOrigins(origins: Origin[]): void {
    if (this.o.reflink && !this.cloneFailed) for (const o of origins) this.origins.push(o);
  }

  /** After extraction: seed files opened for reflinks are closed. */
  close(): void {
    for (const fd of this.seedFds.values()) safely(() => closeSync(fd));
    this.seedFds.clear();
  }

  /** After a failure: temporary files go, descriptors close; what was completed stays. */
  abort(): void {
    this.close();
    if (this.file) {
      safely(() => closeSync(this.file!.fd));
      this.file = null;
    }
    for (const t of this.temporaries) safely(() => this.linux.unlinkAt(t.dirfd, t.name, false));
    this.temporaries.clear();
    while (this.stack.length) safely(() => closeSync(this.stack.pop()!.fd));
  }

  private root(node: CatarNode) {
    const target = this.o.target;
    const st = lstatSync(target, { throwIfNoEntry: false });
    if (st && !st.isDirectory() && !st.isSymbolicLink()) {
      throw new WasyncError('EOUTPUT', `${target} exists and is not a directory`);
    }
    try {
      if (!st) mkdirSync(target, { recursive: true, mode: 0o700 });
      const fd = openSync(target, constants.O_RDONLY | constants.O_DIRECTORY);
      this.stack.push({ fd, node, path: target, existing: this.listing(fd), seen: new Set() });
    } catch (e) {
      throw ioError('EOUTPUT', target, e);
    }
  }

  private listing(fd: number): Set<string> | null {
    return this.o.deleteExtra ? new Set(this.linux.readDirAt(fd).map((n) => n.toString('latin1'))) : null;
  }

  private child(nameBytes: Uint8Array, node: CatarNode) {
    const parent = this.stack[this.stack.length - 1];
    const name = Buffer.from(nameBytes);
    parent.seen.add(name.toString('latin1'));
    const path = `${parent.path}/${name.toString()}`;
    const type = node.mode & S_IFMT;
    try {
      if (type === S_IFDIR) return this.directory(parent, name, node, path);
      if (type === S_IFREG) {
        const tmp = this.temporary(parent);
        const fd = this.linux.openFileAt(parent.fd, tmp, O_RDWR | O_CREAT | O_EXCL, 0o600);
        this.file = { fd, tmp, name, node, parent, pos: 0, path };
        return;
      }
      const tmp = this.temporary(parent);
      if (type === S_IFLNK) this.linux.symlinkAt(Buffer.from(node.target!), parent.fd, tmp);
      else {
        const rdev = node.rdev ?? { major: 0, minor: 0 };
        if (![S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK].includes(type)) {
          throw new WasyncError('EFORMAT', `${path}: unknown file type ${type.toString(8)}`);
        }
        this.linux.mknodAt(parent.fd, tmp, (node.mode & S_IFMT) | 0o600, rdev.major, rdev.minor);
      }
      this.meta.beforeRename({ dirfd: parent.fd, name: tmp, path: () => path }, node);
      this.install(parent, tmp, name, path);
    } catch (e) {
      throw this.wrap(e, path);
    }
  }

  private directory(parent: Frame, name: Buffer, node: CatarNode, path: string) {
    const st = this.linux.statAt(parent.fd, name);
    if (st && (st.mode & S_IFMT) !== S_IFDIR) this.remover.remove(parent.fd, name, () => path);
    if (!st || (st.mode & S_IFMT) !== S_IFDIR) this.linux.mkdirAt(parent.fd, name, 0o700);
    const fd = this.linux.openDirAt(parent.fd, name);
    this.stack.push({ fd, node, path, existing: this.listing(fd), seen: new Set() });
  }

  private payload(data: Uint8Array, offset: number) {
    const f = this.file!;
    try {
      let from = 0;
      for (const [a, b] of this.clone(f, data.length, offset)) {
        this.writeRange(f, data, from, a);
        from = b;
      }
      this.writeRange(f, data, from, data.length);
    } catch (e) {
      throw this.wrap(e, f.path);
    } finally {
      f.pos += data.length;
    }
  }

  /**
   * Reflinks the parts of this payload piece (stream offset `offset`) that came
   * from seed files in whole, equally aligned blocks; returns them as ranges of
   * the piece, ascending.
   */
  private clone(f: OpenFile, length: number, offset: number): [number, number][] {
    const done: [number, number][] = [];
    while (this.origins.length && this.origins[0].offset + this.origins[0].length <= offset) this.origins.shift();
    for (const o of this.origins) {
      if (o.offset >= offset + length || this.cloneFailed) break;
      const start = Math.max(offset, o.offset);
      const end = Math.min(offset + length, o.offset + o.length);
      const dest = f.pos + (start - offset);
      const src = o.fileOffset + (start - o.offset);
      if ((dest - src) % HOLE_BLOCK !== 0) continue;
      const a = Math.ceil(dest / HOLE_BLOCK) * HOLE_BLOCK;
      const b = Math.floor((dest + end - start) / HOLE_BLOCK) * HOLE_BLOCK;
      if (b <= a) continue;
      const fd = this.seedFd(o.path);
      if (fd < 0 || !this.linux.cloneRange(fd, src + (a - dest), b - a, f.fd, a)) {
        this.cloneFailed = fd >= 0; // the file system cannot: stop trying
        continue;
      }
      this.clonedBytes += b - a;
      done.push([a - f.pos, b - f.pos]);
    }
    return done;
  }

  private seedFd(path: Uint8Array): number {
    const key = Buffer.from(path).toString('latin1');
    let fd = this.seedFds.get(key);
    if (fd === undefined) {
      try {
        fd = openSync(Buffer.from(path), constants.O_RDONLY | constants.O_NOFOLLOW);
      } catch {
        fd = -1;
      }
      if (this.seedFds.size > 64) this.close();
      this.seedFds.set(key, fd);
    }
    return fd;
  }

  /** Writes data[from, to), leaving whole zero blocks as holes with --punch-holes. */
  private writeRange(f: OpenFile, data: Uint8Array, from: number, to: number) {
    if (!this.o.punchHoles) return this.write(f, data, from, to);
    // Whole zero blocks at block-aligned file offsets are skipped: the file is
    // new, so they read back as zeros and take no space.  Runs of other blocks
    // are written at once.
    let run = from;
    for (let o = from; o < to; ) {
      const end = Math.min(to, o + HOLE_BLOCK - ((f.pos + o) % HOLE_BLOCK));
      if (end - o === HOLE_BLOCK && isZero(data.subarray(o, end))) {
        this.write(f, data, run, o);
        run = end;
      }
      o = end;
    }
    this.write(f, data, run, to);
  }

  /** Writes data[from, to) at its place in the file. */
  private write(f: OpenFile, data: Uint8Array, from: number, to: number) {
    for (let done = from; done < to; ) done += writeSync(f.fd, data, done, to - done, f.pos + done);
  }

  private finishFile() {
    const f = this.file!;
    try {
      ftruncateSync(f.fd, f.pos); // trailing holes
      this.meta.beforeRename({ fd: f.fd, path: () => f.path }, f.node);
      const link = this.hardlinks && this.temporary(f.parent);
      if (link && this.hardlinks!.link(f.fd, f.node, f.parent.fd, f.name, link)) {
        this.forget(f.parent, link);
        this.linux.unlinkAt(f.parent.fd, f.tmp, false);
        this.forget(f.parent, f.tmp);
      } else {
        if (link) this.forget(f.parent, link);
        this.install(f.parent, f.tmp, f.name, f.path);
        this.meta.afterRename(f.fd, f.node, () => f.path);
      }
    } catch (e) {
      throw this.wrap(e, f.path);
    } finally {
      closeSync(f.fd);
      this.file = null;
    }
  }

  private endDirectory() {
    const frame = this.stack.pop()!;
    try {
      if (frame.existing) {
        for (const name of frame.existing) {
          if (frame.seen.has(name)) continue;
          const bytes = Buffer.from(name, 'latin1');
          this.remover.remove(frame.fd, bytes, () => `${frame.path}/${bytes.toString()}`);
        }
      }
      this.meta.beforeRename({ fd: frame.fd, path: () => frame.path }, frame.node);
      this.meta.afterRename(frame.fd, frame.node, () => frame.path);
    } catch (e) {
      throw this.wrap(e, frame.path);
    } finally {
      closeSync(frame.fd);
    }
  }

  /** A short, unused name in the directory (so that 255-byte names still fit). */
  private temporary(parent: Frame): Buffer {
    const name = Buffer.from(`.#wasync.${randomBytes(8).toString('hex')}`);
    const entry = { dirfd: parent.fd, name };
    this.temporaries.add(entry);
    return name;
  }

  /** Renames a finished temporary over `name`; a directory in the way is removed first. */
  private install(parent: Frame, tmp: Buffer, name: Buffer, path: string) {
    const st = this.linux.statAt(parent.fd, name);
    if (st && (st.mode & S_IFMT) === S_IFDIR) this.remover.remove(parent.fd, name, () => path);
    this.linux.renameAt(parent.fd, tmp, parent.fd, name);
    this.forget(parent, tmp);
  }

  private forget(parent: Frame, tmp: Buffer) {
    for (const t of this.temporaries) if (t.dirfd === parent.fd && t.name.equals(tmp)) this.temporaries.delete(t);
  }

  private wrap(e: unknown, path: string): Error {
    if (e instanceof WasyncError) return e;
    const err = e as NodeJS.ErrnoException;
    return new WasyncError('EOUTPUT', `${path}: ${err.code ?? ''} ${err.message}`);
  }
}

const ZERO_BLOCK = new Uint8Array(HOLE_BLOCK);

function isZero(b: Uint8Array): boolean {
  // The first and last bytes settle most non-zero blocks; compare is memcmp.
  return b[0] === 0 && b[b.length - 1] === 0 && Buffer.compare(b, ZERO_BLOCK) === 0;
}

function safely(f: () => void) {
  try {
    f();
  } catch {}
}

/** Decodes a catar stream, pushed in pieces, into the target directory. */
export class TreeStream {
  private readonly decoder: CatarDecoder;
  private readonly extractor: TreeExtractor;

  constructor(file: string, expectFlags: bigint | undefined, o: ExtractTreeOptions) {
    this.decoder = new CatarDecoder(file, { expectFlags });
    this.extractor = new TreeExtractor(o);
  }

  get entries() {
    return this.extractor.entries;
  }

  get clonedBytes() {
    return this.extractor.clonedBytes;
  }

  get linkedBytes() {
    return this.extractor.linkedBytes;
  }

  push(bytes: Uint8Array, origins: Origin[] = []): void {
    this.guard(() => {
      this.extractor.noteOrigins(origins);
      this.decoder.push(bytes);
      this.drain();
    });
  }

  end(): void {
    this.guard(() => {
      this.decoder.end();
      this.drain();
      this.extractor.close();
    });
  }

  private drain() {
    for (let ev = this.decoder.next(); ev; ev = this.decoder.next()) this.extractor.event(ev);
  }

  private guard(f: () => void) {
    try {
      f();
    } catch (e) {
      this.extractor.abort();
      throw e;
    }
  }
}
