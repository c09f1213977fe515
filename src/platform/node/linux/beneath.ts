// Opening a path beneath a directory descriptor, the kernel resolving it: a
// server confined to a directory takes request paths that may pass through
// symlinks, and checking a path as a string (realpath, then open) leaves a window
// in which a component can be swapped for a link out.  openat2() with
// RESOLVE_BENEATH resolves every component, symlinks included, and fails with
// EXDEV the moment the walk would leave the directory (an absolute link, ".."
// above it, a link whose target lies outside), so what is opened is inside.
//
// Kernels before 5.6 lack openat2, and seccomp filters that do not know it
// answer ENOSYS too: there every component is opened with O_NOFOLLOW instead,
// stricter (any symlink gives ELOOP) but never outside.

import { sysError, showAt, type Libc } from './libc.ts';
import { CStrings } from './c-strings.ts';
import { STATX_SIZE } from './fs-info.ts';
import { O_CLOEXEC, O_DIRECTORY, O_NOFOLLOW, noFollowErrno } from './dirfd.ts';

const RESOLVE_NO_MAGICLINKS = 0x02;
const RESOLVE_BENEATH = 0x08;
const OPEN_HOW_SIZE = 24;
const ENOSYS = 38;
const EXDEV = 18;

export interface BeneathOps {
  /**
   * openat2(dirfd, path, flags | O_CLOEXEC, mode) with RESOLVE_BENEATH: `path` is
   * relative ("" or "." is the directory itself), symlinks are followed only
   * while they stay beneath `dirfd` (a final one too, unless `flags` has
   * O_NOFOLLOW); leaving it fails with EXDEV (ELOOP for any symlink on kernels
   * without openat2).
   */
  openBeneath(dirfd: number, path: string, flags: number, mode?: number): number;
}

export function beneathOps(libc: Libc): BeneathOps {
  const c = new CStrings(1);
  const how = Buffer.alloc(OPEN_HOW_SIZE);
  const stx = Buffer.allocUnsafeSlow(Math.max(STATX_SIZE, 4096));
  let haveOpenat2 = true;

  const fail = (syscall: string, dirfd: number, path: string, errno = libc.errno()) =>
    sysError(libc, syscall, errno, showAt(dirfd, path));

  function openat2(dirfd: number, path: string, flags: number, mode: number): number | null {
    how.writeBigUInt64LE(BigInt(flags | O_CLOEXEC), 0);
    how.writeBigUInt64LE(BigInt(mode), 8);
    how.writeBigUInt64LE(BigInt(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS), 16);
    const fd = libc.openat2(dirfd, c.path(0, path === '' ? '.' : path, 'openat2'), how, OPEN_HOW_SIZE);
    if (fd >= 0) return fd;
    const errno = libc.errno();
    if (errno === ENOSYS) return null;
    throw fail('openat2', dirfd, path, errno);
  }

  /** One component at a time, none of them a symlink. */
  function walk(dirfd: number, path: string, flags: number, mode: number): number {
    const parts = path.split('/').filter((p) => p !== '' && p !== '.');
    if (parts.includes('..')) throw fail('openat', dirfd, path, EXDEV);
    if (parts.length === 0) parts.push('.');
    let at = dirfd;
    try {
      for (let i = 0; i < parts.length; i++) {
        const last = i === parts.length - 1;
        const f = last ? flags | O_NOFOLLOW | O_CLOEXEC : O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
        const name = c.path(0, parts[i], 'openat');
        const fd = libc.openat(at, name, f, last ? mode : 0);
        // (A symlink is reported as ELOOP, as openat2 would, directories too.)
        if (fd < 0) throw fail('openat', dirfd, parts.slice(0, i + 1).join('/'), noFollowErrno(libc, stx, at, name, f));
        if (at !== dirfd) libc.close(at);
        at = fd;
      }
      return at;
    } catch (e) {
      if (at !== dirfd) libc.close(at);
      throw e;
    }
  }

  return {
    openBeneath(dirfd, path, flags, mode = 0) {
      if (haveOpenat2) {
        const fd = openat2(dirfd, path, flags, mode);
        if (fd !== null) return fd;
        haveOpenat2 = false;
      }
      return walk(dirfd, path, flags, mode);
    },
  };
}
