// The two jobs of a tree made with an encoder cache (tree/cached-make.ts), on
// a worker thread: scan-files reads files whole and finds the buzhash
// candidates inside each (those whose 48-byte window lies in the file, so that
// they hold wherever the file sits in the stream) and handing small files'
// bytes back, so that their chunks need not open them again; recipe-chunks
// assembles chunks from record bytes and file ranges.  Files are opened by path without
// following a symlink; one that is shorter than its lstat size said fails the
// make, as the uncached encoder fails.

import { closeSync, constants, openSync } from 'node:fs';
import { ioError } from '../../../errors.ts';
import { CandidateScanner } from '../../../chunker/scanner.ts';
import { BUZHASH_WINDOW } from '../../../chunker/sizes.ts';
import { readFully, shrankWhileArchived } from '../io/file-io.ts';
import { KEPT_CONTENT, RECIPE_FIELDS, SCAN_SEGMENT, type RecipeChunksJob, type ScanFilesJob, type ScanFilesResult } from './jobs.ts';

const EDGE = BUZHASH_WINDOW - 1;
const O_FILE = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NOCTTY | constants.O_NONBLOCK;

function openPath(path: string): number {
  try {
    return openSync(Buffer.from(path, 'latin1'), O_FILE);
  } catch (e) {
    throw ioError('EINPUT', Buffer.from(path, 'latin1').toString(), e);
  }
}

function readRange(fd: number, path: string, buf: Uint8Array, off: number, len: number, pos: number) {
  readFully({ fd, path: Buffer.from(path, 'latin1').toString() }, buf, off, len, pos, shrankWhileArchived);
}

export function scanFiles(job: ScanFilesJob, scanner: CandidateScanner): ScanFilesResult {
  const n = job.paths.length;
  const counts = new Uint32Array(n);
  const edges = new Uint8Array(n * 2 * EDGE);
  const found: Float64Array[] = [];
  let total = 0;
  let kept = 0;
  for (const size of job.sizes) if (size <= KEPT_CONTENT) kept += size;
  const contents = new Uint8Array(kept);
  kept = 0;
  const win = scanner.window();
  for (let i = 0; i < n; i++) {
    const path = job.paths[i];
    const size = job.sizes[i];
    const fd = openPath(path);
    const mine: number[] = [];
    try {
      // Each segment is scanned with the 47 bytes before it; the first window
      // ends at byte 48 of the file, so no window reaches outside it.
      for (let start = 0; start < size; start += SCAN_SEGMENT) {
        const end = Math.min(size, start + SCAN_SEGMENT);
        const base = Math.max(0, start - EDGE);
        const len = end - base;
        readRange(fd, path, win, 0, len, base);
        if (start === 0) edges.set(win.subarray(0, EDGE), i * 2 * EDGE);
        if (end === size) edges.set(win.subarray(len - EDGE, len), i * 2 * EDGE + EDGE);
        if (size <= KEPT_CONTENT) {
          contents.set(win.subarray(0, size), kept);
          kept += size;
        }
        const from = Math.max(start - base + 1, BUZHASH_WINDOW);
        for (const c of scanner.scan(len, from, job.d, base)) mine.push(base + c);
      }
    } finally {
      closeSync(fd);
    }
    counts[i] = mine.length;
    total += mine.length;
    found.push(Float64Array.from(mine));
  }
  const candidates = new Float64Array(total);
  let o = 0;
  for (const f of found) {
    candidates.set(f, o);
    o += f.length;
  }
  return { counts, candidates, edges, contents };
}

/** The chunks' bytes, one after another in `buf` (grown as needed), and where each starts. */
export function assembleRecipes(job: RecipeChunksJob, buf: Buffer<ArrayBuffer>): { data: Buffer<ArrayBuffer>; starts: number[] } {
  let total = 0;
  for (const s of job.sizes) total += s;
  const data = buf.length >= total ? buf : Buffer.allocUnsafe(Math.max(total, 2 * buf.length));
  const starts: number[] = [];
  const fds = new Map<number, number>();
  try {
    let at = 0;
    for (const s of job.sizes) {
      starts.push(at);
      at += s;
    }
    let o = 0;
    const p = job.pieces;
    for (let i = 0; i < p.length; i += RECIPE_FIELDS) {
      const len = p[i + 3];
      if (p[i] === 0) data.set(job.bytes.subarray(p[i + 1], p[i + 1] + len), o);
      else {
        const k = p[i + 1];
        let fd = fds.get(k);
        if (fd === undefined) fds.set(k, (fd = openPath(job.paths[k])));
        readRange(fd, job.paths[k], data, o, len, p[i + 2]);
      }
      o += len;
    }
    if (o !== total) throw new Error(`recipe job: pieces cover ${o} bytes, chunks ${total}`);
  } finally {
    for (const fd of fds.values()) closeSync(fd);
  }
  return { data, starts };
}
