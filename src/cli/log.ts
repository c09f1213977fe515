// Verbose status lines on stderr, worded as casync's.

import { formatBytes } from '../format/units.ts';
import type { FetchStats } from '../platform/node/pool/jobs.ts';

export class Log {
  constructor(readonly verbose: boolean) {}

  info(line: string) {
    if (this.verbose) process.stderr.write(`${line}\n`);
  }

  warn(line: string) {
    process.stderr.write(`wasync: warning: ${line}\n`);
  }

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
}
