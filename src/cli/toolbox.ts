// desync's toolbox verbs: wasync info, chop, cat, chunk, list-chunks,
// inspect-chunks and config.  The strings become the operations' options here,
// and what they return is printed as desync prints it (info's plain lines or
// JSON, chunk's start/size/id triples, inspect-chunks's JSON array, config's JSON).

import { usageError } from '../errors.ts';
import { formatBytes } from '../format/units.ts';
import { cat as catOp } from '../platform/node/operations/cat.ts';
import { chop as chopOp } from '../platform/node/operations/chop.ts';
import { chunk as chunkOp } from '../platform/node/operations/chunk-file.ts';
import { info as infoOp, type InfoResult } from '../platform/node/operations/info.ts';
import { listChunks } from '../platform/node/operations/list-chunks.ts';
import { writeStdout } from '../platform/node/io/stdout.ts';
import { configReport } from '../platform/node/operations/config.ts';
import type { StoreChoice } from '../platform/node/operations/stores.ts';
import { byteCount, chunkSizeOption, config, network, oneStore, parseCompression, parseDigest, storeChoice, trust, type GlobalOptions } from './options.ts';
import { progressReporter } from './progress.ts';
import { serviceNotifier } from './service.ts';

/** Lines gathered into large writes to standard output, in order. */
class Lines {
  private buf: string[] = [];
  private bytes = 0;
  async add(line: string) {
    this.buf.push(line);
    this.bytes += line.length + 1;
    if (this.bytes >= 1 << 16) await this.flush();
  }
  async flush() {
    if (!this.buf.length) return;
    const text = this.buf.join('\n') + '\n';
    this.buf = [];
    this.bytes = 0;
    await writeStdout(Buffer.from(text));
  }
}

const INFO_LINES: [string, keyof InfoResult][] = [
  ['Blob size', 'size'],
  ['Size of deduplicated chunks not in seed', 'dedup-size-not-in-seed'],
  ['Size of deduplicated chunks not in seed nor cache', 'dedup-size-not-in-seed-nor-cache'],
  ['Total chunks', 'total'],
  ['Unique chunks', 'unique'],
  ['Chunks in store', 'in-store'],
  ['Chunks in seed', 'in-seed'],
  ['Chunks in cache', 'in-cache'],
  ['Chunks not in seed nor cache', 'not-in-seed-nor-cache'],
  ['Chunk size min', 'chunk-size-min'],
  ['Chunk size avg', 'chunk-size-avg'],
  ['Chunk size max', 'chunk-size-max'],
  ['Smallest chunk', 'smallest-chunk'],
  ['Largest chunk', 'largest-chunk'],
  ['Mean chunk', 'mean-chunk'],
  ['Chunks to download', 'download'],
  ['Size to download', 'download-size'],
  ['Chunks missing', 'missing'],
  ['Size missing', 'missing-size'],
  ['Size at hand', 'at-hand-size'],
  ['Zero chunks', 'zero-chunks'],
  ['Size of zero chunks', 'zero-size'],
  ['New chunks', 'new-chunks'],
  ['Size of new chunks', 'new-size'],
];

export async function info(index: string, opts: GlobalOptions) {
  const r = await infoOp({ index, ...storeChoice(opts), seeds: opts.seed, ...network(opts) });
  if (opts.json) {
    process.stdout.write(JSON.stringify(r, null, 2) + '\n');
    return;
  }
  for (const [label, key] of INFO_LINES) {
    const v = r[key];
    if (v === null) continue;
    process.stdout.write(`${label}: ${v}${/[sS]ize/.test(label) && typeof v === 'number' && v >= 1024 ? ` (${formatBytes(v)})` : ''}\n`);
  }
  if (r.stores.length) process.stdout.write(`Stores asked: ${r.stores.join(', ')}\n`);
}

