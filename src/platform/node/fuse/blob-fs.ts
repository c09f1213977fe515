// The file system a mounted blob index (.caibx) shows: the blob as one read-only
// regular file.  Mounted on a directory, the root is a directory holding that
// file under the index's name without ".caibx"; mounted on a regular file, the
// root is the file itself (FUSE allows a non-directory root), so the blob
// appears at the mount point's own path, ready for losetup or a loop mount.
//
// The file is mode 0444, the directory 0555, both owned by whoever mounted, with
// the index file's mtime.  Sequential reads announce the range that follows,
// so that the chunks behind it are fetched while the kernel copies.

import type { ReadAt } from '../../../engine/random-access.ts';
import { S_IFDIR, S_IFREG } from '../../../format/catar-node.ts';
import { FuseError, type FuseDirEntry, type FuseFs, type FuseXattr } from './fuse-session.ts';
import { errno, FUSE_ROOT_ID, type FuseAttr, type StatfsOut } from './fuse-protocol.ts';

const FILE_ID = 2;

export interface BlobFsOptions {
  /** the file's name in the root directory; null: the root is the file */
  name: Uint8Array | null;
  mtimeNs: bigint;
  uid: number;
  gid: number;
  readAhead?(offset: number, length: number): void;
  readAheadBytes?: number;
}

export class BlobFs implements FuseFs {
  private readonly fileId: number;
  private readonly lastEnd = new Map<number, number>();
  private nextHandle = 1;

  constructor(
    private readonly data: ReadAt,
    private readonly o: BlobFsOptions,
  ) {
    this.fileId = o.name === null ? FUSE_ROOT_ID : FILE_ID;
  }

  private attr(id: number): FuseAttr {
    const file = id === this.fileId;
    if (!file && !(id === FUSE_ROOT_ID && this.o.name)) throw new FuseError(errno.ESTALE, `unknown node id ${id}`);
    return {
      ino: id,
      size: file ? this.data.size : 0,
      mtimeNs: this.o.mtimeNs,
      mode: file ? S_IFREG | 0o444 : S_IFDIR | 0o555,
      nlink: 1,
      uid: this.o.uid,
      gid: this.o.gid,
      rdev: 0,
    };
  }

  async lookup(parent: number, name: Uint8Array): Promise<{ nodeid: number; attr: FuseAttr } | null> {
    if (parent !== FUSE_ROOT_ID || !this.o.name) throw new FuseError(errno.ENOTDIR);
    if (Buffer.compare(Buffer.from(name), Buffer.from(this.o.name)) !== 0) return null;
    return { nodeid: FILE_ID, attr: this.attr(FILE_ID) };
  }

  forget(): void {}

  async getattr(nodeid: number): Promise<FuseAttr> {
    return this.attr(nodeid);
  }

  async readlink(): Promise<Uint8Array> {
    throw new FuseError(errno.EINVAL);
  }

  async open(nodeid: number, dir: boolean): Promise<number> {
    if (dir !== (nodeid !== this.fileId)) throw new FuseError(dir ? errno.ENOTDIR : errno.EISDIR);
    const fh = this.nextHandle++;
    this.lastEnd.set(fh, 0);
    return fh;
  }

  release(fh: number): void {
    this.lastEnd.delete(fh);
  }

  async read(fh: number, offset: number, size: number): Promise<Uint8Array> {
    const last = this.lastEnd.get(fh);
    if (last === undefined) throw new FuseError(errno.EBADF);
    const total = this.data.size;
    const length = Math.max(0, Math.min(size, total - offset));
    if (length === 0) return new Uint8Array(0);
    if (this.o.readAhead && Math.abs(offset - last) <= 4 << 20 && offset + length < total) {
      const from = offset + length;
      this.o.readAhead(from, Math.min(this.o.readAheadBytes ?? 8 << 20, total - from));
    }
    this.lastEnd.set(fh, Math.max(last, offset + length));
    return this.data.read(offset, length);
  }

  async readdir(): Promise<readonly FuseDirEntry[]> {
    const dot = (name: string): FuseDirEntry => ({ name: Buffer.from(name), ino: FUSE_ROOT_ID, type: S_IFDIR >> 12 });
    return [dot('.'), dot('..'), { name: this.o.name!, ino: FILE_ID, type: S_IFREG >> 12 }];
  }

  statfs(): StatfsOut {
    return { blocks: Math.ceil(this.data.size / 4096), files: 0, bsize: 4096, namelen: 255 };
  }

  async xattrs(): Promise<readonly FuseXattr[]> {
    return [];
  }

  async ioctl(): Promise<Uint8Array> {
    throw new FuseError(errno.ENOTTY);
  }
}
