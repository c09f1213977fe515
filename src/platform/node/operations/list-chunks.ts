// listChunks(): the chunk table of an index, in order, as desync's
// `list-chunks` and `inspect-chunks` show it: each chunk's id, offset and
// size, and, given a local store, the size of its stored (compressed, maybe
// encrypted) file there.  Only a local store is asked: stat of a file costs
// nothing, where a remote store would have to send every chunk.  The table
// streams out in batches, so a huge index needs no memory to list.

import { statSync } from 'node:fs';
import { CHUNK_SUFFIX, toHex } from '../../../chunk/chunk-id.ts';
import { openIndexStream } from '../../../engine/index-stream.ts';
import { usageError } from '../../../errors.ts';
import { classifyLocator, stripFileUrl } from '../../../stores/locator.ts';
import { EncryptedStore } from '../../../stores/encrypted-store.ts';
import type { ChunkStore } from '../../../stores/store.ts';
import { indexFromBytes, openIndexLocator } from '../io/index-input.ts';
import { LocalStore } from '../storage/local-store.ts';
import { checkAborted, type OperationOptions } from './common.ts';
import { Network, type NetworkOptions } from './network.ts';
import { OperationStores, type StoreChoice } from './stores.ts';

export interface ListedChunk {
  id: string;
  offset: number;
  size: number;
  /** bytes of the chunk's file in the store; null when the store lacks it (or none was given) */
  storedSize: number | null;
}

export interface ListChunksOptions extends NetworkOptions, Pick<StoreChoice, 'encryption'>, Pick<OperationOptions, 'signal'> {
  /** a .caibx or .caidx: a path, URL, '-' for standard input, or its bytes */
  index: string | Uint8Array;
  /** a local store whose stored sizes are reported */
  store?: string;
  /** each batch, in index order; without it the result carries the whole list */
  onChunks?(chunks: ListedChunk[]): void | Promise<void>;
}

export interface ListChunksResult {
  /** chunks in the index, and bytes of the blob or archive stream */
  count: number;
  size: number;
  /** the chunks, when no onChunks was given */
  chunks?: ListedChunk[];
}

/** The local directory a store keeps its chunk files in, or null for anything else. */
function localFiles(s: ChunkStore): LocalStore | null {
  if (s instanceof LocalStore) return s;
  if (s instanceof EncryptedStore && s.inner instanceof LocalStore) return s.inner;
  return null;
}

export async function listChunks(o: ListChunksOptions): Promise<ListChunksResult> {
  if (typeof o?.index !== 'string' && !(o?.index instanceof Uint8Array)) throw usageError('list-chunks: `index` (a path, URL or the bytes of an index) is required');
  checkAborted(o.signal);
  const net = new Network(o);
  const stores = new OperationStores(net, false);
  try {
    let files: LocalStore | null = null;
    if (o.store !== undefined) {
      if (classifyLocator(stripFileUrl(o.store)) !== 'path') throw usageError(`${o.store}: stored sizes are read from a local store only`);
      files = localFiles(stores.resolve(o.store, 'store', o.encryption));
    }
    const input = typeof o.index === 'string' ? await openIndexLocator(o.index === '-' ? null : stripFileUrl(o.index), net.client) : indexFromBytes(o.index);
    const { entries } = await openIndexStream(input.bytes, input.name);
    const plain = !!files && files.suffix === CHUNK_SUFFIX;
    const kept: ListedChunk[] | undefined = o.onChunks ? undefined : [];
    let count = 0;
    let size = 0;
    for await (const batch of entries) {
      checkAborted(o.signal);
      const listed = batch.map((e): ListedChunk => {
        const id = toHex(e.id);
        // casync also keeps chunks uncompressed, as a file named by the bare id.
        const stored = files && (statSync(files.pathOf(id), { throwIfNoEntry: false }) ?? (plain ? statSync(files.pathOf(id, false), { throwIfNoEntry: false }) : undefined));
        return { id, offset: e.offset, size: e.size, storedSize: stored ? stored.size : null };
      });
      count += listed.length;
      if (listed.length) size = listed[listed.length - 1].offset + listed[listed.length - 1].size;
      if (kept) kept.push(...listed);
      else await o.onChunks!(listed);
    }
    return { count, size, chunks: kept };
  } finally {
    stores.close();
    await net.close();
  }
}
