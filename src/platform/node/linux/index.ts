// The Linux adapter: everything the tree walker and extractor need that Node's fs
// lacks (xattrs, ACLs, chattr/FAT attributes, project ids, btrfs subvolumes,
// nanosecond times, device nodes, fd-relative never-follow operations, opening
// beneath a directory (openat2), raw-byte directory listing, NSS names, reflinks
// and hole punching), as one object.
//
// linuxFs() builds it once per thread from the libc table of libc.ts (koffi on
// Node).  Where that cannot be had it returns null, and linuxFsUnavailable() says
// why, so callers report the features as unsupported instead of dropping them.
//
// Conventions: names and paths are bytes (Buffer/Uint8Array; strings are taken
// as UTF-8), since file names need not be UTF-8; nothing follows a final symlink;
// errors are Node-style (`code`, `errno`, `syscall`, `path`, a message naming
// the call and the path), ready for ioError() to wrap.  Errno 95 is "ENOTSUP"
// (Node's name for EOPNOTSUPP).

import { libcUnavailable, loadLibc } from './libc.ts';
import { koffiBackend } from './libc-koffi.ts';
import { xattrOps, type XattrOps } from './xattr.ts';
import { flagOps, type FlagOps } from './flags.ts';
import { fsInfoOps, type FsInfoOps } from './fs-info.ts';
import { userOps, type UserOps } from './users.ts';
import { dirFdOps, type DirFdOps } from './dirfd.ts';
import { rangeOps, type RangeOps } from './file-ranges.ts';
import { beneathOps, type BeneathOps } from './beneath.ts';

export type { LinuxStat, Name } from './dirfd.ts';
export type { XattrOps, FlagOps, FsInfoOps, UserOps, DirFdOps, RangeOps, BeneathOps };
export {
  AT_FDCWD,
  O_RDONLY,
  O_WRONLY,
  O_RDWR,
  O_CREAT,
  O_EXCL,
  O_TRUNC,
  O_DIRECTORY,
  O_NOFOLLOW,
  O_CLOEXEC,
  RENAME_NOREPLACE,
  RENAME_EXCHANGE,
  makedev,
} from './dirfd.ts';
export { XATTR_CREATE, XATTR_REPLACE } from './xattr.ts';
export { FS_MAGIC } from './fs-info.ts';
export * from './flag-map.ts';
export * from './acl.ts';

/**
 * The adapter: the members are documented on the interfaces it joins (XattrOps,
 * FlagOps, FsInfoOps, UserOps, DirFdOps, RangeOps, BeneathOps).
 */
export interface LinuxFs extends XattrOps, FlagOps, FsInfoOps, UserOps, DirFdOps, RangeOps, BeneathOps {
  /** the FFI in use, e.g. "koffi 3.3.4" */
  readonly backend: string;
}

let fs: LinuxFs | null | undefined;

/** The adapter for this thread, or null (see linuxFsUnavailable()). */
export function linuxFs(): LinuxFs | null {
  if (fs !== undefined) return fs;
  const libc = loadLibc([koffiBackend]);
  if (!libc) return (fs = null);
  const info = fsInfoOps(libc);
  fs = {
    backend: libc.backend,
    ...xattrOps(libc),
    ...flagOps(libc, info.fileSystemType),
    ...info,
    ...userOps(libc),
    ...dirFdOps(libc),
    ...rangeOps(libc),
    ...beneathOps(libc),
  };
  return fs;
}

/** Why linuxFs() is null ("" when it is not). */
export const linuxFsUnavailable = (): string => libcUnavailable();
