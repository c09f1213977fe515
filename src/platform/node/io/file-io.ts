// Positional reads and writes that finish the job (short reads and writes are
// continued) and name the file in their errors; inputs may be a file or a ring.

import { readAt, writeAt } from './fd-io.ts';
import { WasyncError, ioError } from '../../../errors.ts';
import type { FileRef, InputRef } from '../pool/jobs.ts';

/** Copies input[pos, pos + len) into buf at off. */
export function readInput(f: InputRef, buf: Uint8Array, off: number, len: number, pos: number) {
  if (!('ring' in f)) return readFully(f, buf, off, len, pos);
  const size = f.ring.byteLength;
  const at = pos % size;
  const first = Math.min(len, size - at);
  buf.set(new Uint8Array(f.ring, at, first), off);
  if (first < len) buf.set(new Uint8Array(f.ring, 0, len - first), off + first);
}

/** A file ended before the bytes it should have (at: where it ended, end: how far it was read). */
type Ended = (path: string, at: number, end: number) => WasyncError;

const endOfFile: Ended = (path, at) => new WasyncError('EINPUT', `${path}: unexpected end of file at byte ${at}`);

/** For a file being archived: its lstat size promised more. */
export const shrankWhileArchived: Ended = (path, at, end) =>
  new WasyncError('EINPUT', `${path}: the file shrank while it was archived (it ends at byte ${at}, ${end} wanted)`);

export function readFully(f: FileRef, buf: Uint8Array, off: number, len: number, pos: number, ended = endOfFile) {
  let done = 0;
  try {
    while (done < len) {
      const n = readAt(f.fd, buf, off + done, len - done, pos + done);
      if (n === 0) throw ended(f.path, pos + done, pos + len);
      done += n;
    }
  } catch (e) {
    throw ioError('EINPUT', f.path, e);
  }
}

export function writeFully(f: FileRef, data: Uint8Array, pos: number) {
  let done = 0;
  try {
    while (done < data.length) done += writeAt(f.fd, data, done, data.length - done, pos + done);
  } catch (e) {
    throw ioError('EOUTPUT', f.path, e);
  }
}
