// Block sharing and deallocation within files, for extraction: FICLONERANGE makes
// a range of the output share extents with a seed file (btrfs, XFS with reflink,
// bcachefs; no data is copied), and fallocate(PUNCH_HOLE) turns a range of zeros
// back into a hole.  Both are optimisations the caller can always replace with
// plain writes, so "this file system cannot" is a false return, not an error;
// real failures (EBADF, EIO, ENOSPC, …) still throw.
//
// FICLONERANGE needs both offsets and the length aligned to the file system's
// block size (except a range that ends at the source's EOF); unaligned ranges
// give EINVAL, which also reads as "cannot" here.

import { showAt, sysError, type Libc } from './libc.ts';

/** _IOW(0x94, 13, struct file_clone_range) */
const FICLONERANGE = 0x4020940d;
const FALLOC_FL_KEEP_SIZE = 0x1;
const FALLOC_FL_PUNCH_HOLE = 0x2;

const EINVAL = 22;
const EXDEV = 18;
const ENOTTY = 25;
const ENOSYS = 38;
const ENOTSUP = 95;

export interface RangeOps {
  /** FICLONERANGE; false where the file systems cannot share these blocks */
  cloneRange(srcFd: number, srcOffset: number, length: number, dstFd: number, dstOffset: number): boolean;
  /** fallocate(PUNCH_HOLE|KEEP_SIZE); false where the file system cannot */
  punchHole(fd: number, offset: number, length: number): boolean;
}

export function rangeOps(libc: Libc): RangeOps {
  // struct file_clone_range { s64 src_fd; u64 src_offset, src_length, dest_offset; }
  const range = Buffer.allocUnsafeSlow(4096);
  const where = (fd: number) => showAt(fd, '');

  return {
    cloneRange(srcFd, srcOffset, length, dstFd, dstOffset) {
      range.writeBigInt64LE(BigInt(srcFd), 0);
      range.writeBigUInt64LE(BigInt(srcOffset), 8);
      range.writeBigUInt64LE(BigInt(length), 16);
      range.writeBigUInt64LE(BigInt(dstOffset), 24);
      if (libc.ioctl(dstFd, FICLONERANGE, range) >= 0) return true;
      const errno = libc.errno();
      const cannot = errno === ENOTSUP || errno === EXDEV || errno === EINVAL || errno === ENOTTY || errno === ENOSYS;
      if (cannot) return false;
      throw sysError(libc, 'ioctl', errno, where(dstFd), { detail: `FICLONERANGE from ${where(srcFd)}` });
    },

    punchHole(fd, offset, length) {
      if (libc.fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length) >= 0) return true;
      const errno = libc.errno();
      if (errno === ENOTSUP || errno === ENOSYS) return false;
      throw sysError(libc, 'fallocate', errno, where(fd), { detail: 'FALLOC_FL_PUNCH_HOLE' });
    },
  };
}
