// What kind of file system an fd lives on, and where: the statfs magic (which
// decides what metadata can exist, and which "API" file systems casync refuses to
// enumerate, casync-format.md §4.6, see format/api-filesystems.ts), the mount id (for EXCLUDE_SUBMOUNTS, §7.2)
// and the btrfs subvolume state of a directory (WITH_SUBVOLUME, §4.4).
//
// The mount id comes from statx(STATX_MNT_ID) (Linux 5.8); older kernels leave
// that bit out of stx_mask and the id is read from /proc/self/fdinfo, as casync
// does.  Both give the same number.

import { readFileSync } from 'node:fs';
import { showAt, sysError, type Libc } from './libc.ts';

/** statfs f_type magics (<linux/magic.h>) that matter to casync. */
export const FS_MAGIC = {
  BTRFS: 0x9123683e,
  EXT4: 0xef53, // also ext2 and ext3
  FUSE: 0x65735546,
  MSDOS: 0x4d44, // vfat and msdos
  XFS: 0x58465342,
  TMPFS: 0x01021994,
  PROC: 0x9fa0,
} as const;

export const AT_EMPTY_PATH = 0x1000;
export const AT_SYMLINK_NOFOLLOW = 0x100;
export const STATX_INO = 0x100;
export const STATX_BASIC_STATS = 0x7ff;
export const STATX_MNT_ID = 0x1000;
/** struct statx offsets (<linux/stat.h>); the struct is 256 bytes. */
export const STATX_SIZE = 256;
export const STX = {
  mask: 0,
  nlink: 16,
  uid: 20,
  gid: 24,
  mode: 28,
  ino: 32,
  size: 40,
  blocks: 48,
  atime: 64,
  ctime: 96,
  mtime: 112,
  rdevMajor: 128,
  rdevMinor: 132,
  devMajor: 136,
  devMinor: 140,
  mntId: 144,
} as const;

/** BTRFS_IOC_SUBVOL_GETFLAGS = _IOR(0x94, 25, __u64) */
const BTRFS_IOC_SUBVOL_GETFLAGS = 0x80089419;
const BTRFS_SUBVOL_RDONLY = 0x2;
/** A btrfs subvolume's root directory always has this inode number. */
const BTRFS_FIRST_FREE_OBJECTID = 256;

export interface FsInfoOps {
  /** statfs f_type (see FS_MAGIC) */
  fileSystemType(fd: number): number;
  /** the id /proc/self/mountinfo uses; differs between a directory and a mount on it */
  mountId(fd: number): number;
  /** for a directory fd: is it a btrfs subvolume's root, and read-only?  Pass fsType (statfs magic) when known. */
  isBtrfsSubvolume(fd: number, fsType?: number): { subvolume: boolean; readOnly: boolean };
}

export function fsInfoOps(libc: Libc): FsInfoOps {
  const statfsBuf = Buffer.allocUnsafeSlow(4096); // struct statfs is 120 bytes
  const stx = Buffer.allocUnsafeSlow(4096);
  const u64 = Buffer.allocUnsafeSlow(4096);
  const empty = Buffer.alloc(1);
  const where = (fd: number) => showAt(fd, '');

  function statxFd(fd: number, mask: number): void {
    if (libc.statx(fd, empty, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, mask, stx) < 0) {
      throw sysError(libc, 'statx', libc.errno(), where(fd));
    }
  }

  const NOT_SUBVOLUME = Object.freeze({ subvolume: false, readOnly: false });

  const ops: FsInfoOps = {
    fileSystemType(fd) {
      if (libc.fstatfs(fd, statfsBuf) < 0) throw sysError(libc, 'fstatfs', libc.errno(), where(fd));
      // f_type is a long holding a 32-bit magic; the low word is the magic.
      return statfsBuf.readUInt32LE(0);
    },

    mountId(fd) {
      statxFd(fd, STATX_MNT_ID);
      if (stx.readUInt32LE(STX.mask) & STATX_MNT_ID) return Number(stx.readBigUInt64LE(STX.mntId));
      let info: string;
      try {
        info = readFileSync(`/proc/self/fdinfo/${fd}`, 'latin1');
      } catch (e) {
        throw Object.assign(new Error(`cannot read the mount id of fd ${fd}: ${(e as Error).message}`), {
          code: (e as NodeJS.ErrnoException).code ?? 'EIO',
        });
      }
      const m = /^mnt_id:\s*(\d+)/m.exec(info);
      if (!m) throw Object.assign(new Error(`no mnt_id in /proc/self/fdinfo/${fd}`), { code: 'ENOSYS' });
      return Number(m[1]);
    },

    isBtrfsSubvolume(fd, fsType) {
      if ((fsType ?? ops.fileSystemType(fd)) !== FS_MAGIC.BTRFS) return NOT_SUBVOLUME;
      statxFd(fd, STATX_INO);
      if (stx.readBigUInt64LE(STX.ino) !== BigInt(BTRFS_FIRST_FREE_OBJECTID)) return NOT_SUBVOLUME;
      u64.fill(0, 0, 8);
      if (libc.ioctl(fd, BTRFS_IOC_SUBVOL_GETFLAGS, u64) < 0) {
        throw sysError(libc, 'ioctl', libc.errno(), where(fd), { detail: 'BTRFS_IOC_SUBVOL_GETFLAGS' });
      }
      return { subvolume: true, readOnly: (u64.readUInt32LE(0) & BTRFS_SUBVOL_RDONLY) !== 0 };
    },
  };
  return ops;
}
