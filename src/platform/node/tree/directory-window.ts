// Which of the directories being extracted keep an open descriptor.  Each
// directory on extraction's stack needs one while it is filled, but a tree
// 10,000 levels deep would keep 10,000: only the deepest OPEN_LEVELS levels,
// and every ANCHOR-th level above them, keep theirs.  A level that leaves the
// deepest few is closed (once the file jobs writing into it are done: they use
// its descriptor); when extraction climbs back into a closed directory it is
// opened again by name from the nearest open level above it, together with
// the closed levels in between, and must be the same directory (device and
// inode) it was.  Opens stay linear in the depth, descriptors near
// depth / ANCHOR + OPEN_LEVELS + ANCHOR.

import { WasyncError } from '../../../errors.ts';
import type { LinuxFs } from '../linux/index.ts';
import { wrapError } from './file-writer.ts';

const OPEN_LEVELS = 32;
const ANCHOR = 128;

/** What the window needs of one directory on the stack. */
export interface WindowedDir {
  /** -1 while closed */
  fd: number;
  /** its name in its parent; null for the target */
  readonly name: Buffer | null;
  readonly path: string;
  /** file jobs not yet done in it */
  pending: number;
  /** device and inode, recorded when closed, checked when opened again */
  id?: { dev: number; ino: bigint };
  /** to be closed once its file jobs are done */
  parked?: boolean;
}

export class DirectoryWindow {
  constructor(
    private readonly linux: LinuxFs,
    private readonly stack: readonly WindowedDir[],
    private readonly closeDir: (fd: number) => void,
  ) {}

  /** A directory was pushed: the level that left the deepest few closes. */
  pushed(): void {
    const level = this.stack.length - 1 - OPEN_LEVELS;
    if (level <= 0 || level % ANCHOR === 0) return;
    const d = this.stack[level];
    if (d.fd < 0) return;
    if (d.pending) d.parked = true;
    else this.close(d);
  }

  /** The file jobs of a directory still being filled are done. */
  jobsDone(d: WindowedDir): void {
    if (d.parked) this.close(d);
  }

  /** A directory was popped: the one now on top is filled again, so it is open. */
  popped(): void {
    const top = this.stack.length - 1;
    if (top < 0) return;
    this.stack[top].parked = false;
    if (this.stack[top].fd >= 0) return;
    let from = top;
    while (this.stack[from - 1].fd < 0) from--;
    for (let k = from; k <= top; k++) this.reopen(this.stack[k - 1].fd, this.stack[k]);
  }

  private close(d: WindowedDir) {
    const st = this.linux.statFd(d.fd);
    d.id = { dev: st.dev, ino: st.ino };
    this.closeDir(d.fd);
    d.fd = -1;
    d.parked = false;
  }

  private reopen(parentFd: number, d: WindowedDir) {
    try {
      const fd = this.linux.openDirAt(parentFd, d.name!);
      const st = this.linux.statFd(fd);
      if (st.dev !== d.id!.dev || st.ino !== d.id!.ino) {
        this.linux.close(fd);
        throw new WasyncError('EOUTPUT', `${d.path}: was replaced by another directory during extraction`);
      }
      d.fd = fd;
    } catch (e) {
      throw wrapError(e, d.path);
    }
  }
}
