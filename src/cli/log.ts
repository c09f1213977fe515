// What the command line says on standard error: warnings always, and with
// --verbose the statistics casync prints, worded as casync's, made from what
// the operations return.

import { verboseFeatureFlagLines } from '../format/feature-flag-names.ts';
import { formatBytes } from '../format/units.ts';
import { withoutPasswords } from '../errors.ts';
import type { ExtractResult } from '../platform/node/operations/extract.ts';
import type { MakeResult } from '../platform/node/operations/make.ts';
import type { FetchStats } from '../platform/node/pool/jobs.ts';

export class Log {
  constructor(readonly verbose: boolean) {}

  info(line: string) {
    if (this.verbose) process.stderr.write(`${line}\n`);
  }

  warn = (line: string) => {
    process.stderr.write(`wasync: warning: ${withoutPasswords(line)}\n`);
  };

  /** A line of a server (mount, mkdev): a request that failed, and why. */
  line = (line: string) => {
    process.stderr.write(`wasync: ${withoutPasswords(line)}\n`);
  };

  /** "N (P%)" as casync's extract statistics print it. */
  share(count: number, bytes: number, totalCount: number, totalBytes: number, what: string) {
    const pct = (x: number, t: number) => (t ? Math.floor((x * 100) / t) : 0);
    this.info(`Chunk requests fulfilled from ${what}: ${count} (${pct(count, totalCount)}%)`);
    this.info(`Bytes used from ${what}: ${formatBytes(bytes)} (${pct(bytes, totalBytes)}%)`);
  }

  /** Where an extraction's chunks came from, in casync's three lines (the cache is a local store). */
  sources(r: FetchStats & { chunks: number; size: number }) {
    this.share(r.fromStore + r.fromCache, r.fromStoreBytes + r.fromCacheBytes, r.chunks, r.size, 'local store');
    this.share(r.fromSeed, r.fromSeedBytes, r.chunks, r.size, 'local seed');
    if (r.fromRemote) this.share(r.fromRemote, r.fromRemoteBytes, r.chunks, r.size, 'remote store');
  }

  made(r: MakeResult, compression: string) {
    if (r.what !== 'archive') this.info(`Selected chunk sizes: min=${r.sizes.min}..avg=${r.sizes.avg}..max=${r.sizes.max}`);
    for (const line of verboseFeatureFlagLines(r.flags)) this.info(line);
    this.info(`Archive size: ${formatBytes(r.size)}`);
    if (r.entries !== undefined) this.info(`Number of entries: ${r.entries}`);
    if (r.what === 'archive') return;
    this.info(`Number of chunks: ${r.chunks}`);
    if (r.what === 'blob-index') {
      const reused = r.chunks - r.stored;
      this.info(`Reused (non-cached) chunks: ${reused} (${r.chunks ? Math.floor((reused * 100) / r.chunks) : 0}%)`);
      if (r.chunks) this.info(`Effective average chunk size: ${formatBytes(Math.floor(r.size / r.chunks))}`);
    }
    this.info(`Stored ${r.stored} new chunks (${formatBytes(r.storedBytes)} compressed with ${compression}) in ${r.store}`);
    const c = r.cache;
    if (c) this.info(`Cache hits: ${c.hits}, misses: ${c.misses}, invalidated: ${c.invalidated}, added: ${c.added}, directories unchanged: ${c.subtrees}`);
    const p = r.pushed;
    if (!p) return;
    this.info(`Pushed ${p.sent} chunks (${formatBytes(p.sentBytes)}) to ${p.store}`);
    if (p.missing.length) this.warn(`${p.missing.length} chunks asked for by ${p.store} were not in ${p.staging}, first ${p.missing[0]}`);
  }

  extracted(r: ExtractResult, target: string | null) {
    for (const s of r.seeds) {
      const how = s.how === 'seed-index' ? `${s.chunks} chunks from the seed index` : `${s.how === 'encoded' ? 'encoded and chunked' : 'chunked'}, ${s.chunks} chunks`;
      this.info(`Seed ${s.path}: ${how}`);
    }
    if (r.seeds.length) this.info(`Seeds: ${r.seedChunks} chunks known`);
    if (r.staleSeeds) this.info('Seed chunks no longer matched: their seed index entries were dropped');
    if (r.entries !== undefined) this.info(`Extracted ${r.entries} entries into ${target}`);
    if (r.what === 'archive') return;
    const stats = { ...r.sources, chunks: r.chunks, size: r.size };
    if (r.what === 'blob-index') this.info(`Zero bytes written as sparse files: ${formatBytes(r.sources.zeroBytes)}`);
    // casync's order; each count only where its option is on.
    if (r.clonedBytes !== undefined) this.info(`Bytes cloned through reflinks: ${formatBytes(r.clonedBytes)}`);
    if (r.linkedBytes !== undefined) this.info(`Bytes cloned through hardlinks: ${formatBytes(r.linkedBytes)}`);
    if (r.sources.unchanged) this.info(`Chunks already in place: ${r.sources.unchanged} (${formatBytes(r.sources.unchangedBytes)})`);
    this.sources(stats);
  }
}
