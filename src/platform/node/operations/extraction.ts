// The one set-up of everything that reads an index's chunks: extract of a blob
// (to a file, a block device, standard output or a callback), of a tree, the
// digest of a blob index, and random access (mount, mkdev).  It opens the index
// (a path, a URL, an ssh location, standard input or bytes) and reads its
// header, picks the digest, starts the executors, chooses the stores (ssh ones
// share the index's connection) and describes them for the worker threads,
// and prepares the seeds.  close() undoes it all in order: the jobs in flight
// end first, since they may read seeds or wait on a relayed store.

import { openIndexStream } from '../../../engine/index-stream.ts';
import { ChunkTableBuilder, IndexReadAt } from '../../../engine/random-access.ts';
import type { DigestName } from '../../../chunk/digest.ts';
import { digestOfFlags } from '../../../format/feature-flags.ts';
import type { IndexEntry, IndexHeader } from '../../../format/index-file.ts';
import { classifyLocator, stripFileUrl } from '../../../stores/locator.ts';
import type { StoreGraph } from '../../../stores/store-graph.ts';
import { absentOf } from '../../../stores/store.ts';
import { indexFromBytes, openIndexLocator, type IndexInput } from '../io/index-input.ts';
import { checkSigned, checkSignedBytes, refuseUnsignable, trustPolicy, type TrustOptions } from '../trust/signed-input.ts';
import type { Signer, TrustPolicy } from '../../../trust/signature-check.ts';
import { formatError } from '../../../errors.ts';
import type { LinuxFs } from '../linux/index.ts';
import { Executors } from '../pool/executors.ts';
import { extractBlob, type ExtractBlobOptions, type ExtractBlobResult } from '../pool/extract-blob.ts';
import { poolChunkLoader } from '../pool/chunk-loader.ts';
import { prepareSeeds, seedsStale, type Seeds } from '../seeds/prepare-seeds.ts';
import { digestOf } from '../storage/node-check.ts';
import { abortable, type OperationOptions } from './common.ts';
import { Network, type NetworkOptions } from './network.ts';
import { OperationStores, type StoreChoice } from './stores.ts';

/** Zero runs are cut into chunks of the largest size; ids of all-zero chunks up to this size are known up front. */
const ZERO_ID_LIMIT = 16 << 20;

export interface ExtractionSetup extends Pick<OperationOptions, 'workers' | 'signal' | 'onWarning' | 'notify'> {
  /** a path, URL or ssh location; the index's bytes; null for standard input */
  index: string | Uint8Array | null;
  stores: StoreChoice;
  network?: NetworkOptions;
  /** files, block devices and (with `trees`) directories whose chunks are used first */
  seeds?: string[];
  /** directory seeds allowed, read with this adapter; a seed that cannot be read is left out with a warning */
  trees?: LinuxFs;
  /** random access: worker threads whatever the size */
  pool?: boolean;
  /** the calling thread runs chunk jobs too (Executors' shareCaller): it has nothing else to do while they run */
  shareCaller?: boolean;
  /**
   * notify 'ready' once the index is open and the stores chosen, before the
   * seeds are chunked: casync's moment for extract and digest (mount and
   * mkdev are ready later, once they serve)
   */
  announceReady?: boolean;
  /** the keys the index must be signed with; checked before any chunk is asked for */
  trust?: TrustOptions;
}

/** The largest index read whole to check its signature (48 bytes a chunk: some 350 GiB of 64 KiB chunks). */
const SIGNED_INDEX_LIMIT = 256 << 20;

export class Extraction {
  private constructor(
    readonly name: string,
    readonly header: IndexHeader,
    readonly digest: DigestName,
    /** bytes of the blob or archive stream by the index's last item, when known before it is read */
    readonly blobSize: number | null,
    private readonly stream: AsyncIterable<IndexEntry[]>,
    readonly executors: Executors,
    readonly stores: StoreGraph,
    /** the stores read from, for messages ("a, b") */
    readonly storeNames: string,
    /** those of them that do not exist (local directories), asked when chunks were found nowhere */
    readonly absentStores: () => string[],
    readonly seeds: Seeds,
    /** who signed the index, when trusted keys were given */
    readonly signer: Signer | null,
    private readonly setup: ExtractionSetup,
    private readonly release: () => Promise<void>,
  ) {}

