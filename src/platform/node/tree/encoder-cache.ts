// The encoder cache directory of make --cache=DIR (or -c: the tree's .cacac):
// loading its file, which is trusted only when it parses, its checksum holds and
// it was made for this tree with these settings (else a warning and a make
// that reads everything), and replacing it at the end under a temporary name.
// A directory it creates gets chattr's +d (nodump), as casync's does, so an
// archive made without the cache leaves it out too; the walk of a make that
// uses the cache leaves it out in any case.

import { closeSync, mkdirSync, openSync, readFileSync, statSync, writeSync, constants } from 'node:fs';
import { join } from 'node:path';
import { ioError, usageError } from '../../../errors.ts';
import { AtomicFile } from '../io/atomic-file.ts';
import { FS_NODUMP_FL, type LinuxFs } from '../linux/index.ts';
import { CACHE_FILE_NAME, type CacheSettings, type CacheWriter } from './encoder-cache-file.ts';
import { CacheProblem, CacheReader } from './encoder-cache-reader.ts';
import type { LayoutWriter } from './stream-layout.ts';

const WRITE_BYTES = 4 << 20;
const SAVE_SLACK = 16;

export class EncoderCacheDir {
  readonly dev: bigint;
  readonly ino: bigint;
  private readonly file: string;

  /** Opens (creating it if need be) the cache directory `dir`. */
  constructor(readonly dir: string, linux: LinuxFs | null) {
    let st = statSync(dir, { bigint: true, throwIfNoEntry: false });
    if (!st) {
      try {
        mkdirSync(dir, { recursive: true, mode: 0o755 });
      } catch (e) {
        throw ioError('EOUTPUT', dir, e);
      }
      if (linux) nodump(dir, linux);
      st = statSync(dir, { bigint: true });
    }
    if (!st.isDirectory()) throw usageError(`--cache=${dir}: not a directory (the encoder cache is one)`);
    this.dev = st.dev;
    this.ino = st.ino;
    this.file = join(dir, CACHE_FILE_NAME);
  }

  /** The cache, or null (none yet, or one not to trust: `warn` says why). */
  load(s: CacheSettings, warn: (m: string) => void): CacheReader | null {
    let bytes: Buffer;
    try {
      bytes = readFileSync(this.file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      warn(`${this.file}: encoder cache not used: ${(e as Error).message}`);
      return null;
    }
    try {
      return new CacheReader(bytes, s, (m) => warn(`${this.file}: ${m}`));
    } catch (e) {
      if (!(e instanceof CacheProblem) && !(e instanceof RangeError)) throw e;
      warn(`${this.file}: encoder cache not used (${e.message}); reading every file, the cache is replaced`);
      return null;
    }
  }

  /**
   * Replaces the cache with `next` and `chunks` (`added` of them new to it).
   * Not when every file entry is an old one and at most SAVE_SLACK chunk ids
   * are new (a make after no change, or after one too recent to remember): the
   * file stays as it is and the few chunks it lacks are assembled from their
   * recipes next time, which costs less than writing and summing the whole
   * file again.  Old entries the walk left out (a file changed or gone) may
   * stay: an entry is used only when its file's identity still matches.
   */
  save(s: CacheSettings, next: CacheWriter, layout: LayoutWriter, chunks: Map<string, Uint8Array>, added: number, old: CacheReader | null): void {
    if (old && added <= SAVE_SLACK && next.addsNothingTo(old.bytes)) return;
    const parts = next.finish(s, chunks, layout);
    const f = new AtomicFile(this.file, 0o644);
    try {
      // Entries of files read this time are small: written a few MiB at a time.
      const write = (b: Uint8Array) => {
        for (let o = 0; o < b.length; ) o += writeSync(f.fd, b, o, b.length - o);
      };
      let group: Uint8Array[] = [];
      let bytes = 0;
      for (const p of parts) {
        group.push(p);
        bytes += p.length;
        if (bytes >= WRITE_BYTES) {
          write(group.length === 1 ? p : Buffer.concat(group));
          group = [];
          bytes = 0;
        }
      }
      if (group.length) write(Buffer.concat(group));
      f.commit();
    } catch (e) {
      f.abort();
      throw ioError('EOUTPUT', this.file, e);
    }
  }
}

/** chattr +d where the file system has it; elsewhere the walk's own exclusion is what keeps it out. */
function nodump(dir: string, linux: LinuxFs) {
  let fd = -1;
  try {
    fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
    linux.setChattrFlags(fd, FS_NODUMP_FL, FS_NODUMP_FL);
  } catch {
    // tmpfs and others have no chattr flags
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}