export async function chop(index: string, file: string, opts: GlobalOptions) {
  const progress = serviceNotifier().progress(progressReporter(opts.progress, 'chop'), 'chop');
  try {
    const r = await chopOp({
      index,
      file,
      ...oneStore(opts),
      compression: parseCompression(opts.compression),
      ...network(opts),
      onProgress: progress.onProgress,
    });
    progress.stop(true);
    if (opts.verbose) process.stderr.write(`Chunks: ${r.chunks} (${formatBytes(r.size)}); stored ${r.stored} new in ${r.store} (${formatBytes(r.storedBytes)})\n`);
  } catch (e) {
    progress.stop(false);
    throw e;
  }
}

export async function cat(index: string, output: string | undefined, opts: GlobalOptions) {
  const r = await catOp({
    index,
    offset: byteCount('offset', opts.offset),
    length: byteCount('length', opts.length),
    output: output ?? '-',
    seeds: opts.seed,
    ...storeChoice(opts),
    ...network(opts),
    ...trust(opts, index),
    onWarning: (m) => process.stderr.write(`wasync: ${m}\n`),
  });
  if (opts.verbose) process.stderr.write(`Bytes ${r.offset}..${r.offset + r.length} of ${r.size}: ${r.chunks} chunks, ${r.fetched} fetched\n`);
}

export async function chunk(file: string, opts: GlobalOptions) {
  const out = new Lines();
  await chunkOp({
    file,
    chunkSize: chunkSizeOption(opts.chunkSize),
    digest: parseDigest(opts.digest),
    onChunks: async (batch) => {
      for (const c of batch) await out.add(`${c.offset}\t${c.size}\t${c.id}`);
    },
  });
  await out.flush();
}

/** The store whose stored sizes list-chunks --detailed and inspect-chunks report: --store, else $CASYNC_STORE, as other verbs choose it. */
const sizesStore = (opts: GlobalOptions) => oneStore(opts) as { store?: string; encryption: StoreChoice['encryption'] };

export async function listChunksCli(index: string, opts: GlobalOptions) {
  const out = new Lines();
  const { store, encryption } = sizesStore(opts);
  await listChunks({
    index,
    store: opts.detailed ? store : undefined,
    encryption,
    ...network(opts),
    onChunks: async (batch) => {
      for (const c of batch) {
        if (!opts.detailed) await out.add(c.id);
        else await out.add(`${c.id}\t${c.offset}\t${c.size}${store === undefined ? '' : `\t${c.storedSize ?? '-'}`}`);
      }
    },
  });
  await out.flush();
}

/** desync's inspect-chunks: a JSON array of {id, uncompressed_size, compressed_size} (the last with a local store). */
export async function inspectChunks(index: string, opts: GlobalOptions) {
  const out = new Lines();
  let pending: string | null = null;
  await out.add('[');
  await listChunks({
    index,
    ...sizesStore(opts),
    ...network(opts),
    onChunks: async (batch) => {
      for (const c of batch) {
        const o: Record<string, unknown> = { id: c.id, uncompressed_size: c.size };
        if (c.storedSize !== null) o.compressed_size = c.storedSize;
        if (pending !== null) await out.add(`${pending},`);
        pending = `  ${JSON.stringify(o)}`;
      }
    },
  });
  if (pending !== null) await out.add(pending);
  await out.add(']');
  await out.flush();
}

/** The configuration (or what it gives LOCATION), the command line's options laid over it; secrets masked. */
export function configCli(location: string | undefined, opts: GlobalOptions) {
  const net = network(opts);
  const { encryption } = storeChoice(opts);
  const { trustedKeys } = trust(opts);
  const given = {
    concurrency: net.concurrency,
    rateLimitBps: net.rateLimitBps,
    encryptionKey: encryption && 'given',
    encryption: encryption?.cipher,
    trustedKeys: trustedKeys?.length ? trustedKeys.map(String) : undefined,
  };
  process.stdout.write(JSON.stringify(configReport(config(opts), location, given), null, 2) + '\n');
}
