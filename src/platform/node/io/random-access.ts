// Random access on Node (see engine/random-access.ts): a ReadAt over a local file
// (.catar, or a blob), the chunk table of an index (a path or URL), and a
// ReadAt over the stream an index describes, its chunks read on this thread
// from a ChunkSource (stores that check every copy).  Commands that serve an
// index to many readers (mount, mkdev) read its chunks on the worker pool
// instead (operations/extraction.ts).

import { open, type FileHandle } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { WasyncError, ioError, networkError } from '../../../errors.ts';
import { IndexParser, type IndexHeader } from '../../../format/index-file.ts';
import { ChunkTable, ChunkTableBuilder, IndexReadAt, checkRange, loadFrom, type ReadAt } from '../../../engine/random-access.ts';
import { classifyLocator } from '../../../stores/locator.ts';
import type { ChunkSource } from '../../../stores/store.ts';
import { httpClient } from '../storage/node-fetch.ts';
import type { HttpClient } from '../../../stores/http-client.ts';

const BLOCK = 1 << 16;
const SMALL = 4096;
const BLOCKS_KEPT = 4;

/**
 * A local file read at offsets; close() when done.  Small reads (a record, a
 * GOODBYE item: what path lookups make, thousands of them for a deep path) are
 * served from the last few 64 KiB blocks read, one system call per block
 * instead of one per record.
 */
export class FileReadAt implements ReadAt {
  private readonly blocks = new Map<number, Promise<Uint8Array>>();

  private constructor(
    private readonly handle: FileHandle,
    readonly size: number,
    readonly path: string,
  ) {}

  static async open(path: string): Promise<FileReadAt> {
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (e) {
      throw ioError('EINPUT', path, e);
    }
    try {
      const st = await handle.stat();
      if (!st.isFile()) throw new WasyncError('EINPUT', `${path}: not a regular file`);
      return new FileReadAt(handle, st.size, path);
    } catch (e) {
      await handle.close();
      throw ioError('EINPUT', path, e);
    }
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length, this.path);
    const b = Math.floor(offset / BLOCK);
    if (length <= SMALL && Math.floor((offset + length - 1) / BLOCK) === b) {
      const block = await this.block(b);
      return block.subarray(offset - b * BLOCK, offset - b * BLOCK + length);
    }
    return this.readNew(offset, length);
  }

  private block(b: number): Promise<Uint8Array> {
    let p = this.blocks.get(b);
    if (p) {
      this.blocks.delete(b); // most recently used last
    } else {
      p = this.readNew(b * BLOCK, Math.min(BLOCK, this.size - b * BLOCK));
      p.catch(() => this.blocks.delete(b));
      if (this.blocks.size >= BLOCKS_KEPT) this.blocks.delete(this.blocks.keys().next().value!);
    }
    this.blocks.set(b, p);
    return p;
  }

  private async readNew(offset: number, length: number): Promise<Uint8Array> {
    const buf = new Uint8Array(length);
    let done = 0;
    try {
      while (done < length) {
        const { bytesRead } = await this.handle.read(buf, done, length - done, offset + done);
        if (bytesRead === 0) {
          throw new WasyncError('EINPUT', `${this.path}: unexpected end of file at byte ${offset + done} (the file shrank?)`);
        }
        done += bytesRead;
      }
    } catch (e) {
      throw ioError('EINPUT', this.path, e);
    }
    return buf;
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

export interface OpenedIndex {
  header: IndexHeader;
  reader: IndexReadAt;
}

/** Reads and validates an index file (a path or URL), keeping its table compactly. */
export async function readChunkTable(loc: string, client?: HttpClient): Promise<{ header: IndexHeader; table: ChunkTable }> {
  const parser = new IndexParser(loc);
  const table = new ChunkTableBuilder();
  if (classifyLocator(loc) === 'url') {
    const bytes = await (client ?? httpClient()).get(loc);
    if (!bytes) throw networkError(`${loc}: not found (404)`);
    table.add(parser.push(bytes));
  } else {
    try {
      for await (const piece of createReadStream(loc, { highWaterMark: 1 << 20 })) table.add(parser.push(piece as Buffer));
    } catch (e) {
      throw ioError('EINPUT', loc, e);
    }
  }
  parser.end();
  return { header: parser.header!, table: table.finish() };
}

/** A ReadAt over the stream of an index (.caidx or .caibx, a path or URL), its chunks read from `source` on this thread. */
export async function openIndexReadAt(
  loc: string,
  source: ChunkSource,
  options: { cacheChunks?: number; readAhead?: number; client?: HttpClient } = {},
): Promise<OpenedIndex> {
  const { client, ...rest } = options;
  const { header, table } = await readChunkTable(loc, client);
  return { header, reader: new IndexReadAt({ table, load: loadFrom(source), file: loc, ...rest }) };
}
