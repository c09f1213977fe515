// Safe extraction primitives: every operation names one entry relative to an open
// directory fd and never follows a symlink in that entry.  An archive may hold a
// symlink "a -> /etc" followed by a file "a/passwd"; resolving paths as strings
// would write through the link.  Working from directory fds, with O_NOFOLLOW and
// AT_SYMLINK_NOFOLLOW, and refusing names that contain '/' or are ".." (see
// c-strings.ts), keeps every write inside the tree being extracted.
//
// Also here, because Node lacks them or loses precision: fstatat through statx
// (nanosecond times, device major/minor, mount id in the same call), utimensat
// with nanoseconds, mknodat for devices, FIFOs and sockets, renameat2 with
// RENAME_NOREPLACE/EXCHANGE, and getdents64 for names that are not UTF-8.

import { AT_FDCWD, sysError, showAt, type Libc } from './libc.ts';
import { CStrings } from './c-strings.ts';
import { AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, STATX_MNT_ID, STATX_SIZE, STX } from './fs-info.ts';

export { AT_FDCWD };
export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_TRUNC = 0o1000;
export const O_DIRECTORY = 0o200000;
export const O_NOFOLLOW = 0o400000;
export const O_CLOEXEC = 0o2000000;
export const AT_REMOVEDIR = 0x200;
export const RENAME_NOREPLACE = 1;
export const RENAME_EXCHANGE = 2;
/** utimensat: leave this time as it is */
const UTIME_OMIT = (1 << 30) - 2;
const ENOENT = 2;
const ENOTDIR = 20;
const ELOOP = 40;
const STATX_TYPE = 0x1;
const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
const NS = 1_000_000_000n;

export interface LinuxStat {
  /** file type and permission bits */
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  size: number;
  /** 512-byte blocks allocated */
  blocks: number;
  ino: bigint;
  /** st_dev as glibc's makedev() forms it (equal to Node's Stats.dev) */
  dev: number;
  devMajor: number;
  devMinor: number;
  rdevMajor: number;
  rdevMinor: number;
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  /** statx's mount id (Linux ≥ 5.8), null on older kernels */
  mountId: number | null;
}

/** A file name: bytes, or a string taken as UTF-8. */
export type Name = Uint8Array | string;

/**
 * Every `name` is one file name (not empty, no '/', not ".."; EINVAL otherwise)
 * relative to `dirfd`, which may be AT_FDCWD.
 */
export interface DirFdOps {
  /** openat(O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC); a symlink gives ELOOP */
  openDirAt(dirfd: number, name: Name): number;
  /** openat with O_NOFOLLOW|O_CLOEXEC added (a symlink gives ELOOP); mode defaults to 0666 */
  openFileAt(dirfd: number, name: Name, flags: number, mode?: number): number;
  mkdirAt(dirfd: number, name: Name, mode: number): void;
  /** the target is any bytes but NUL */
  symlinkAt(target: Name, dirfd: number, name: Name): void;
  unlinkAt(dirfd: number, name: Name, isDir: boolean): void;
  /** renameat2; flags RENAME_NOREPLACE (EEXIST if taken) or RENAME_EXCHANGE */
  renameAt(olddirfd: number, oldname: Name, newdirfd: number, newname: Name, flags?: number): void;
  /** a hard link; a symlink is linked itself */
  linkAt(olddirfd: number, oldname: Name, newdirfd: number, newname: Name): void;
  /** statx without following; null if ENOENT */
  statAt(dirfd: number, name: Name): LinuxStat | null;
  statFd(fd: number): LinuxStat;
  /** fchownat(AT_SYMLINK_NOFOLLOW); -1 keeps an id */
  chownAt(dirfd: number, name: Name, uid: number, gid: number): void;
  chmodFd(fd: number, mode: number): void;
  /** utimensat(AT_SYMLINK_NOFOLLOW) in nanoseconds since the epoch (negative before 1970); atime null keeps it */
  setTimes(dirfd: number, name: Name, atimeNs: bigint | null, mtimeNs: bigint): void;
  setTimesFd(fd: number, atimeNs: bigint | null, mtimeNs: bigint): void;
  /** mknodat: mode carries the type (S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK); umask applies */
  mknodAt(dirfd: number, name: Name, mode: number, major: number, minor: number): void;
  /** the entries' raw names, without "." and "..", from the start of the directory */
  readDirAt(dirfd: number): Buffer[];
  close(fd: number): void;
}

/** glibc's makedev() as a bigint (the dev_t of mknodat). */
export const makedev = (major: number, minor: number): bigint =>
  (BigInt(major & 0xfff) << 8n) |
  (BigInt(major >>> 12) << 44n) |
  BigInt(minor & 0xff) |
  (BigInt(minor >>> 8) << 20n);

