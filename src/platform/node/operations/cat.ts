// cat(): a byte range of the blob (or archive stream) an index describes,
// written to a file, standard output or a callback, fetching only the chunks
// the range spans (desync's `cat --offset --length`).  It reads through the
// random-access reader mount and mkdev use (seeds first, then the stores,
// every chunk checked on the worker threads), a few chunks ahead of the
// writer, so memory stays bounded whatever the range.  A range that runs past
// the end of the blob is refused before any chunk is fetched (desync fails
// there too, after writing what there was).

import { closeSync, openSync, statSync, writeSync } from 'node:fs';
import { toHex } from '../../../chunk/chunk-id.ts';
import { ioError, usageError } from '../../../errors.ts';
import { stripFileUrl } from '../../../stores/locator.ts';
import { AtomicFile } from '../io/atomic-file.ts';
import { writeFully } from '../io/file-io.ts';
import { writeStdout } from '../io/stdout.ts';
import { checkAborted } from './common.ts';
import { openIndexReader, type IndexServeOptions } from './mount-source.ts';

/** Chunks fetched ahead of the one being written. */
const AHEAD = 8;
/** Bytes of chunks kept by id, so that a chunk repeated in the range (zeros, mostly) is fetched once. */
const KEPT_BYTES = 32 << 20;

export interface CatOptions extends IndexServeOptions {
  /** a .caibx or .caidx: a path, URL or ssh location */
  index: string;
  /** first byte (default 0) */
  offset?: number;
  /** bytes to write (default: to the end) */
  length?: number;
  /**
   * a file (written under a temporary name and renamed when complete), a
   * FIFO or device (written in place from its start), '-' for standard output, or a callback taking the bytes in order; default '-'
   */
  output?: string | ((bytes: Uint8Array) => void | Promise<void>);
  signal?: AbortSignal;
}

export interface CatResult {
  offset: number;
  /** bytes written */
  length: number;
  /** bytes of the whole blob */
  size: number;
  /** chunks the range spans, and those fetched from seeds or stores */
  chunks: number;
  fetched: number;
}

/** Writes all of `b` at the descriptor's position (a pipe takes no offsets). */
function sequentialWrite(fd: number, path: string, b: Uint8Array): void {
  try {
    for (let done = 0; done < b.length; ) done += writeSync(fd, b, done, b.length - done);
  } catch (e) {
    throw ioError('EOUTPUT', path, e);
  }
}

const wholeNumber = (name: string, v: number | undefined) => {
  if (v !== undefined && !(Number.isSafeInteger(v) && v >= 0)) throw usageError(`--${name}=${v}: expected a whole number of bytes`);
};

/** Bytes [offset, offset + length) of the index's blob, to `output`. */
export async function cat(o: CatOptions): Promise<CatResult> {
  if (typeof o?.index !== 'string') throw usageError('cat: `index` (a path, URL or ssh location) is required');
  wholeNumber('offset', o.offset);
  wholeNumber('length', o.length);
  checkAborted(o.signal);
  const index = stripFileUrl(o.index);
  const opened = await openIndexReader(index, o, { cacheChunks: () => 2 * AHEAD + 2, readAhead: 0, treeSeeds: false });
  let file: AtomicFile | null = null;
  let device: number | null = null;
  try {
    const r = opened.reader;
    const t = r.table;
    const offset = o.offset ?? 0;
    if (offset > r.size) throw usageError(`${index}: --offset=${offset} is past the end of the blob (${r.size} bytes)`);
    const length = o.length ?? r.size - offset;
    if (offset + length > r.size) {
      throw usageError(`${index}: --offset=${offset} --length=${length} runs past the end of the blob (${r.size} bytes, ${r.size - offset} from the offset)`);
    }
    const out = o.output ?? '-';
    let written = 0;
    let write: (b: Uint8Array) => void | Promise<void>;
    if (typeof out === 'function') write = out;
    else if (out === '-') write = writeStdout;
    else {
      const path = stripFileUrl(out);
      const st = statSync(path, { throwIfNoEntry: false });
      if (st && !st.isFile() && !st.isDirectory()) {
        // A FIFO, character or block device is written in place, from its start, as desync writes it; never replaced.
        try {
          device = openSync(path, st.isBlockDevice() ? 'r+' : 'w');
        } catch (e) {
          throw ioError('EOUTPUT', path, e);
        }
        const fd = device;
        write = (b) => sequentialWrite(fd, path, b);
      } else {
        const f = (file = new AtomicFile(path, 0o666));
        write = (b) => writeFully({ fd: f.fd, path: f.path }, b, written);
      }
    }
    const end = offset + length;
    const first = length ? t.find(offset) : 0;
    const last = length ? t.find(end - 1) : -1;
    // The reader's cache is by chunk number; this one is by id, most recently used last.
    const kept = new Map<string, { bytes: Promise<Uint8Array>; size: number }>();
    let keptBytes = 0;
    const chunkAt = (i: number): Promise<Uint8Array> => {
      const id = toHex(t.id(i));
      let k = kept.get(id);
      if (k) kept.delete(id);
      else {
        k = { bytes: r.chunk(i), size: t.end(i) - t.start(i) };
        k.bytes.catch(() => {}); // surfaces where it is awaited
        keptBytes += k.size;
      }
      kept.set(id, k);
      // The oldest go first, never those of the window being written.
      for (const [old, { size }] of kept) {
        if (keptBytes <= KEPT_BYTES || kept.size <= AHEAD + 1) break;
        kept.delete(old);
        keptBytes -= size;
      }
      return k.bytes;
    };
    // Fetched in order, AHEAD at a time; each written as soon as it and those before it are in.
    for (let i = first; i <= Math.min(last, first + AHEAD - 1); i++) void chunkAt(i);
    for (let i = first; i <= last; i++) {
      checkAborted(o.signal);
      if (i + AHEAD <= last) void chunkAt(i + AHEAD);
      const c = await chunkAt(i);
      const from = Math.max(offset, t.start(i)) - t.start(i);
      const to = Math.min(end, t.end(i)) - t.start(i);
      const piece = c.subarray(from, to);
      await write(piece);
      written += piece.length;
    }
    if (file) {
      try {
        file.commit();
      } catch (e) {
        throw ioError('EOUTPUT', file.path, e);
      }
      file = null;
    }
    return { offset, length, size: r.size, chunks: last - first + 1, fetched: r.fetched };
  } finally {
    file?.abort();
    if (device !== null) closeSync(device);
    await opened.close();
  }
}
