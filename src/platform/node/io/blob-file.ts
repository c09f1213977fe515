// Opening the blob side of make, extract and digest: regular files and block
// devices.  A block device's size comes from sysfs (Node has no ioctl), trimmed to
// the size its file system declares, as casync does (format/fs-size.ts).

import { closeSync, fstatSync, openSync, readFileSync, readSync, statSync, type Stats } from 'node:fs';
import { WasyncError, ioError } from '../../../errors.ts';
import { FS_SIZE_PROBE_BYTES, readFileSystemSize } from '../../../format/fs-size.ts';
import type { FileRef } from '../pool/jobs.ts';

export interface BlobInput extends FileRef {
  size: number;
  stat: Stats;
  isBlockDevice: boolean;
  close(): void;
}

/** Opens FILE|BLOCKDEV (or '-' for a regular file on stdin) as casync's make does. */
export function openBlobInput(path: string): BlobInput {
  const name = path === '-' ? 'standard input' : path;
  let fd: number;
  try {
    // Refuse what is neither a file nor a block device before opening it: opening a
    // FIFO would block.
    if (path !== '-') checkBlobType(statSync(path), name);
    fd = path === '-' ? 0 : openSync(path, 'r');
  } catch (e) {
    throw ioError('EINPUT', name, e);
  }
  const close = () => {
    if (fd !== 0) closeSync(fd);
  };
  const stat = fstatSync(fd);
  try {
    checkBlobType(stat, name);
  } catch (e) {
    close();
    throw e;
  }
  const size = stat.isBlockDevice() ? blockDeviceSize({ fd, path: name }, stat) : stat.size;
  return { fd, path: name, size, stat, isBlockDevice: stat.isBlockDevice(), close };
}

function checkBlobType(stat: Stats, name: string) {
  if (stat.isDirectory()) {
    throw new WasyncError('EUSAGE', `${name} is a directory, but a blob index (.caibx) was asked for`);
  }
  if (!stat.isFile() && !stat.isBlockDevice()) {
    throw new WasyncError('EUSAGE', `${name} is neither a regular file nor a block device; refusing`);
  }
}

// glibc's encoding of dev_t
export const major = (rdev: number) =>
  Number(((BigInt(rdev) >> 8n) & 0xfffn) | ((BigInt(rdev) >> 32n) & 0xfffff000n));
export const minor = (rdev: number) =>
  Number((BigInt(rdev) & 0xffn) | ((BigInt(rdev) >> 12n) & 0xffffff00n));

/** Bytes of a block device, from /sys/dev/block/MAJ:MIN/size (512-byte sectors). */
export function rawBlockDeviceSize(f: FileRef, stat: Stats): number {
  const sys = `/sys/dev/block/${major(stat.rdev)}:${minor(stat.rdev)}/size`;
  try {
    return Number(readFileSync(sys, 'latin1').trim()) * 512;
  } catch (e) {
    throw new WasyncError('EUNSUPPORTED', `${f.path}: cannot determine the block device size (${sys}: ${(e as Error).message})`);
  }
}

function blockDeviceSize(f: FileRef, stat: Stats): number {
  const size = rawBlockDeviceSize(f, stat);
  const head = new Uint8Array(FS_SIZE_PROBE_BYTES);
  const n = size >= head.length ? readSync(f.fd, head, 0, head.length, 0) : 0;
  const fsSize = n === head.length ? readFileSystemSize(head) : null;
  return fsSize !== null && fsSize < size ? fsSize : size;
}
