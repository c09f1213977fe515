// A casync chunk store in a local directory (casync-format.md §5):
// <store>/<4hex>/<64hex>.cacnk holds a compressed chunk, <store>/<4hex>/<64hex> an
// uncompressed one, and a symlink from <64hex> to /dev/null marks a chunk known to
// be missing.  Writes go to a temporary name in the same directory and are linked
// into place, so a chunk file is never partial and never replaced.
//
// The first chunk written creates the store's directory, but not its parents,
// as casync does (a mistyped path fails instead of growing a tree).  A store
// read from may not exist: it then has no chunks, and absent() says so for the
// message about a chunk found nowhere.
//
// The calls are synchronous inside async methods: worker threads read one chunk
// after another, and a small file read costs less than a trip through libuv's
// thread pool.  A chunk read lands in memory of its own, or in the caller's
// reused buffer when it offers one (see ChunkStore.get).

import { closeSync, fstatSync, linkSync, lstatSync, mkdirSync, openSync, readdirSync, readSync, readlinkSync, rmdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { threadId } from 'node:worker_threads';
import { CHUNK_SUFFIX, chunkPathBase, isChunkIdHex } from '../../../chunk/chunk-id.ts';
import { storedUncompressed } from '../../../chunk/compression.ts';
import { WasyncError, ioError, storeWriteError } from '../../../errors.ts';
import type { StoreSpec } from '../../../stores/store-graph.ts';
import type { WriteStore } from '../../../stores/store.ts';

let tmpCounter = 0;

export class LocalStore implements WriteStore {
  private readonly knownDirs = new Set<string>();
  private made = false;
  /** chunk directories gc emptied and removed */
  removedDirectories = 0;

  /** `suffix`: what chunk files are named with after their id (an encrypted store's is longer: encrypted-store.ts) */
  constructor(
    readonly dir: string,
    readonly suffix = CHUNK_SUFFIX,
  ) {}

  /** The same directory, its chunk files named `<id><suffix>`. */
  withSuffix(suffix: string): LocalStore {
    return new LocalStore(this.dir, suffix);
  }

  /** The suffixes chunk `id` is stored under here (plain, or encrypted under some key), for messages. */
  async suffixesOf(id: string): Promise<string[]> {
    let names: string[];
    try {
      names = readdirSync(`${this.dir}/${id.slice(0, 4)}`);
    } catch {
      return [];
    }
    return names.filter((n) => n.startsWith(id) && !n.endsWith('.tmp')).map((n) => n.slice(id.length));
  }

  get name(): string {
    return this.dir;
  }

  pathOf(id: string, compressed = true): string {
    return `${this.dir}/${chunkPathBase(id)}${compressed ? this.suffix : ''}`;
  }

  where(id: string): string {
    return this.pathOf(id);
  }

  async has(id: string): Promise<boolean> {
    if (statSync(this.pathOf(id), { throwIfNoEntry: false }) !== undefined) return true;
    return this.suffix === CHUNK_SUFFIX && statSync(this.pathOf(id, false), { throwIfNoEntry: false }) !== undefined;
  }

  /** The stored bytes, or null if the store lacks the chunk (or marks it missing). */
  async get(id: string, into?: Uint8Array): Promise<Uint8Array | null> {
    const packed = readIfExists(this.pathOf(id), into);
    if (packed) return packed;
    // An uncompressed <id> file is a plain chunk, never one of another suffix's.
    if (this.suffix !== CHUNK_SUFFIX) return null;
    const plainPath = this.pathOf(id, false);
    const st = lstatSync(plainPath, { throwIfNoEntry: false });
    if (!st || (st.isSymbolicLink() && readlinkSync(plainPath) === '/dev/null')) return null;
    const plain = readIfExists(plainPath);
    return plain && storedUncompressed(plain);
  }

  /** Stores a compressed chunk; false if the chunk was already there. */
  async put(id: string, chunk: Uint8Array): Promise<boolean> {
    const sub = `${this.dir}/${id.slice(0, 4)}`;
    if (!this.knownDirs.has(sub)) {
      if (!this.made) this.create();
      try {
        mkdirSync(sub, { recursive: true, mode: 0o777 });
      } catch (e) {
        throw storeWriteError(this.dir, id, e);
      }
      this.knownDirs.add(sub);
    }
    const tmp = `${sub}/${id}.${process.pid}-${threadId}-${tmpCounter++}.tmp`;
    try {
      // A write that fails half-way (a full file system) has still created the
      // temporary file: the finally removes it whatever failed.
      try {
        writeFileSync(tmp, chunk, { mode: 0o444, flag: 'wx' });
        linkSync(tmp, this.pathOf(id));
        return true;
      } finally {
        unlinkIfThere(tmp);
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw storeWriteError(this.dir, id, e);
    }
  }

  /** Removes the chunk's .cacnk file, and its directory once that is empty. */
  async remove(id: string): Promise<boolean> {
    try {
      unlinkSync(this.pathOf(id));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw ioError('EOUTPUT', this.pathOf(id), e);
    }
    const sub = `${this.dir}/${id.slice(0, 4)}`;
    try {
      rmdirSync(sub);
      this.knownDirs.delete(sub);
      this.removedDirectories++;
    } catch {}
    return true;
  }

  /** The ids of the .cacnk files, directory by directory; names that are no chunk id are reported, not listed. */
  async *list(onStray?: (path: string) => void): AsyncIterable<string> {
    let subdirs: string[];
    try {
      subdirs = readdirSync(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new WasyncError('EINPUT', `store ${this.dir} does not exist`);
      throw ioError('EINPUT', this.dir, e);
    }
    for (const sub of subdirs) {
      const dir = `${this.dir}/${sub}`;
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOTDIR') continue;
        throw ioError('EINPUT', dir, e);
      }
      for (const name of names) {
        if (!name.endsWith(this.suffix)) continue;
        const id = name.slice(0, -this.suffix.length);
        if (isChunkIdHex(id)) yield id;
        else onStray?.(`${dir}/${name}`);
      }
    }
  }

  /** [this store] when its directory does not exist. */
  absent(): string[] {
    return statSync(this.dir, { throwIfNoEntry: false }) ? [] : [this.dir];
  }

  private create(): void {
    try {
      mkdirSync(this.dir, { mode: 0o777 });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new WasyncError('EOUTPUT', `store ${this.dir} cannot be created: its parent directory does not exist`);
      if (code !== 'EEXIST') throw ioError('EOUTPUT', this.dir, e);
    }
    this.made = true;
  }

  async close(): Promise<void> {}

  describe(): StoreSpec {
    return { kind: 'local', dir: this.dir };
  }
}

function unlinkIfThere(path: string) {
  try {
    unlinkSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

/** A whole small file (in `into` when it fits), or null if there is none. */
function readIfExists(path: string, into?: Uint8Array): Uint8Array | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw ioError('EINPUT', path, e);
  }
  try {
    // A short read is the end of a regular file: no size asked, no second read.
    const n = into ? readSync(fd, into, 0, into.length, 0) : -1;
    if (n >= 0 && n < into!.length) return into!.subarray(0, n);
    const buf = Buffer.allocUnsafeSlow(fstatSync(fd).size);
    let done = 0;
    while (done < buf.length) {
      const got = readSync(fd, buf, done, buf.length - done, done);
      if (got === 0) break;
      done += got;
    }
    return buf.subarray(0, done);
  } catch (e) {
    throw ioError('EINPUT', path, e);
  } finally {
    closeSync(fd);
  }
}
