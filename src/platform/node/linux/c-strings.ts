// NUL-terminated copies of paths and names for C, written into scratch buffers
// that live as long as the adapter, so the walker's per-file calls allocate
// nothing for their arguments.  Two checks make this the adapter's safety gate:
// a NUL inside a name would silently shorten it in C ("a\0b" would act on "a"),
// and a '/' or ".." in a name handed to an *at() call would walk through
// directories, following any symlink on the way, which defeats the point of
// fd-relative extraction.  Both are refused before any system call.

import { argError, showAt, showPath } from './libc.ts';

/** PATH_MAX counts the NUL. */
const PATH_MAX = 4096;

export class CStrings {
  private readonly slots: Buffer[];

  constructor(count: number) {
    // 4 KiB and more lives outside the JS heap, so C sees a stable address.
    this.slots = Array.from({ length: count }, () => Buffer.allocUnsafeSlow(PATH_MAX + 8));
  }

  /** A whole path (any number of components) in slot `i`. */
  path(i: number, p: string | Uint8Array, syscall: string): Buffer {
    const buf = this.slots[i];
    let len: number;
    if (typeof p === 'string') {
      if (p.includes('\0')) throw argError('EINVAL', `${syscall}: path contains a NUL byte`, p);
      len = buf.write(p, 0, 'utf8');
      // write() stops before a character that does not fit: measure when near the end.
      if (len >= PATH_MAX - 4 && Buffer.byteLength(p) >= PATH_MAX) {
        throw argError('ENAMETOOLONG', `${syscall}: path longer than ${PATH_MAX - 1} bytes`, p.slice(0, 64) + '…');
      }
    } else {
      len = p.length;
      if (len >= PATH_MAX) {
        const start = showPath(p.subarray(0, 64)) + '…';
        throw argError('ENAMETOOLONG', `${syscall}: path longer than ${PATH_MAX - 1} bytes`, start);
      }
      if (p.indexOf(0) !== -1) throw argError('EINVAL', `${syscall}: path contains a NUL byte`, showPath(p));
      buf.set(p, 0);
    }
    buf[len] = 0;
    return buf;
  }

  /**
   * One directory entry name in slot `i`, for an *at() call on `dirfd`: not empty,
   * no '/', not "..".  ("." is allowed: it names the directory itself.)
   */
  name(i: number, dirfd: number, n: Uint8Array | string, syscall: string): Buffer {
    const bytes = typeof n === 'string' ? Buffer.from(n) : n;
    const len = bytes.length;
    if (len === 0 || bytes.indexOf(0x2f) !== -1 || (len === 2 && bytes[0] === 0x2e && bytes[1] === 0x2e)) {
      throw argError('EINVAL', `${syscall}: not a single file name (empty, '/' or '..')`, showAt(dirfd, bytes));
    }
    if (len > 255) {
      throw argError('ENAMETOOLONG', `${syscall}: file name longer than 255 bytes`, showAt(dirfd, bytes));
    }
    if (bytes.indexOf(0) !== -1) {
      throw argError('EINVAL', `${syscall}: file name contains a NUL byte`, showAt(dirfd, bytes));
    }
    const buf = this.slots[i];
    buf.set(bytes, 0);
    buf[len] = 0;
    return buf;
  }
}
