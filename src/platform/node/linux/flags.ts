// Per-inode attribute words read and written with ioctls on an open fd: chattr
// flags (FS_IOC_GETFLAGS/SETFLAGS), FAT attributes (FAT_IOCTL_GET/SET_ATTRIBUTES)
// and the project quota id (FS_IOC_FSGETXATTR/FSSETXATTR).  The fd must be a
// regular file or directory opened for reading (an O_PATH fd gets EBADF, which is
// reported, not mistaken for "unsupported").
//
// As in casync: a file system without the ioctl reads as "none" (null here, so
// the caller can tell "none" from "all clear"), and writing the all-clear value
// to such a file system succeeds, since there is nothing to restore.  Anything
// else that cannot be written throws.  Writes are read-modify-write under a mask
// that defaults to the bits casync knows, because writing a whole word would
// clear flags casync never recorded, and clearing ext4's extents flag ('e')
// makes the kernel convert the file back to indirect blocks.
//
// The FAT ioctls are only issued on vfat and FUSE, as casync does: on other file
// systems an ioctl number in the 'r' range has no defined meaning.

import { showAt, sysError, type Libc } from './libc.ts';
import { FS_MAGIC } from './fs-info.ts';
import { CHATTR_KNOWN, FAT_KNOWN } from './flag-map.ts';

/** _IOR('f', 1, long) and _IOW('f', 2, long); the kernel moves an int. */
const FS_IOC_GETFLAGS = 0x80086601;
const FS_IOC_SETFLAGS = 0x40086602;
/** _IOR('r', 0x10, __u32) and _IOW('r', 0x11, __u32) */
const FAT_IOCTL_GET_ATTRIBUTES = 0x80047210;
const FAT_IOCTL_SET_ATTRIBUTES = 0x40047211;
/** _IOR('X', 31, struct fsxattr) and _IOW('X', 32, struct fsxattr); the struct is 28 bytes. */
const FS_IOC_FSGETXATTR = 0x801c581f;
const FS_IOC_FSSETXATTR = 0x401c5820;
const FSX_PROJID = 12;

const ENOTTY = 25;
const EINVAL = 22;
const ENOSYS = 38;
const ENOTSUP = 95;
const unsupported = (errno: number) => errno === ENOTTY || errno === ENOTSUP || errno === EINVAL || errno === ENOSYS;

export interface FlagOps {
  /** FS_*_FL word; null where the file system has no chattr flags */
  getChattrFlags(fd: number): number | null;
  /** sets the `mask` bits (default: the ten casync knows) to those of `flags`, keeping the rest */
  setChattrFlags(fd: number, flags: number, mask?: number): void;
  /** ATTR_* word on vfat and FUSE, null elsewhere; pass fsType (statfs magic) when known */
  getFatAttributes(fd: number, fsType?: number): number | null;
  /** sets the `mask` bits (default: hidden, system, archive) to those of `attrs` */
  setFatAttributes(fd: number, attrs: number, mask?: number, fsType?: number): void;
  /** fsx_projid; null where the file system has none */
  getProjectId(fd: number): number | null;
  setProjectId(fd: number, id: number): void;
}

export function flagOps(libc: Libc, fileSystemType: (fd: number) => number): FlagOps {
  // One page so the address is stable; ioctls write at most 28 bytes here.
  const arg = Buffer.allocUnsafeSlow(4096);
  const where = (fd: number) => showAt(fd, '');
  const fail = (fd: number, request: string, errno = libc.errno()) =>
    sysError(libc, 'ioctl', errno, where(fd), { detail: request });
  const isFat = (fd: number, fsType?: number) => {
    const t = fsType ?? fileSystemType(fd);
    return t === FS_MAGIC.MSDOS || t === FS_MAGIC.FUSE;
  };

  /** Reads a 32-bit word with `request`; null where unsupported. */
  function readWord(fd: number, request: number, name: string): number | null {
    arg.writeUInt32LE(0, 0);
    if (libc.ioctl(fd, request, arg) < 0) {
      const errno = libc.errno();
      if (unsupported(errno)) return null;
      throw fail(fd, name, errno);
    }
    return arg.readUInt32LE(0);
  }

  /** Read-modify-write of the `mask` bits of a 32-bit word. */
  function maskWord(fd: number, get: number, set: number, name: string, value: number, mask: number): void {
    if (mask === 0) return;
    const want = (value & mask) >>> 0;
    const old = readWord(fd, get, `${name} (get)`);
    if (old === null) {
      if (want === 0) return;
      throw fail(fd, `${name} (set)`, ENOTSUP);
    }
    const next = ((old & ~mask) | want) >>> 0;
    if (next === old) return;
    arg.writeUInt32LE(next, 0);
    if (libc.ioctl(fd, set, arg) < 0) {
      const errno = libc.errno();
      if (want === 0 && unsupported(errno)) return;
      throw fail(fd, `${name} (set)`, errno);
    }
  }

  return {
    getChattrFlags: (fd) => readWord(fd, FS_IOC_GETFLAGS, 'FS_IOC_GETFLAGS'),

    setChattrFlags(fd, flags, mask = CHATTR_KNOWN) {
      maskWord(fd, FS_IOC_GETFLAGS, FS_IOC_SETFLAGS, 'FS_IOC_SETFLAGS', flags, mask);
    },

    getFatAttributes(fd, fsType) {
      return isFat(fd, fsType) ? readWord(fd, FAT_IOCTL_GET_ATTRIBUTES, 'FAT_IOCTL_GET_ATTRIBUTES') : null;
    },

    setFatAttributes(fd, attrs, mask = FAT_KNOWN, fsType) {
      if (!isFat(fd, fsType)) {
        if ((attrs & mask) === 0) return;
        throw fail(fd, 'FAT_IOCTL_SET_ATTRIBUTES on a file system that is not FAT', ENOTSUP);
      }
      maskWord(fd, FAT_IOCTL_GET_ATTRIBUTES, FAT_IOCTL_SET_ATTRIBUTES, 'FAT_IOCTL_SET_ATTRIBUTES', attrs, mask);
    },

    getProjectId(fd) {
      arg.fill(0, 0, 28);
      if (libc.ioctl(fd, FS_IOC_FSGETXATTR, arg) < 0) {
        const errno = libc.errno();
        if (unsupported(errno)) return null;
        throw fail(fd, 'FS_IOC_FSGETXATTR', errno);
      }
      return arg.readUInt32LE(FSX_PROJID);
    },

    setProjectId(fd, id) {
      arg.fill(0, 0, 28);
      if (libc.ioctl(fd, FS_IOC_FSGETXATTR, arg) < 0) {
        const errno = libc.errno();
        if (id === 0 && unsupported(errno)) return;
        throw fail(fd, 'FS_IOC_FSGETXATTR', errno);
      }
      if (arg.readUInt32LE(FSX_PROJID) === id >>> 0) return;
      // The other fields go back as read, so only the project id changes.
      arg.writeUInt32LE(id >>> 0, FSX_PROJID);
      if (libc.ioctl(fd, FS_IOC_FSSETXATTR, arg) < 0) throw fail(fd, 'FS_IOC_FSSETXATTR');
    },
  };
}
