// --reflink: stream bytes that fetch jobs rebuilt from seed files are cloned from
// those files (FICLONERANGE) instead of written, in whole blocks aligned alike
// in both files, by casync's rules: consecutive pieces of one seed file make one
// range, and a range that ends both files takes the last partial block too.
// Where the file system cannot, the first refusal stops all further tries and
// the bytes are written as usual.

import { closeSync, constants, openSync } from 'node:fs';
import type { Origin } from '../pool/jobs.ts';
import type { LinuxFs } from '../linux/index.ts';
import { HOLE_BLOCK } from './file-writer.ts';

const OPEN_SEEDS = 64;

export class Cloner {
  /** seed-file origins of stream bytes not yet decoded, in stream order */
  private origins: Origin[] = [];
  private readonly seedFds = new Map<string, number>();
  private readonly seedSizes = new Map<number, number>();
  /** stream bytes [from, until) of file `fd` already cloned, past the piece that cloned them */
  private ahead: { fd: number; from: number; until: number } | null = null;
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
    if (!this.enabled || this.failed) return;
    for (const o of origins) {
      const last = this.origins[this.origins.length - 1];
      const follows = last && last.offset + last.length === o.offset && last.fileOffset + last.length === o.fileOffset;
      if (follows && Buffer.compare(last.path, o.path) === 0) last.length += o.length;
      else this.origins.push({ ...o });
    }
  }

  /**
   * Clones what it can of the payload piece at stream offset `offset`, `length`
   * bytes long, that belongs at file offset `pos` of `fd`, a file of `size`
   * bytes; returns the cloned ranges relative to the piece, ascending.  A range
   * goes on past the piece to the end of its origin in the file (those bytes
   * came in the same verified chunks), so the decoder's cuts between pieces
   * cost no blocks; the next pieces find that part done.
   */
  clone(fd: number, pos: number, offset: number, length: number, size: number): [number, number][] {
    const done: [number, number][] = [];
    const pieceEnd = offset + length;
    const fileEnd = offset - pos + size;
    let from = offset;
    const ahead = this.ahead;
    if (ahead && ahead.fd === fd && ahead.until > offset && ahead.from < pieceEnd) {
      done.push([Math.max(ahead.from, offset) - offset, Math.min(ahead.until, pieceEnd) - offset]);
      from = Math.min(ahead.until, pieceEnd);
      if (from === pieceEnd) return done;
    }
    while (this.origins.length && this.origins[0].offset + this.origins[0].length <= from) this.origins.shift();
    for (const o of this.origins) {
      if (o.offset >= pieceEnd || this.failed) break;
      const start = Math.max(from, o.offset);
      const end = Math.min(fileEnd, o.offset + o.length);
      if (end <= start) continue;
      const dest = pos + (start - offset);
      const src = o.fileOffset + (start - o.offset);
      if ((dest - src) % HOLE_BLOCK !== 0) continue;
      const seed = this.seedFd(o.path);
      if (seed < 0) continue;
      const a = Math.ceil(dest / HOLE_BLOCK) * HOLE_BLOCK;
      const toEof = dest + end - start >= size && src + end - start >= this.sizeOf(seed);
      const b = toEof ? dest + end - start : Math.floor((dest + end - start) / HOLE_BLOCK) * HOLE_BLOCK;
      if (b <= a) continue;
      if (!this.linux.cloneRange(seed, src + (a - dest), b - a, fd, a)) {
        this.failed = true;
        this.origins = [];
        break;
      }
      this.clonedBytes += b - a;
      if (a - pos < length) done.push([a - pos, Math.min(b - pos, length)]);
      if (b - pos > length) this.ahead = { fd, from: offset + (a - pos), until: offset + (b - pos) };
      from = offset + (b - pos);
      if (from >= pieceEnd) break;
    }
    return done;
  }

  close(): void {
    for (const fd of this.seedFds.values()) if (fd >= 0) closeSync(fd);
    this.seedFds.clear();
    this.seedSizes.clear();
  }

  private sizeOf(fd: number): number {
    let size = this.seedSizes.get(fd);
    if (size === undefined) this.seedSizes.set(fd, (size = this.linux.statFd(fd).size));
    return size;
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
