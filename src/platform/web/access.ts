// Chunk stores for browsers and Web Workers: HTTP stores over the page's plain
// fetch, checked with the decoders of codecs.ts and digests from the wasm core only.  A page
// served over plain http has no WebCrypto (crypto.subtle exists only in secure
// contexts) and no browser has SHA-512/256, so nothing here depends on it.
//
// Also the reading of a whole index held in memory (a fetched URL or a dropped
// file) into the compact ChunkTable random access needs, and the list of its
// distinct chunks verification needs; and fetchVerified, one chunk's verdict
// together with its bytes, which is what lets the page and the verification
// workers hand each other a chunk instead of fetching it twice.

import { wasmHashFactory } from '../../wasm/sha2.ts';
import type { DigestName, HashFactory } from '../../chunk/digest.ts';
import { ChunkTableBuilder, IndexReadAt, type ChunkLoader, type ChunkTable, type IndexReadAtOptions } from '../../engine/random-access.ts';
import { DistinctChunks, verifyChunk, type ChunkVerdict } from '../../engine/verify.ts';
import { ChainStore } from '../../stores/chain-store.ts';
import { CheckedStore, type ChunkCheck } from '../../stores/checked-store.ts';
import type { ChunkSource } from '../../stores/store.ts';
import { CA_FORMAT_WITH_MASK, digestOfFlags } from '../../format/feature-flags.ts';
import { IndexParser, type IndexHeader } from '../../format/index-file.ts';
import { HttpClient, type HttpOptions } from '../../stores/http-client.ts';
import { HttpStore } from '../../stores/http-store.ts';
import { HttpPackFiles } from '../../stores/http-pack-files.ts';
import { PackStore } from '../../stores/pack-store.ts';
import { Semaphore } from '../../stores/semaphore.ts';
import { decompressChunk } from './codecs.ts';

let hashes: HashFactory | undefined;

/** A chunk's digest by the wasm core (one core instance per thread, used whole). */
export function digestBytes(name: DigestName, data: Uint8Array): Uint8Array {
  hashes ??= wasmHashFactory();
  const h = hashes(name);
  h.update(data);
  return h.digest();
}

/** The check of chunks with `digest` ids: the browser's decoders, the wasm core's digests. */
export const webCheck = (digest: DigestName): ChunkCheck => ({ digest, decompress: decompressChunk, idOf: (data) => digestBytes(digest, data) });

/**
 * The browser's fetch past its HTTP cache (`cache: 'no-store'`): what is
 * verified must be the store's copy, not one kept from an earlier run, and the
 * cache's writing of every byte fetched to disk (a file and a CRC per entry, in
 * the network process) cost the page a fifth of its CPU time.  Chunks the page
 * reuses are kept in memory (chunk-share.ts).
 */
const uncachedFetch: typeof fetch = (input, init) => fetch(input, { ...init, cache: 'no-store' });

/**
 * HTTP stores tried in order, every copy checked (a corrupt one falls through
 * to the next store), each read through its pack files where it has them
 * (pack-store.ts), with at most `concurrency` requests in flight a store, each
 * of up to 8 MiB (a verification worker's batch: verify-pool.ts), their bodies
 * read into reused buffers and checked there (PackStoreOptions.lent: only the
 * CheckedStore, which keeps nothing of them, sees those bytes).
 */
export function webStores(storeUrls: readonly string[], digest: DigestName, http: HttpOptions | HttpClient = {}, concurrency = 16): ChunkSource {
  const client = http instanceof HttpClient ? http : new HttpClient({ fetch: uncachedFetch, ...http });
  const check = webCheck(digest);
  return new ChainStore(
    storeUrls.map((u) => {
      const gate = new Semaphore(concurrency);
      const packed = new PackStore(new HttpStore(u, client, gate), new HttpPackFiles(u, client, gate), { maxRequests: concurrency, maxRequestBytes: 8 << 20, lent: true });
      return new CheckedStore(packed, check, { rereadCorrupt: true });
    }),
  );
}

/** A chunk judged as `verify` judges it, with its bytes when it is good. */
export async function fetchVerified(source: ChunkSource, id: Uint8Array, size: number): Promise<{ verdict: ChunkVerdict; data: Uint8Array | null }> {
  let data: Uint8Array | null = null;
  const keeping = {
    read: async (hex: string, n: number) => {
      const r = await source.read(hex, n);
      data = r?.data ?? null;
      return r;
    },
  };
  return { verdict: await verifyChunk(keeping, id, size), data };
}

export interface LoadedIndex {
  /** the name it was read under (URL or file name), for messages */
  name: string;
  header: IndexHeader;
  digest: DigestName;
  /** archive index (.caidx): by its suffix, else by "with" feature flags, which blob indexes lack */
  archive: boolean;
  table: ChunkTable;
  chunks: DistinctChunks;
  /** bytes of the blob or archive it describes */
  size: number;
}

/** Parses a complete .caibx or .caidx; format errors name `name` and the byte offset. */
export function readIndex(bytes: Uint8Array, name: string): LoadedIndex {
  const parser = new IndexParser(name);
  const builder = new ChunkTableBuilder();
  const chunks = new DistinctChunks();
  // In slices, so that no array of a million entry objects is ever held.
  const SLICE = 1 << 20;
  for (let o = 0; o < bytes.length; o += SLICE) {
    const batch = parser.push(bytes.subarray(o, o + SLICE));
    builder.add(batch);
    chunks.add(batch);
  }
  const { size } = parser.end();
  const header = parser.header!;
  const path = name.replace(/[?#].*$/, '');
  const archive = path.endsWith('.caidx') || (!path.endsWith('.caibx') && (header.flags & CA_FORMAT_WITH_MASK) !== 0n);
  return { name, header, digest: digestOfFlags(header.flags), archive, table: builder.finish(), chunks, size };
}

/** The stream an index describes, read at any offset, its chunks from `load` (loadFrom(a source), a ChunkShare). */
export function indexReader(index: LoadedIndex, load: ChunkLoader, o: Pick<IndexReadAtOptions, 'cacheChunks' | 'readAhead'> = {}): IndexReadAt {
  return new IndexReadAt({ table: index.table, load, file: index.name, ...o });
}
