// Extended attributes, by path without following a final symlink (l*xattr) and by
// open fd (f*xattr).  The fd forms are what a walker holding an fd should use: a
// "/proc/self/fd/N" path given to the l* forms would name the magic link itself,
// not the file.  Names and values are bytes: xattr names are not guaranteed to be
// UTF-8 and values are arbitrary (capabilities, ACLs, user data).
//
// Reading: one system call into a scratch buffer, then one exact-size copy out,
// with no size-probing call first.  The first try offers 4 KiB, because the kernel
// allocates (and for values zeroes) as much as is offered, which makes a 64 KiB
// offer cost 2-3 times more per call; on ERANGE the call is repeated with 64 KiB,
// the kernel's limit for both a value and a name list.  A file
// system without xattr support reads as having none (casync does the same);
// writing to one throws ENOTSUP, so nothing is dropped silently.

import { showAt, sysError, showPath, type Libc } from './libc.ts';
import { CStrings } from './c-strings.ts';

/** XATTR_SIZE_MAX and XATTR_LIST_MAX */
const XATTR_MAX = 65536;
const FIRST_TRY = 4096;
const ENODATA = 61;
const ENOTSUP = 95;
const ERANGE = 34;

export const XATTR_CREATE = 1;
export const XATTR_REPLACE = 2;

type Bytes = Uint8Array | string;

/** Paths are not followed at the end (l*xattr); the …Fd forms act on an open fd. */
export interface XattrOps {
  /** the names, in the file system's order; none where xattrs are unsupported */
  listXattrs(path: Bytes): Buffer[];
  /** the value, or null when absent (ENODATA) or unsupported */
  getXattr(path: Bytes, name: Bytes): Buffer | null;
  /** flags: XATTR_CREATE or XATTR_REPLACE; ENOTSUP where unsupported */
  setXattr(path: Bytes, name: Bytes, value: Uint8Array, flags?: number): void;
  /** ENODATA when absent */
  removeXattr(path: Bytes, name: Bytes): void;
  listXattrsFd(fd: number): Buffer[];
  getXattrFd(fd: number, name: Bytes): Buffer | null;
  setXattrFd(fd: number, name: Bytes, value: Uint8Array, flags?: number): void;
  removeXattrFd(fd: number, name: Bytes): void;
}

/** Splits a NUL-separated name list into separate copies. */
function splitNames(list: Uint8Array, len: number): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < len; i++) {
    if (list[i] !== 0) continue;
    if (i > start) out.push(Buffer.from(list.subarray(start, i)));
    start = i + 1;
  }
  return out;
}

export function xattrOps(libc: Libc): XattrOps {
  const c = new CStrings(2);
  // The kernel clamps both a value and a name list to 64 KiB (larger lists fail
  // with E2BIG), so the second try never gets ERANGE.
  const scratch = Buffer.allocUnsafeSlow(XATTR_MAX);
  const retry = (n: number) => n < 0 && libc.errno() === ERANGE;
  const fdPath = (fd: number) => showAt(fd, '');
  const named = (name: Uint8Array | string) => ({ detail: showPath(name) });

  function copyOut(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    scratch.copy(out, 0, 0, n);
    return out;
  }

  // The failure paths take errno first, before anything else can touch it.
  // `where` is a thunk: naming an fd means a readlink, only worth it for an error.
  function listFailed(errno: number, syscall: string, where: () => string): Buffer[] {
    if (errno === ENOTSUP) return [];
    throw sysError(libc, syscall, errno, where());
  }

  function getFailed(errno: number, syscall: string, where: () => string, name: Uint8Array | string): null {
    if (errno === ENODATA || errno === ENOTSUP) return null;
    throw sysError(libc, syscall, errno, where(), named(name));
  }

  const failed = (errno: number, syscall: string, where: string, name: Uint8Array | string) =>
    sysError(libc, syscall, errno, where, named(name));

  return {
    listXattrs(path) {
      const p = c.path(0, path, 'llistxattr');
      let n = libc.llistxattr(p, scratch, FIRST_TRY);
      if (retry(n)) n = libc.llistxattr(p, scratch, XATTR_MAX);
      return n >= 0 ? splitNames(scratch, n) : listFailed(libc.errno(), 'llistxattr', () => showPath(path));
    },
    getXattr(path, name) {
      const p = c.path(0, path, 'lgetxattr');
      const x = c.path(1, name, 'lgetxattr');
      let n = libc.lgetxattr(p, x, scratch, FIRST_TRY);
      if (retry(n)) n = libc.lgetxattr(p, x, scratch, XATTR_MAX);
      return n >= 0 ? copyOut(n) : getFailed(libc.errno(), 'lgetxattr', () => showPath(path), name);
    },
    setXattr(path, name, value, flags = 0) {
      const r = libc.lsetxattr(c.path(0, path, 'lsetxattr'), c.path(1, name, 'lsetxattr'), value, value.length, flags);
      if (r < 0) throw failed(libc.errno(), 'lsetxattr', showPath(path), name);
    },
    removeXattr(path, name) {
      const r = libc.lremovexattr(c.path(0, path, 'lremovexattr'), c.path(1, name, 'lremovexattr'));
      if (r < 0) throw failed(libc.errno(), 'lremovexattr', showPath(path), name);
    },
    listXattrsFd(fd) {
      let n = libc.flistxattr(fd, scratch, FIRST_TRY);
      if (retry(n)) n = libc.flistxattr(fd, scratch, XATTR_MAX);
      return n >= 0 ? splitNames(scratch, n) : listFailed(libc.errno(), 'flistxattr', () => fdPath(fd));
    },
    getXattrFd(fd, name) {
      const x = c.path(1, name, 'fgetxattr');
      let n = libc.fgetxattr(fd, x, scratch, FIRST_TRY);
      if (retry(n)) n = libc.fgetxattr(fd, x, scratch, XATTR_MAX);
      return n >= 0 ? copyOut(n) : getFailed(libc.errno(), 'fgetxattr', () => fdPath(fd), name);
    },
    setXattrFd(fd, name, value, flags = 0) {
      const r = libc.fsetxattr(fd, c.path(1, name, 'fsetxattr'), value, value.length, flags);
      if (r < 0) throw failed(libc.errno(), 'fsetxattr', fdPath(fd), name);
    },
    removeXattrFd(fd, name) {
      const r = libc.fremovexattr(fd, c.path(1, name, 'fremovexattr'));
      if (r < 0) throw failed(libc.errno(), 'fremovexattr', fdPath(fd), name);
    },
  };
}
