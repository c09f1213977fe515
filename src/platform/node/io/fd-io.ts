// Descriptor I/O and stat that work on any descriptor of the process, whichever
// thread or library opened it, and stat times to the nanosecond, on every
// runtime (see runtime.ts for why Deno needs this).
//
// On Node and Bun these are node:fs itself.  On Deno, whose node:fs refuses
// descriptors it did not open on the calling thread and rounds stat times to
// milliseconds, they go to libc through the Linux adapter's table (pread,
// pwrite, ftruncate, fchown, statx).  Without that table on Deno they throw
// EUNSUPPORTED, saying why, rather than fail later with a bare EBADF or write
// archives with rounded times.
//
// The tree walk's lstat (lstatTree) goes to statx through koffi wherever it
// can, by name in the open directory, into one reused buffer, and makes only
// the fields the encoder reads: node's BigIntStats by path costs about twice
// the system call (18 BigInts and 4 Dates per entry, a whole path resolved),
// and a make lstats every entry of the tree.
//
// Errors are Node-style (code, errno, syscall), as node:fs throws them, so the
// callers' ioError() wrapping is unchanged.

import { fchownSync, fstatSync, ftruncateSync, lstatSync, readSync, writeSync, type BigIntStats } from 'node:fs';
import { WasyncError } from '../../../errors.ts';
import { AT_FDCWD, libcUnavailable, loadLibc, sysError, type Libc } from '../linux/libc.ts';
import { koffiBackend } from '../linux/libc-koffi.ts';
import { AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, STATX_SIZE, STX } from '../linux/fs-info.ts';
import { makedev } from '../linux/dirfd.ts';
import { FS_FOREIGN_FDS_REFUSED, FS_STAT_TIMES_IN_MS, RUNTIME_VERSION } from './runtime.ts';

const ENOENT = 2;
const NS = 1_000_000_000n;

let table: Libc | undefined;

function libc(what: string): Libc {
  if (table) return table;
  const l = loadLibc([koffiBackend]);
  if (!l) {
    throw new WasyncError('EUNSUPPORTED', `${what} on ${RUNTIME_VERSION} needs libc through koffi: ${libcUnavailable()}`);
  }
  return (table = l);
}

/** Bytes of a buffer as a pointer koffi can lend to C (a view, no copy). */
const view = (b: Uint8Array, off: number, len: number) => b.subarray(off, off + len);

/** pread(): bytes read into buf[off, off + len) from file offset pos (0 at the end). */
export function readAt(fd: number, buf: Uint8Array, off: number, len: number, pos: number): number {
  if (!FS_FOREIGN_FDS_REFUSED) return readSync(fd, buf, off, len, pos);
  const c = libc('reading a shared descriptor');
  const n = c.pread(fd, view(buf, off, len), len, pos);
  if (n < 0) throw sysError(c, 'read', c.errno());
  return n;
}

/** pwrite(): bytes written from buf[off, off + len) at file offset pos. */
export function writeAt(fd: number, buf: Uint8Array, off: number, len: number, pos: number): number {
  if (!FS_FOREIGN_FDS_REFUSED) return writeSync(fd, buf, off, len, pos);
  const c = libc('writing a shared descriptor');
  const n = c.pwrite(fd, view(buf, off, len), len, pos);
  if (n < 0) throw sysError(c, 'write', c.errno());
  return n;
}

export function truncateFd(fd: number, size: number): void {
  if (!FS_FOREIGN_FDS_REFUSED) return ftruncateSync(fd, size);
  const c = libc('truncating a shared descriptor');
  if (c.ftruncate(fd, size) < 0) throw sysError(c, 'ftruncate', c.errno());
}

export function chownFd(fd: number, uid: number, gid: number): void {
  if (!FS_FOREIGN_FDS_REFUSED) return fchownSync(fd, uid, gid);
  const c = libc('changing the owner through a shared descriptor');
  if (c.fchown(fd, uid >>> 0, gid >>> 0) < 0) throw sysError(c, 'fchown', c.errno());
}

/** lstat() with nanosecond times; undefined if the path does not exist. */
export function lstatPrecise(path: Buffer | string): BigIntStats | undefined {
  if (!FS_STAT_TIMES_IN_MS) return lstatSync(path, { bigint: true, throwIfNoEntry: false });
  const c = libc('reading nanosecond times');
  const p = Buffer.concat([Buffer.from(path), Buffer.alloc(1)]);
  return statx(c, AT_FDCWD, p, AT_SYMLINK_NOFOLLOW, typeof path === 'string' ? path : path.toString());
}

/** fstat() with nanosecond times, of any descriptor. */
export function fstatPrecise(fd: number): BigIntStats {
  if (!FS_STAT_TIMES_IN_MS && !FS_FOREIGN_FDS_REFUSED) return fstatSync(fd, { bigint: true });
  return statx(libc('reading nanosecond times'), fd, Buffer.alloc(1), AT_EMPTY_PATH, `<fd ${fd}>`)!;
}

const stx = Buffer.alloc(Math.max(STATX_SIZE, 4096));
// lstatTree() reads the struct through typed arrays (native byte order, as the
// kernel writes it): Buffer's read methods cost a property lookup through an
// inline cache per call even in optimized code, a dozen per entry of a walk.
const stx16 = new Uint16Array(stx.buffer, stx.byteOffset, stx.length >> 1);
const stx32 = new Uint32Array(stx.buffer, stx.byteOffset, stx.length >> 2);
const stxU64 = new BigUint64Array(stx.buffer, stx.byteOffset, stx.length >> 3);
const stxI64 = new BigInt64Array(stx.buffer, stx.byteOffset, stx.length >> 3);

