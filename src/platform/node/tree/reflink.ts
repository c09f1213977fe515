// --reflink: stream bytes that fetch jobs rebuilt from seed files are cloned from
// those files (FICLONERANGE) instead of written, in whole blocks aligned alike
// in both files.  Where the file system cannot, the first refusal stops all
// further tries and the bytes are written as usual.

import { closeSync, constants, openSync } from 'node:fs';
import type { Origin } from '../pool/jobs.ts';
import type { LinuxFs } from '../linux/index.ts';
import { HOLE_BLOCK } from './file-writer.ts';

const OPEN_SEEDS = 64;

export class Cloner {
  /** seed-file origins of stream bytes not yet decoded, in stream order */
  private origins: Origin[] = [];
  private readonly seedFds = new Map<string, number>();
  private failed = false;
  clonedBytes = 0;

  constructor(
    private readonly linux: LinuxFs,
    private readonly enabled: boolean,
  ) {}

  /** Whether there is anything to clone ahead. */
  get pending(): boolean {
    return this.origins.length > 0;
  }

  note(origins: Origin[]): void {
    if (this.enabled && !this.failed) for (const o of origins) this.origins.push(o);
  }

  /**
   * Clones what it can of the payload piece at stream offset `offset`, `length`
   * bytes long, that belongs at file offset `pos` of `fd`; returns the cloned
   * ranges relative to the piece, ascending.
   */
  clone(fd: number, pos: number, offset: number, length: number): [number, number][] {
    const done: [number, number][] = [];
    while (this.origins.length && this.origins[0].offset + this.origins[0].length <= offset) this.origins.shift();
    for (const o of this.origins) {
      if (o.offset >= offset + length || this.failed) break;
      const start = Math.max(offset, o.offset);
      const end = Math.min(offset + length, o.offset + o.length);
      const dest = pos + (start - offset);
      const src = o.fileOffset + (start - o.offset);
      if ((dest - src) % HOLE_BLOCK !== 0) continue;
      const a = Math.ceil(dest / HOLE_BLOCK) * HOLE_BLOCK;
      const b = Math.floor((dest + end - start) / HOLE_BLOCK) * HOLE_BLOCK;
      if (b <= a) continue;
      const seed = this.seedFd(o.path);
      if (seed < 0) continue;
      if (!this.linux.cloneRange(seed, src + (a - dest), b - a, fd, a)) {
        this.failed = true;
        this.origins = [];
        break;
      }
      this.clonedBytes += b - a;
      done.push([a - pos, b - pos]);
    }
    return done;
  }

  close(): void {
    for (const fd of this.seedFds.values()) if (fd >= 0) closeSync(fd);
    this.seedFds.clear();
  }

  private seedFd(path: Uint8Array): number {
    const key = Buffer.from(path).toString('latin1');
    let fd = this.seedFds.get(key);
    if (fd === undefined) {
      try {
        fd = openSync(Buffer.from(path), constants.O_RDONLY | constants.O_NOFOLLOW);
      } catch {
        fd = -1;
      }
      if (this.seedFds.size >= OPEN_SEEDS) this.close();
      this.seedFds.set(key, fd);
    }
    return fd;
  }
}
