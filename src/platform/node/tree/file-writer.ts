// Writing one extracted regular file: its bytes (whole zero blocks left as holes
// with --punch-holes), its metadata, then the rename over the old entry and the
// attributes that must come after it.  Shared by the decoding thread, which
// streams large files, and the worker threads, which take small files in
// batches (pool/jobs.ts FilesJob) so that both cores create files.

import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { threadId } from 'node:worker_threads';
import { WasyncError } from '../../../errors.ts';
import { S_IFDIR, S_IFMT, basicNode, type CatarNode } from '../../../format/catar-node.ts';
import { O_CREAT, O_EXCL, O_RDWR, type LinuxFs } from '../linux/index.ts';
import { truncateFd, writeAt } from '../io/fd-io.ts';
import type { Fresh, MetadataApplier } from './apply-metadata.ts';
import type { Remover } from './remove-tree.ts';

export const HOLE_BLOCK = 4096;

/** The process's umask, read once (Node can only read it by setting it). */
export const UMASK = (() => {
  try {
    const m = /^Umask:\s*([0-7]+)/m.exec(readFileSync('/proc/self/status', 'latin1'));
    return m ? parseInt(m[1], 8) : 0o022;
  } catch {
    return 0o022;
  }
})();
const ZERO_BLOCK = new Uint8Array(HOLE_BLOCK);

/** A file being written under a temporary name in directory `dirfd`. */
export interface FileTarget {
  fd: number;
  dirfd: number;
  tmp: Buffer;
  name: Buffer;
  node: CatarNode;
  fresh: Fresh;
  /** the directory was created by this extraction: nothing is in the way */
  dirCreated: boolean;
  /** for messages (a getter where building it per file would cost) */
  readonly path: string;
}

/**
 * writeWhole()'s target: one per writer, rewritten for each file (nothing keeps
 * it past the call), so that a small file costs no objects here.  Its path is
 * the source's, built only for a message.
 */
class WholeFile implements FileTarget {
  fd = -1;
  dirfd = -1;
  tmp: Buffer = EMPTY;
  name: Buffer = EMPTY;
  node: CatarNode = NO_NODE;
  readonly fresh: Fresh = { created: false, inheritsNothing: false, owner: null, mode: null };
  dirCreated = false;
  source: { readonly path: string } = NO_SOURCE;
  readonly ref = { fd: -1, path: () => this.path };
  get path(): string {
    return this.source.path;
  }
}
const EMPTY = Buffer.alloc(0);
const NO_SOURCE = { path: '' };
const NO_NODE = basicNode(0, 0, 0, 0n, 0n);

let tmpCounter = 0;
const TMP_PREFIX = `.#wasync.${process.pid.toString(36)}.${threadId.toString(36)}.${randomBytes(3).toString('hex')}.`;

/**
 * A short name for a new entry (so that 255-byte names still fit), unique to this
 * thread; O_EXCL and friends refuse it should it exist anyway.
 */
export const temporaryName = () => Buffer.from(`${TMP_PREFIX}${(tmpCounter++).toString(36)}`);

/** Digits of the reused temporary name's counter (base 36: 36^7 names, more than any tree has files). */
const TMP_DIGITS = 7;
const DIGITS = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz');

export class FileWriter {
  /** writeWhole()'s temporary name, rewritten in place for each file (the adapter copies names) */
  private readonly tmp = Buffer.from(`${TMP_PREFIX}w${'0'.repeat(TMP_DIGITS)}`);
  private tmpCount = 0;
  private readonly whole = new WholeFile();

  constructor(
    private readonly linux: LinuxFs,
    private readonly meta: MetadataApplier,
    private readonly remover: Remover,
    private readonly punchHoles: boolean,
  ) {}

  /**
   * Creates the temporary file with the permission bits it will end with where
   * that is possible (no set-id bits), so that restoring need not chmod it.
   */
  open(dirfd: number, tmp: Buffer, node: CatarNode): { fd: number; mode: number } {
    const mode = this.meta.mode(node) & 0o777;
    const fd = this.linux.openFileAt(dirfd, tmp, O_RDWR | O_CREAT | O_EXCL, mode);
    return { fd, mode: mode & ~UMASK };
  }