/** What the tree walk reads of an lstat: exact, as BigIntStats has it. */
export type TreeStat = Pick<BigIntStats, 'dev' | 'ino' | 'mode' | 'uid' | 'gid' | 'rdev' | 'size' | 'mtimeNs' | 'ctimeNs'>;

/** libc for lstatTree; null: node's lstat (koffi missing) */
let treeLibc: Libc | null | undefined;
/** the path, NUL-terminated, as statx wants it */
let treePath = Buffer.alloc(4096);

/**
 * lstat() with nanosecond times, of the fields in TreeStat; undefined if the
 * entry does not exist.  It is `name` in the open directory `dirfd` (AT_FDCWD:
 * a path), reached as `at` by path where descriptors cannot be lent to libc:
 * by name the kernel resolves one component, not the whole path.
 */
export function lstatTree(dirfd: number, name: Buffer, at: Buffer): TreeStat | undefined {
  if (treeLibc === undefined) treeLibc = FS_FOREIGN_FDS_REFUSED ? null : loadLibc([koffiBackend]);
  const c = treeLibc;
  if (!c) return lstatPrecise(at);
  if (name.length >= treePath.length) treePath = Buffer.alloc(2 * name.length + 1);
  treePath.set(name, 0);
  treePath[name.length] = 0;
  if (c.statx(dirfd, treePath, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, stx) < 0) {
    const errno = c.errno();
    if (errno === ENOENT) return undefined;
    throw sysError(c, 'statx', errno, at.toString());
  }
  const rdevMajor = stx32[STX.rdevMajor >> 2];
  const rdevMinor = stx32[STX.rdevMinor >> 2];
  const devMajor = stx32[STX.devMajor >> 2];
  const devMinor = stx32[STX.devMinor >> 2];
  if (devMajor !== lastDev[0] || devMinor !== lastDev[1]) lastDev = [devMajor, devMinor, makedev(devMajor, devMinor)];
  return {
    dev: lastDev[2],
    ino: stxU64[STX.ino >> 3],
    mode: small(stx16[STX.mode >> 1]),
    uid: small(stx32[STX.uid >> 2]),
    gid: small(stx32[STX.gid >> 2]),
    rdev: rdevMajor === 0 && rdevMinor === 0 ? 0n : makedev(rdevMajor, rdevMinor),
    size: stxU64[STX.size >> 3],
    mtimeNs: stxTimeNs(STX.mtime),
    ctimeNs: stxTimeNs(STX.ctime),
  };
}

/** A struct statx_timestamp of `stx` in nanoseconds. */
const stxTimeNs = (off: number) => stxI64[off >> 3] * NS + BigInt(stx32[(off + 8) >> 2]);

// A walk meets the same few modes, owners and devices again and again: their
// BigInts are made once, not per entry (each is an object to collect).
const smallBigInts: bigint[] = new Array(0x10000).fill(0n);
function small(n: number): bigint {
  if (n >= 0x10000) return BigInt(n);
  const made = smallBigInts[n];
  return made !== 0n || n === 0 ? made : (smallBigInts[n] = BigInt(n));
}
let lastDev: [number, number, bigint] = [-1, -1, 0n];

const statxTime = (b: Buffer, off: number) => b.readBigInt64LE(off) * NS + BigInt(b.readUInt32LE(off + 8));

function statx(c: Libc, dirfd: number, path: Buffer, flags: number, name: string): BigIntStats | undefined {
  if (c.statx(dirfd, path, flags, STATX_BASIC_STATS, stx) < 0) {
    const errno = c.errno();
    if (errno === ENOENT) return undefined;
    throw sysError(c, 'statx', errno, name);
  }
  return statxStats(stx);
}

/** What node:fs's BigIntStats holds, from a struct statx (glibc's dev_t encoding). */
function statxStats(b: Buffer): BigIntStats {
  const time = (off: number) => statxTime(b, off);
  const mode = BigInt(b.readUInt16LE(STX.mode));
  const type = mode & 0o170000n;
  const ns = { atimeNs: time(STX.atime), mtimeNs: time(STX.mtime), ctimeNs: time(STX.ctime), birthtimeNs: 0n };
  const ms = (v: bigint) => v / 1_000_000n;
  const date = (v: bigint) => new Date(Number(ms(v)));
  const st = {
    dev: makedev(b.readUInt32LE(STX.devMajor), b.readUInt32LE(STX.devMinor)),
    ino: b.readBigUInt64LE(STX.ino),
    mode,
    nlink: BigInt(b.readUInt32LE(STX.nlink)),
    uid: BigInt(b.readUInt32LE(STX.uid)),
    gid: BigInt(b.readUInt32LE(STX.gid)),
    rdev: makedev(b.readUInt32LE(STX.rdevMajor), b.readUInt32LE(STX.rdevMinor)),
    size: b.readBigUInt64LE(STX.size),
    blksize: 4096n,
    blocks: b.readBigUInt64LE(STX.blocks),
    ...ns,
    atimeMs: ms(ns.atimeNs),
    mtimeMs: ms(ns.mtimeNs),
    ctimeMs: ms(ns.ctimeNs),
    birthtimeMs: 0n,
    atime: date(ns.atimeNs),
    mtime: date(ns.mtimeNs),
    ctime: date(ns.ctimeNs),
    birthtime: new Date(0),
    isFile: () => type === 0o100000n,
    isDirectory: () => type === 0o040000n,
    isSymbolicLink: () => type === 0o120000n,
    isBlockDevice: () => type === 0o060000n,
    isCharacterDevice: () => type === 0o020000n,
    isFIFO: () => type === 0o010000n,
    isSocket: () => type === 0o140000n,
  };
  return st as unknown as BigIntStats;
}
