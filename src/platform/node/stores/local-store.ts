// A casync chunk store in a local directory (casync-format.md §5):
// <store>/<4hex>/<64hex>.cacnk holds a compressed chunk, <store>/<4hex>/<64hex> an
// uncompressed one, and a symlink from <64hex> to /dev/null marks a chunk known to
// be missing.  Writes go to a temporary name in the same directory and are linked
// into place, so a chunk file is never partial and never replaced.  Synchronous:
// it runs inside worker threads, one chunk after another.

import {
  closeSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readSync,
  readlinkSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { threadId } from 'node:worker_threads';
import { CHUNK_SUFFIX, chunkPathBase } from '../../../chunk/chunk-id.ts';

let tmpCounter = 0;

export interface StoredChunk {
  data: Uint8Array;
  compressed: boolean;
  path: string;
}

export class LocalStore {
  private readonly knownDirs = new Set<string>();
  private buf = Buffer.alloc(0);

  constructor(readonly dir: string) {}

  pathOf(hex: string, compressed = true): string {
    return `${this.dir}/${chunkPathBase(hex)}${compressed ? CHUNK_SUFFIX : ''}`;
  }

  has(hex: string): boolean {
    return (
      statSync(this.pathOf(hex), { throwIfNoEntry: false }) !== undefined ||
      statSync(this.pathOf(hex, false), { throwIfNoEntry: false }) !== undefined
    );
  }

  /**
   * The stored bytes, or null if the store lacks the chunk (or marks it missing).
   * The bytes are valid until the next read.
   */
  read(hex: string): StoredChunk | null {
    const compressedPath = this.pathOf(hex);
    const data = this.readIfExists(compressedPath);
    if (data) return { data, compressed: true, path: compressedPath };
    const plainPath = this.pathOf(hex, false);
    const st = lstatSync(plainPath, { throwIfNoEntry: false });
    if (!st) return null;
    if (st.isSymbolicLink() && readlinkSync(plainPath) === '/dev/null') return null;
    const plain = this.readIfExists(plainPath);
    return plain ? { data: plain, compressed: false, path: plainPath } : null;
  }

  /** Reads a whole file into this store's buffer (chunk files are small). */
  private readIfExists(path: string): Uint8Array | null {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    try {
      // A short read from a regular file is its end: that saves asking for the
      // size first, one system call per chunk.
      let done = 0;
      for (;;) {
        if (done === this.buf.length) {
          const bigger = Buffer.allocUnsafe(Math.max(2 * this.buf.length, 1 << 19));
          this.buf.copy(bigger, 0, 0, done);
          this.buf = bigger;
        }
        const want = this.buf.length - done;
        const n = readSync(fd, this.buf, done, want, done);
        done += n;
        if (n < want) break;
      }
      return this.buf.subarray(0, done);
    } finally {
      closeSync(fd);
    }
  }

  /** Stores compressed chunk bytes; false if the chunk was already there. */
  write(hex: string, compressed: Uint8Array): boolean {
    const sub = `${this.dir}/${hex.slice(0, 4)}`;
    if (!this.knownDirs.has(sub)) {
      mkdirSync(sub, { recursive: true, mode: 0o777 });
      this.knownDirs.add(sub);
    }
    const final = this.pathOf(hex);
    const tmp = `${sub}/${hex}.${process.pid}-${threadId}-${tmpCounter++}.tmp`;
    writeFileSync(tmp, compressed, { mode: 0o444, flag: 'wx' });
    try {
      linkSync(tmp, final);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e;
    } finally {
      unlinkSync(tmp);
    }
  }
}
