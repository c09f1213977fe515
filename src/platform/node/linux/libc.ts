// The C library calls the Linux adapter needs and Node's fs lacks, as one flat
// table of raw functions: integers in, integers out, caller-owned byte arrays for
// every pointer, errno read separately, exactly as the C prototypes behave.  The
// rest of the adapter (xattr.ts, dirfd.ts, …) speaks only this interface, so one
// back end per FFI is enough: libc-koffi.ts for Node today; a `bun:ffi` or
// `Deno.dlopen` table can be added beside it without touching anything else.
//
// The struct layouts decoded elsewhere (statx, statfs, passwd, dirent64, ioctl
// arguments) assume a 64-bit little-endian Linux (x86_64, aarch64, riscv64…);
// loadLibc() refuses other platforms rather than misreading them.

import { arch, endianness } from 'node:os';
import { readlinkSync } from 'node:fs';
import { getSystemErrorMap } from 'node:util';

/** Memory lent to C for the duration of one call (contents read and written in place). */
export type Ptr = Uint8Array | null;

export interface Libc {
  /** the FFI behind the table, for messages ("koffi 3.3.4") */
  readonly backend: string;
  /** errno as left by the last call through this table */
  errno(): number;
  /** the address of a byte array's first byte (arrays of 4 KiB and more do not move) */
  address(buf: Uint8Array): bigint;
  strerror(errnum: number): string;

  llistxattr(path: Ptr, list: Ptr, size: number): number;
  lgetxattr(path: Ptr, name: Ptr, value: Ptr, size: number): number;
  lsetxattr(path: Ptr, name: Ptr, value: Ptr, size: number, flags: number): number;
  lremovexattr(path: Ptr, name: Ptr): number;
  flistxattr(fd: number, list: Ptr, size: number): number;
  fgetxattr(fd: number, name: Ptr, value: Ptr, size: number): number;
  fsetxattr(fd: number, name: Ptr, value: Ptr, size: number, flags: number): number;
  fremovexattr(fd: number, name: Ptr): number;

  ioctl(fd: number, request: number, arg: Ptr): number;
  /** ioctl() whose argument is an integer, not a pointer (NBD_SET_SIZE, …) */
  ioctlValue(fd: number, request: number, arg: number): number;
  /**
   * ioctl() with an integer argument on a thread of its own with every signal
   * blocked, for calls that block (NBD_DO_IT returns only when the device is
   * disconnected); errno is that thread's.
   */
  ioctlValueBlocking(fd: number, request: number, arg: number): Promise<{ result: number; errno: number }>;
  socketpair(domain: number, type: number, protocol: number, sv: Ptr): number;
  socket(domain: number, type: number, protocol: number): number;
  /** datagrams to a Unix socket (sd-notify.ts), whose address `addr` holds */
  sendto(fd: number, buf: Ptr, len: number, flags: number, addr: Ptr, addrlen: number): number;
  fstatfs(fd: number, buf: Ptr): number;
  statx(dirfd: number, path: Ptr, flags: number, mask: number, buf: Ptr): number;

  openat(dirfd: number, path: Ptr, flags: number, mode: number): number;
  /** the openat2 system call (Linux ≥ 5.6; glibc has no wrapper): `how` is struct open_how */
  openat2(dirfd: number, path: Ptr, how: Ptr, size: number): number;
  mkdirat(dirfd: number, path: Ptr, mode: number): number;
  symlinkat(target: Ptr, dirfd: number, path: Ptr): number;
  unlinkat(dirfd: number, path: Ptr, flags: number): number;
  renameat2(olddirfd: number, oldpath: Ptr, newdirfd: number, newpath: Ptr, flags: number): number;
  linkat(olddirfd: number, oldpath: Ptr, newdirfd: number, newpath: Ptr, flags: number): number;
  fchownat(dirfd: number, path: Ptr, uid: number, gid: number, flags: number): number;
  fchmod(fd: number, mode: number): number;
  utimensat(dirfd: number, path: Ptr, times: Ptr, flags: number): number;
  futimens(fd: number, times: Ptr): number;
  mknodat(dirfd: number, path: Ptr, mode: number, dev: bigint): number;
  getdents64(fd: number, buf: Ptr, size: number): number;
  lseek(fd: number, offset: number, whence: number): number;
  fallocate(fd: number, mode: number, offset: number, length: number): number;
  /** descriptor I/O for runtimes whose fs module only takes descriptors it opened itself (fd-io.ts) */
  pread(fd: number, buf: Ptr, count: number, offset: number): number;
  pwrite(fd: number, buf: Ptr, count: number, offset: number): number;
  ftruncate(fd: number, length: number): number;
  fchown(fd: number, uid: number, gid: number): number;
  close(fd: number): number;

