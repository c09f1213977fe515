// Verbose status lines on stderr, worded as casync's.

import { formatBytes } from '../units.ts';

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
}
