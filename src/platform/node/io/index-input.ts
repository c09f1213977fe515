// Reading an index file (or standard input, or a URL) as a byte stream, plus the
// blob size its last item states, known before the stream is parsed, for checking
// that the output has room and for sizing the work.  A remote index is small
// (48 bytes per chunk) and is downloaded whole first.

import { closeSync, createReadStream, fstatSync, openSync, readSync } from 'node:fs';
import { ioError, networkError } from '../../../errors.ts';
import type { HttpClient } from '../../../stores/http-client.ts';
import { classifyLocator } from '../../../stores/locator.ts';
import { INDEX_ITEM_SIZE, INDEX_PREAMBLE_SIZE, INDEX_TAIL_SIZE } from '../../../format/index-file.ts';

export interface IndexInput {
  name: string;
  bytes: AsyncIterable<Uint8Array>;
  /** The blob size by the last item (not yet validated), or null for a stream. */
  blobSize: number | null;
}

export function openIndexInput(path: string | null): IndexInput {
  if (path === null) return { name: 'standard input', bytes: failing(process.stdin, 'standard input'), blobSize: null };
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw ioError('EINPUT', path, e);
  }
  let blobSize: number | null = null;
  try {
    const size = fstatSync(fd).size;
    if (size >= INDEX_PREAMBLE_SIZE + INDEX_ITEM_SIZE + INDEX_TAIL_SIZE) {
      const b = Buffer.alloc(8);
      readSync(fd, b, 0, 8, size - INDEX_TAIL_SIZE - INDEX_ITEM_SIZE);
      blobSize = Number(b.readBigUInt64LE(0));
    } else if (size === INDEX_PREAMBLE_SIZE + INDEX_TAIL_SIZE) {
      blobSize = 0;
    }
  } catch (e) {
    closeSync(fd);
    throw ioError('EINPUT', path, e);
  }
  return { name: path, bytes: failing(createReadStream(path, { fd, highWaterMark: 1 << 20 }), path), blobSize };
}

/** A local path, '-'/null for standard input, or a URL fetched with `client`. */
export async function openIndexLocator(loc: string | null, client: HttpClient): Promise<IndexInput> {
  if (loc === null || classifyLocator(loc) !== 'url') return openIndexInput(loc);
  const bytes = await client.get(loc);
  if (!bytes) throw networkError(`${loc}: not found (404)`);
  return indexFromBytes(bytes, loc);
}

/** An index held in memory. */
export const indexFromBytes = (bytes: Uint8Array, name = 'index'): IndexInput => ({
  name,
  bytes: (async function* () {
    yield bytes;
  })(),
  blobSize: blobSizeOf(bytes),
});

function blobSizeOf(b: Uint8Array): number | null {
  if (b.length >= INDEX_PREAMBLE_SIZE + INDEX_ITEM_SIZE + INDEX_TAIL_SIZE) {
    return Number(new DataView(b.buffer, b.byteOffset + b.length - INDEX_TAIL_SIZE - INDEX_ITEM_SIZE, 8).getBigUint64(0, true));
  }
  return b.length === INDEX_PREAMBLE_SIZE + INDEX_TAIL_SIZE ? 0 : null;
}

async function* failing(stream: AsyncIterable<Uint8Array>, name: string): AsyncGenerator<Uint8Array> {
  try {
    yield* stream;
  } catch (e) {
    throw ioError('EINPUT', name, e);
  }
}