const u64 = (b: Buffer, off: number) => b.readUInt32LE(off) + b.readUInt32LE(off + 4) * 0x1_0000_0000;
const timeAt = (b: Buffer, off: number) => b.readBigInt64LE(off) * NS + BigInt(b.readUInt32LE(off + 8));

function decodeStatx(b: Buffer): LinuxStat {
  const devMajor = b.readUInt32LE(STX.devMajor);
  const devMinor = b.readUInt32LE(STX.devMinor);
  return {
    mode: b.readUInt16LE(STX.mode),
    nlink: b.readUInt32LE(STX.nlink),
    uid: b.readUInt32LE(STX.uid),
    gid: b.readUInt32LE(STX.gid),
    size: u64(b, STX.size),
    blocks: u64(b, STX.blocks),
    ino: b.readBigUInt64LE(STX.ino),
    dev: (devMajor & 0xfff) * 0x100 + (devMinor & 0xff) + (devMinor >>> 8) * 0x10_0000 + (devMajor >>> 12) * 2 ** 44,
    devMajor,
    devMinor,
    rdevMajor: b.readUInt32LE(STX.rdevMajor),
    rdevMinor: b.readUInt32LE(STX.rdevMinor),
    atimeNs: timeAt(b, STX.atime),
    mtimeNs: timeAt(b, STX.mtime),
    ctimeNs: timeAt(b, STX.ctime),
    mountId: b.readUInt32LE(STX.mask) & STATX_MNT_ID ? u64(b, STX.mntId) : null,
  };
}

/**
 * The errno of a failed openat with O_NOFOLLOW.  With O_DIRECTORY the kernel
 * reports a symlink as ENOTDIR; this says what was refused (ELOOP, as for
 * files), so callers need one check for "was a symlink".  `stx`: a statx buffer.
 */
export function noFollowErrno(libc: Libc, stx: Buffer, dirfd: number, name: Parameters<Libc['statx']>[1], flags: number): number {
  const errno = libc.errno();
  if (errno !== ENOTDIR || !(flags & O_DIRECTORY)) return errno;
  const st = libc.statx(dirfd, name, AT_SYMLINK_NOFOLLOW, STATX_TYPE, stx);
  return st >= 0 && (stx.readUInt16LE(STX.mode) & S_IFMT) === S_IFLNK ? ELOOP : errno;
}