  /** Writes data[from, to) at file offset pos + from; false if it ends in a hole. */
  write(fd: number, pos: number, data: Uint8Array, from: number, to: number): boolean {
    if (!this.punchHoles) return writeAll(fd, pos, data, from, to), true;
    // Whole zero blocks at block-aligned file offsets are skipped: the file is
    // new, so they read back as zeros and take no space.  Runs of other blocks
    // are written at once.
    let run = from;
    for (let o = from; o < to; ) {
      const end = Math.min(to, o + HOLE_BLOCK - ((pos + o) % HOLE_BLOCK));
      if (end - o === HOLE_BLOCK && isZero(data, o)) {
        writeAll(fd, pos, data, run, o);
        run = end;
      }
      o = end;
    }
    writeAll(fd, pos, data, run, to);
    return run < to || from === to;
  }

  /** The file has all its bytes (the last written unless it ends in a hole): size, metadata, rename, late attributes. */
  finish(f: FileTarget, size: number, endsInHole: boolean, ref = { fd: f.fd, path: () => f.path }) {
    // Not when the size is right already (a clone to the end): XFS would unshare the last block.
    if (endsInHole && this.linux.statFd(f.fd).size !== size) truncateFd(f.fd, size);
    this.meta.beforeRename(ref, f.node, f.fresh);
    this.install(f.dirfd, f.tmp, f.name, f.dirCreated, ref.path);
    this.meta.afterRename(f.fd, f.node, ref.path, f.fresh);
  }

  /** Renames a finished temporary over `name`; a directory in the way is removed first. */
  install(dirfd: number, tmp: Buffer, name: Buffer, dirCreated: boolean, path: () => string) {
    const st = dirCreated ? null : this.linux.statAt(dirfd, name);
    if (st && (st.mode & S_IFMT) === S_IFDIR) this.remover.remove(dirfd, name, path);
    this.linux.renameAt(dirfd, tmp, dirfd, name);
  }

  /** A small file whose bytes are all here: the whole of it. */
  writeWhole(f: Omit<FileTarget, 'fd' | 'tmp'>, data: Uint8Array) {
    const tmp = this.nextTemporary();
    const { fd, mode } = this.open(f.dirfd, tmp, f.node);
    const t = this.whole;
    try {
      const ended = this.write(fd, 0, data, 0, data.length);
      t.fd = fd;
      t.ref.fd = fd;
      t.dirfd = f.dirfd;
      t.tmp = tmp;
      t.name = f.name;
      t.node = f.node;
      t.fresh.created = f.fresh.created;
      t.fresh.inheritsNothing = f.fresh.inheritsNothing;
      t.fresh.owner = f.fresh.owner;
      t.fresh.mode = mode;
      t.dirCreated = f.dirCreated;
      t.source = f;
      this.finish(t, data.length, !ended, t.ref);
    } catch (e) {
      try {
        this.linux.unlinkAt(f.dirfd, tmp, false);
      } catch {}
      throw wrapError(e, f.path);
    } finally {
      t.source = NO_SOURCE;
      // Opened by the adapter, so closed by it: Node warns when a worker thread
      // closes a descriptor its fs module did not open.
      this.linux.close(fd);
    }
  }

  /** The reused temporary name, with the next count. */
  private nextTemporary(): Buffer {
    const t = this.tmp;
    for (let n = this.tmpCount++, i = t.length - 1; i >= t.length - TMP_DIGITS; i--, n = Math.floor(n / 36)) t[i] = DIGITS[n % 36];
    return t;
  }
}

export function wrapError(e: unknown, path: string): Error {
  if (e instanceof WasyncError) return e;
  const err = e as NodeJS.ErrnoException;
  // System errors' messages start with their code ("ENOSPC: no space left…"): said once.
  const message = err.code && err.message?.startsWith(`${err.code}: `) ? err.message.slice(err.code.length + 2) : err.message;
  return new WasyncError('EOUTPUT', `${path}: ${err.code ? `${err.code} ` : ''}${message}`);
}

function writeAll(fd: number, pos: number, data: Uint8Array, from: number, to: number) {
  for (let done = from; done < to; ) done += writeAt(fd, data, done, to - done, pos + done);
}

/** Whether b[at, at + HOLE_BLOCK) is all zeros (no view made: this runs per block of every file). */
function isZero(b: Uint8Array, at: number): boolean {
  // The first and last bytes settle most non-zero blocks; compare is memcmp.
  return b[at] === 0 && b[at + HOLE_BLOCK - 1] === 0 && compareBytes.call(b, ZERO_BLOCK, 0, HOLE_BLOCK, at, at + HOLE_BLOCK) === 0;
}

/** Buffer's compare with offsets, which takes any Uint8Array as `this`. */
const compareBytes = Buffer.prototype.compare;
