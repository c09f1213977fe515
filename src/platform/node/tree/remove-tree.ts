// Removing what extraction replaces or --delete drops, relative to directory fds
// and never through a symlink.  With --undo-immutable, chattr +i and +a are
// cleared first where they block the removal, as casync does.

import { WasyncError } from '../../../errors.ts';
import { FS_APPEND_FL, FS_IMMUTABLE_FL, O_NOFOLLOW, O_RDONLY, type LinuxFs } from '../linux/index.ts';

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;

export class Remover {
  constructor(
    private readonly linux: LinuxFs,
    private readonly undoImmutable: boolean,
  ) {}

  /** Removes `name` in the directory `dirfd`, a whole subtree if it is a directory. */
  remove(dirfd: number, name: Buffer, where: () => string): void {
    const st = this.linux.statAt(dirfd, name);
    if (!st) return;
    const isDir = (st.mode & S_IFMT) === S_IFDIR;
    if (isDir) {
      const fd = this.linux.openDirAt(dirfd, name);
      try {
        this.clearFlags(fd);
        for (const child of this.linux.readDirAt(fd)) this.remove(fd, child, () => `${where()}/${child}`);
      } finally {
        this.linux.close(fd);
      }
    }
    try {
      this.linux.unlinkAt(dirfd, name, isDir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EPERM' || isDir) throw this.explain(e, where);
      // An immutable or append-only file: its flags need a descriptor.
      const fd = this.linux.openFileAt(dirfd, name, O_RDONLY | O_NOFOLLOW);
      try {
        this.clearFlags(fd);
      } finally {
        this.linux.close(fd);
      }
      try {
        this.linux.unlinkAt(dirfd, name, false);
      } catch (e2) {
        throw this.explain(e2, where);
      }
    }
  }

  private clearFlags(fd: number) {
    const flags = this.linux.getChattrFlags(fd);
    const blocking = (flags ?? 0) & (FS_IMMUTABLE_FL | FS_APPEND_FL);
    if (blocking && this.undoImmutable) this.linux.setChattrFlags(fd, 0, blocking);
  }

  private explain(e: unknown, where: () => string): WasyncError {
    const err = e as NodeJS.ErrnoException;
    const hint = err.code === 'EPERM' && !this.undoImmutable ? ' (immutable or append-only? try --undo-immutable=yes)' : '';
    return new WasyncError('EOUTPUT', `${where()}: cannot remove: ${err.code ?? ''} ${err.message}${hint}`);
  }
}

