// Random access on Node (see engine/random-access.ts): a ReadAt over a local file
// (.catar, or a blob), and one over the stream an index describes, its chunks taken
// from local stores and remote (HTTP) ones, the index itself local or remote.  Store reads are asynchronous (fs.promises), so read-ahead
// overlaps with decoding; decompression runs on this thread through the same
// codecs as the worker jobs (zstd, gzip, xz by magic).
//
// A store is a directory holding <4hex>/<64hex>.cacnk (compressed) or <4hex>/<64hex>
// (uncompressed; a symlink to /dev/null there marks a chunk known to be missing),
// as casync-format.md §5 and local-store.ts describe.

import { lstat, open, readFile, readlink, type FileHandle } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { WasyncError, ioError, networkError } from '../../../errors.ts';
import { CHUNK_SUFFIX, chunkPathBase } from '../../../chunk/chunk-id.ts';
import { digestOfFlags } from '../../../format/feature-flags.ts';
import { IndexParser, type IndexHeader } from '../../../format/index-file.ts';
import {
  ChunkTable,
  ChunkTableBuilder,
  IndexReadAt,
  checkRange,
  type ChunkAccess,
  type ChunkStoreReader,
  type ReadAt,
  type StoredChunk,
} from '../../../engine/random-access.ts';
import { ChunkCodec } from '../stores/chunk-codec.ts';
import { HttpClient } from '../../../stores/http-client.ts';
import { HttpStore } from '../../../stores/http-store.ts';
import { classifyLocator } from '../../../stores/locator.ts';
import { RelayedStore, isRelayLocator } from '../stores/store-relay.ts';

/** A local file read at offsets; close() when done. */
export class FileReadAt implements ReadAt {
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

/** A local store directory, read asynchronously. */
export function localStoreReader(dir: string): ChunkStoreReader {
  const read = async (path: string): Promise<Uint8Array | null> => {
    try {
      return await readFile(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw ioError('EINPUT', path, e);
    }
  };
  return {
    name: dir,
    async get(hex: string): Promise<StoredChunk | null> {
      const base = `${dir}/${chunkPathBase(hex)}`;
      const packed = await read(base + CHUNK_SUFFIX);
      if (packed) return { data: packed, compressed: true, where: base + CHUNK_SUFFIX };
      try {
        const st = await lstat(base);
        if (st.isSymbolicLink() && (await readlink(base)) === '/dev/null') return null;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw ioError('EINPUT', base, e);
      }
      const plain = await read(base);
      return plain ? { data: plain, compressed: false, where: base } : null;
    },
  };
}

/** Chunk access over stores (paths or URLs, in the order given) with Node's codecs and digests. */
export function nodeChunkAccess(stores: readonly string[], client: HttpClient = new HttpClient()): ChunkAccess {
  const codec = new ChunkCodec();
  return {
    stores: stores.map((loc) =>
      isRelayLocator(loc) ? new RelayedStore(loc) : classifyLocator(loc) === 'url' ? new HttpStore(loc, client) : localStoreReader(loc),
    ),
    async decompress(data, size) {
      const out = codec.decompress(data, size);
      // The zstd codec hands out a view of a buffer the next call reuses: copy
      // it before any await, since other reads' decompressions may run there
      // (on Deno several file reads resolve in one turn and interleave so).
      // Results that come as promises are fresh buffers.
      if (out === null || out instanceof Promise) return out;
      return Uint8Array.prototype.slice.call(out);
    },
    digest: (name, data) => createHash(name).update(data).digest(),
  };
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
    const bytes = await (client ?? new HttpClient()).get(loc);
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

/** A ReadAt over the stream of an index (.caidx or .caibx, a path or URL), chunks from `stores`. */
export async function openIndexReadAt(
  loc: string,
  stores: readonly string[],
  options: { cacheChunks?: number; readAhead?: number; client?: HttpClient } = {},
): Promise<OpenedIndex> {
  const { client, ...rest } = options;
  const { header, table } = await readChunkTable(loc, client);
  const reader = new IndexReadAt({
    table,
    digest: digestOfFlags(header.flags),
    access: nodeChunkAccess(stores, client),
    file: loc,
    ...rest,
  });
  return { header, reader };
}