export function dirFdOps(libc: Libc): DirFdOps {
  const c = new CStrings(2);
  const stx = Buffer.allocUnsafeSlow(Math.max(STATX_SIZE, 4096));
  const times = Buffer.allocUnsafeSlow(4096);
  const dents = Buffer.allocUnsafeSlow(64 * 1024);
  const empty = Buffer.alloc(1);

  const fail = (syscall: string, dirfd: number, name: Uint8Array | string, errno = libc.errno()) =>
    sysError(libc, syscall, errno, showAt(dirfd, name));

  /**
   * timespec[2] for utimensat/futimens; floor division keeps tv_nsec in [0, 1e9)
   * before 1970.  Through a DataView: Buffer's writeBigInt64LE splits each value
   * into more BigInts, and this runs once per extracted file.
   */
  const timesView = new DataView(times.buffer, times.byteOffset, 32);
  const OMIT = BigInt(UTIME_OMIT);
  function putTime(ns: bigint | null, off: number) {
    if (ns === null) {
      timesView.setBigInt64(off, 0n, true);
      timesView.setBigInt64(off + 8, OMIT, true);
      return;
    }
    let sec = ns / NS;
    let nsec = ns % NS;
    if (nsec < 0n) {
      sec -= 1n;
      nsec += NS;
    }
    timesView.setBigInt64(off, sec, true);
    timesView.setBigInt64(off + 8, nsec, true);
  }
  function packTimes(atimeNs: bigint | null, mtimeNs: bigint): Buffer {
    putTime(atimeNs, 0);
    putTime(mtimeNs, 16);
    return times;
  }

  function open(dirfd: number, name: Uint8Array | string, flags: number, mode: number, syscall: string): number {
    const n = c.name(0, dirfd, name, syscall);
    const fd = libc.openat(dirfd, n, flags | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd >= 0) return fd;
    throw fail('openat', dirfd, name, noFollowErrno(libc, stx, dirfd, n, flags));
  }

  return {
    openDirAt: (dirfd, name) => open(dirfd, name, O_RDONLY | O_DIRECTORY, 0, 'openDirAt'),

    openFileAt: (dirfd, name, flags, mode = 0o666) => open(dirfd, name, flags, mode, 'openFileAt'),

    mkdirAt(dirfd, name, mode) {
      if (libc.mkdirat(dirfd, c.name(0, dirfd, name, 'mkdirat'), mode) < 0) throw fail('mkdirat', dirfd, name);
    },

    symlinkAt(target, dirfd, name) {
      // The target is stored, never resolved here, so any bytes but NUL go.
      const t = c.path(1, target, 'symlinkat');
      if (libc.symlinkat(t, dirfd, c.name(0, dirfd, name, 'symlinkat')) < 0) throw fail('symlinkat', dirfd, name);
    },

    unlinkAt(dirfd, name, isDir) {
      const r = libc.unlinkat(dirfd, c.name(0, dirfd, name, 'unlinkat'), isDir ? AT_REMOVEDIR : 0);
      if (r < 0) throw fail('unlinkat', dirfd, name);
    },

    renameAt(olddirfd, oldname, newdirfd, newname, flags = 0) {
      const o = c.name(0, olddirfd, oldname, 'renameat2');
      const n = c.name(1, newdirfd, newname, 'renameat2');
      if (libc.renameat2(olddirfd, o, newdirfd, n, flags) < 0) {
        const errno = libc.errno();
        throw sysError(libc, 'renameat2', errno, showAt(olddirfd, oldname), { dest: showAt(newdirfd, newname) });
      }
    },

    linkAt(olddirfd, oldname, newdirfd, newname) {
      const o = c.name(0, olddirfd, oldname, 'linkat');
      const n = c.name(1, newdirfd, newname, 'linkat');
      // flags 0: a symlink is linked itself, not its target.
      if (libc.linkat(olddirfd, o, newdirfd, n, 0) < 0) {
        const errno = libc.errno();
        throw sysError(libc, 'linkat', errno, showAt(olddirfd, oldname), { dest: showAt(newdirfd, newname) });
      }
    },

    statAt(dirfd, name) {
      const n = c.name(0, dirfd, name, 'statx');
      if (libc.statx(dirfd, n, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS | STATX_MNT_ID, stx) < 0) {
        const errno = libc.errno();
        if (errno === ENOENT) return null;
        throw fail('statx', dirfd, name, errno);
      }
      return decodeStatx(stx);
    },

    statFd(fd) {
      if (libc.statx(fd, empty, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS | STATX_MNT_ID, stx) < 0) {
        throw fail('statx', fd, '');
      }
      return decodeStatx(stx);
    },

    chownAt(dirfd, name, uid, gid) {
      // -1 leaves an id unchanged, as in chown(2).
      const r = libc.fchownat(dirfd, c.name(0, dirfd, name, 'fchownat'), uid >>> 0, gid >>> 0, AT_SYMLINK_NOFOLLOW);
      if (r < 0) throw fail('fchownat', dirfd, name);
    },

    chmodFd(fd, mode) {
      if (libc.fchmod(fd, mode & 0o7777) < 0) throw fail('fchmod', fd, '');
    },

    setTimes(dirfd, name, atimeNs, mtimeNs) {
      const n = c.name(0, dirfd, name, 'utimensat');
      if (libc.utimensat(dirfd, n, packTimes(atimeNs, mtimeNs), AT_SYMLINK_NOFOLLOW) < 0) {
        throw fail('utimensat', dirfd, name);
      }
    },

    setTimesFd(fd, atimeNs, mtimeNs) {
      if (libc.futimens(fd, packTimes(atimeNs, mtimeNs)) < 0) throw fail('futimens', fd, '');
    },

    mknodAt(dirfd, name, mode, major, minor) {
      const n = c.name(0, dirfd, name, 'mknodat');
      if (libc.mknodat(dirfd, n, mode, makedev(major, minor)) < 0) throw fail('mknodat', dirfd, name);
    },

    readDirAt(dirfd) {
      // From the start whatever the fd has read before, so a directory can be listed again.
      if (libc.lseek(dirfd, 0, 0) < 0) throw fail('lseek', dirfd, '');
      const out: Buffer[] = [];
      for (;;) {
        const n = libc.getdents64(dirfd, dents, dents.length);
        if (n < 0) throw fail('getdents64', dirfd, '');
        if (n === 0) return out;
        // struct linux_dirent64: u64 d_ino, s64 d_off, u16 d_reclen, u8 d_type, name + NUL.
        for (let off = 0; off < n; ) {
          const reclen = dents[off + 16] | (dents[off + 17] << 8);
          const start = off + 19;
          // A loop, not indexOf(): names are short, and each native call costs more than the scan.
          const limit = off + reclen;
          let end = start;
          while (end < limit && dents[end] !== 0) end++;
          const len = end - start;
          const dot = len <= 2 && dents[start] === 0x2e && (len === 1 || dents[start + 1] === 0x2e);
          if (!dot) {
            const name = Buffer.allocUnsafe(len);
            for (let k = 0; k < len; k++) name[k] = dents[start + k];
            out.push(name);
          }
          off += reclen;
        }
      }
    },

    close(fd) {
      if (libc.close(fd) < 0) throw fail('close', fd, '');
    },
  };
}