  static async open(s: ExtractionSetup): Promise<Extraction> {
    const policy = trustPolicy(s.trust);
    if (policy && (s.index === null || s.index === '-')) refuseUnsignable('an index on standard input');
    const net = new Network(s.network);
    const stores = new OperationStores(net);
    const executors: Executors[] = [];
    let seeds: Seeds | null = null;
    const release = async () => {
      await Promise.all(executors.map((e) => e.close()));
      seeds?.close();
      stores.close();
      await net.close();
    };
    try {
      const loc = typeof s.index === 'string' ? stripFileUrl(s.index) : null;
      let index = await openIndex(s.index, net, stores.locators(s.stores, loc));
      let signer: Signer | null = null;
      if (policy) ({ index, signer } = await checkedIndex(index, s, policy, net));
      const { header, entries } = await openIndexStream(index.bytes, index.name);
      const digest = digestOfFlags(header.flags);
      const e = new Executors(s.pool ? Infinity : (index.blobSize ?? Infinity), s.workers, !!s.shareCaller);
      executors.push(e);
      const reading = stores.reading(s.stores, loc);
      const graph = stores.graph(reading, e.chunks.parallelism);
      const notify = s.notify;
      if (s.announceReady) notify?.({ state: 'ready' });
      seeds = await prepareSeeds(s.seeds ?? [], {
        header,
        digest,
        executor: e.chunks,
        onWarning: s.onWarning,
        onProgress: notify && ((seed, done, total) => notify({ state: 'seeding', seed, done, total })),
        trees: s.trees && { linux: s.trees },
        lenient: !!s.trees,
      });
      return new Extraction(index.name, header, digest, index.blobSize, abortable(entries, s.signal), e, graph, reading.name, () => absentOf(reading), seeds, signer, s, release);
    } catch (e) {
      await release();
      throw e;
    }
  }

  /** The index's entries, in batches, as they are read (once). */
  entries(): AsyncIterable<IndexEntry[]> {
    return this.stream;
  }

  /** Reassembles the stream: seeds first, then the stores, every chunk checked against its id. */
  run(o: Pick<ExtractBlobOptions, 'out' | 'holes' | 'reflink' | 'compareOutput' | 'onData' | 'reuseData' | 'depthPerThread' | 'seedTrees' | 'progress'> & { zeros?: boolean; onEntries?(batch: IndexEntry[]): void }): Promise<ExtractBlobResult> {
    const entries = o.onEntries ? watched(this.stream, o.onEntries) : this.stream;
    return extractBlob({
      ...o,
      entries,
      digest: this.digest,
      stores: this.stores,
      seeds: this.seeds.index,
      seedFiles: this.seeds.files,
      executor: this.executors.chunks,
      zeroIds: o.zeros ? this.zeroIds() : undefined,
      onWarning: this.setup.onWarning,
    });
  }

  /** After run(): drops the seed-index entries used if seed chunks no longer matched (true if any). */
  settle(r: ExtractBlobResult): boolean {
    return r.seedMisses > 0 && seedsStale(this.seeds);
  }

  /** The whole stream read at any offset, its chunks fetched and checked on the worker threads. */
  async reader(tuning: { cacheChunks: number; readAhead: number }): Promise<IndexReadAt> {
    const table = new ChunkTableBuilder();
    for await (const batch of this.stream) table.add(batch);
    const warned = new Set<string>();
    const load = poolChunkLoader({
      executor: this.executors.chunks,
      digest: this.digest,
      stores: this.stores,
      seeds: this.seeds,
      onWarning: (w) => {
        if (!warned.has(w)) this.setup.onWarning?.(w);
        warned.add(w);
      },
    });
    return new IndexReadAt({ table: table.finish(), load, cacheChunks: tuning.cacheChunks, readAhead: tuning.readAhead, file: this.name });
  }

  close(): Promise<void> {
    return this.release();
  }

  /** Ids of all-zero chunks of the sizes zero runs are cut into (max; fixed size). */
  private zeroIds(): Map<number, Uint8Array> {
    const m = new Map<number, Uint8Array>();
    const h = this.header;
    if (h.max <= ZERO_ID_LIMIT) m.set(h.max, digestOf(this.digest, new Uint8Array(h.max)));
    return m;
  }
}

/** An index from a path, a URL, an ssh host (its session shared with the ssh stores there), standard input or bytes. */
async function openIndex(index: string | Uint8Array | null, net: Network, storeLocators: string[]): Promise<IndexInput> {
  if (index instanceof Uint8Array) return indexFromBytes(index);
  const loc = index === null || index === '-' ? null : stripFileUrl(index);
  if (loc !== null && classifyLocator(loc) === 'ssh') return net.ssh.openIndex(loc, storeLocators);
  return openIndexLocator(loc, net.client);
}

/** The index read whole and its signature checked, before any chunk it names is asked for. */
async function checkedIndex(index: IndexInput, s: ExtractionSetup, policy: TrustPolicy, net: Network): Promise<{ index: IndexInput; signer: Signer }> {
  const pieces: Uint8Array[] = [];
  let size = 0;
  for await (const piece of index.bytes) {
    size += piece.length;
    if (size > SIGNED_INDEX_LIMIT) throw formatError(index.name, SIGNED_INDEX_LIMIT, 'larger than any index whose signature can be checked');
    pieces.push(piece);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const p of pieces) {
    bytes.set(p, at);
    at += p.length;
  }
  const signer =
    s.index instanceof Uint8Array
      ? await checkSignedBytes(bytes, s.trust?.signature, policy)
      : await checkSigned(stripFileUrl(s.index as string), { bytes }, policy, net.client);
  return { index: indexFromBytes(bytes, index.name), signer };
}

async function* watched(entries: AsyncIterable<IndexEntry[]>, see: (batch: IndexEntry[]) => void): AsyncGenerator<IndexEntry[]> {
  for await (const batch of entries) {
    see(batch);
    yield batch;
  }
}