  getpwuid_r(uid: number, pwd: Ptr, buf: Ptr, buflen: number, result: Ptr): number;
  getgrgid_r(gid: number, grp: Ptr, buf: Ptr, buflen: number, result: Ptr): number;
  getpwnam_r(name: Ptr, pwd: Ptr, buf: Ptr, buflen: number, result: Ptr): number;
  getgrnam_r(name: Ptr, grp: Ptr, buf: Ptr, buflen: number, result: Ptr): number;
}

type Backend = { name: string; load(): Libc };

let loaded: Libc | null | undefined;
let whyNot = '';

/**
 * The libc table, bound once per thread; null where it cannot be had, with the
 * reason in libcUnavailable().
 */
export function loadLibc(backends: Backend[]): Libc | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  if (process.platform !== 'linux') {
    whyNot = `the Linux adapter needs Linux (this is ${process.platform})`;
  } else if (endianness() !== 'LE' || !['x64', 'arm64', 'riscv64', 'loong64', 'ppc64'].includes(arch())) {
    whyNot = `the Linux adapter supports 64-bit little-endian CPUs only (this is ${arch()}, ${endianness()})`;
  } else {
    const reasons: string[] = [];
    for (const b of backends) {
      try {
        loaded = b.load();
        whyNot = '';
        break;
      } catch (e) {
        reasons.push(`${b.name}: ${(e as Error).message}`);
      }
    }
    if (!loaded) whyNot = `no FFI to reach libc (${reasons.join('; ') || 'no back end for this runtime'})`;
  }
  return loaded;
}

export const libcUnavailable = () => whyNot;

const errorNames = getSystemErrorMap();

/** The Node code ("ENOENT") of a positive errno; 95 is "ENOTSUP", as Node names it. */
export const errnoCode = (errno: number): string => errorNames.get(-errno)?.[0] ?? `E${errno}`;

/**
 * A Node-style system error: `code`, `errno` (negative, as Node has it), `syscall`,
 * `path` (and `dest` for two-path calls), and a message such as
 * "ENOENT: No such file or directory, openat '/x/y'".  `detail` is appended in
 * parentheses (the xattr name, the ioctl).
 */
export function sysError(
  libc: Libc,
  syscall: string,
  errno: number,
  path?: string,
  more: { dest?: string; detail?: string } = {},
): NodeJS.ErrnoException {
  const code = errnoCode(errno);
  let where = path === undefined ? '' : ` '${path}'`;
  if (more.dest !== undefined) where += ` -> '${more.dest}'`;
  if (more.detail !== undefined) where += ` (${more.detail})`;
  const e = new Error(`${code}: ${libc.strerror(errno)}, ${syscall}${where}`) as NodeJS.ErrnoException;
  e.errno = -errno;
  e.code = code;
  e.syscall = syscall;
  if (path !== undefined) e.path = path;
  if (more.dest !== undefined) (e as { dest?: string }).dest = more.dest;
  return e;
}

/** An error the adapter raises itself (a name with '/', a NUL in a path…). */
export function argError(
  code: 'EINVAL' | 'ENAMETOOLONG' | 'ESRCH',
  message: string,
  path?: string,
): NodeJS.ErrnoException {
  const e = new Error(`${code}: ${message}${path === undefined ? '' : ` '${path}'`}`) as NodeJS.ErrnoException;
  e.code = code;
  if (path !== undefined) e.path = path;
  return e;
}

export const AT_FDCWD = -100;

/** Text for a path in messages: lossy UTF-8, which is fine for reading, never for use. */
export const showPath = (p: string | Uint8Array): string =>
  typeof p === 'string' ? p : Buffer.from(p.buffer, p.byteOffset, p.byteLength).toString('utf8');

/**
 * "dir/name" for an fd-relative name, with the directory's path looked up only
 * when an error is being reported (one readlink, never on the fast path).
 */
export function showAt(dirfd: number, name: string | Uint8Array): string {
  let dir: string;
  if (dirfd === AT_FDCWD) dir = '.';
  else {
    try {
      dir = readlinkSync(`/proc/self/fd/${dirfd}`);
    } catch {
      dir = `<fd ${dirfd}>`;
    }
  }
  const n = showPath(name);
  return n === '' ? dir : dir.endsWith('/') ? dir + n : `${dir}/${n}`;
}
