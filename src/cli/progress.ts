// --progress=auto|bar|json|no: how far make, extract and verify are.  A bar on
// standard error when it is a terminal (auto, the default): bytes done of the
// total, where the chunks came from, rate and time left, redrawn in place and
// wiped when done; repainted ten times a second.  json: one object per line on
// standard error, four times a second and once at the end ("final": true), for
// updaters to parse.  Nothing when standard error is not a terminal, unless
// json is asked for.
//
// The reporter samples the operation's latest progress report on a timer; the
// operation passes on counters its jobs bump per chunk (onProgress, every 100 ms).

import { formatBytes } from '../format/units.ts';
import { usageError } from '../errors.ts';
import type { ProgressReport } from '../platform/node/operations/common.ts';
import type { FetchStats } from '../platform/node/pool/jobs.ts';

type ProgressSnapshot = ProgressReport;

type Mode = 'bar' | 'json' | 'none';

const BAR_EVERY_MS = 100;
const JSON_EVERY_MS = 250;

export function progressMode(v: string | undefined, isTTY = !!process.stderr.isTTY): Mode {
  switch (v ?? 'auto') {
    case 'auto':
      return isTTY ? 'bar' : 'none';
    case 'bar':
      return isTTY ? 'bar' : 'none';
    case 'json':
      return 'json';
    case 'no':
    case 'none':
      return 'none';
    default:
      throw usageError(`--progress=${v}: not one of auto, bar, json, no`);
  }
}

export class Progress {
  private readonly start = Date.now();
  private readonly timer: ReturnType<typeof setInterval> | null;
  private drawn = false;

  constructor(
    private readonly mode: Mode,
    private readonly verb: string,
    private readonly snapshot: () => ProgressSnapshot,
  ) {
    this.timer = mode === 'none' ? null : setInterval(() => this.emit(false), mode === 'bar' ? BAR_EVERY_MS : JSON_EVERY_MS);
    this.timer?.unref();
  }

  /** The last report: a final JSON line, or the bar wiped. */
  stop(succeeded = true) {
    if (this.timer) clearInterval(this.timer);
    if (this.mode === 'json' && succeeded) this.emit(true);
    if (this.mode === 'bar' && this.drawn) process.stderr.write('\r\x1b[K');
  }

  private emit(final: boolean) {
    const s = this.snapshot();
    const seconds = Math.max((Date.now() - this.start) / 1000, 1e-3);
    const rate = s.done / seconds;
    const eta = s.total !== null && rate > 0 ? Math.max(0, (s.total - s.done) / rate) : null;
    if (this.mode === 'json') {
      process.stderr.write(`${JSON.stringify(jsonLine(this.verb, s, rate, eta, final))}\n`);
      return;
    }
    process.stderr.write(`\r${this.bar(s, rate, eta)}\x1b[K`);
    this.drawn = true;
  }

  private bar(s: ProgressSnapshot, rate: number, eta: number | null): string {
    const width = process.stderr.columns || 80;
    const pct = s.total ? Math.min(100, Math.floor((s.done * 100) / s.total)) : null;
    const amounts = `${formatBytes(s.done)}${s.total !== null ? `/${formatBytes(s.total)}` : ''}`;
    const tail = [
      amounts,
      `${formatBytes(rate)}/s`,
      eta !== null ? `ETA ${clock(eta)}` : '',
      s.sources ? sourceShares(s.sources, s.done) : '',
    ].filter(Boolean).join('  ');
    const head = `${this.verb} ${pct === null ? '' : `${String(pct).padStart(3)}% `}`;
    // A fixed width, so the bar does not jump as the figures beside it grow.
    const size = Math.min(30, width - 70);
    const bar = pct === null || size < 10 ? '' : `[${'#'.repeat(Math.round((size * pct) / 100)).padEnd(size)}] `;
    return `${head}${bar}${tail}`.slice(0, width - 1);
  }
}

function jsonLine(verb: string, s: ProgressSnapshot, rate: number, eta: number | null, final: boolean) {
  const src = s.sources;
  return {
    verb,
    done: s.done,
    total: s.total,
    rate: Math.round(rate),
    eta: eta === null ? null : Math.round(eta * 10) / 10,
    ...(src && {
      sources: {
        seed: src.fromSeedBytes,
        cache: src.fromCacheBytes,
        network: src.fromRemoteBytes,
        store: src.fromStoreBytes,
        zero: src.zeroBytes,
        unchanged: src.unchangedBytes,
      },
    }),
    final,
  };
}

function sourceShares(src: FetchStats, done: number): string {
  if (!done) return '';
  const pct = (b: number) => `${Math.round((b * 100) / done)}%`;
  const parts = [
    ['seed', src.fromSeedBytes + src.unchangedBytes],
    ['cache', src.fromCacheBytes],
    ['store', src.fromStoreBytes],
    ['net', src.fromRemoteBytes],
  ] as const;
  return parts.filter(([, b]) => b > 0).map(([n, b]) => `${n} ${pct(b)}`).join(' ');
}

function clock(s: number): string {
  const t = Math.round(s);
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = String(t % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

/** A reporter fed by an operation's onProgress; stop() ends it (a final JSON line when it succeeded). */
export function progressReporter(mode: string | undefined, verb: string) {
  let last: ProgressSnapshot = { done: 0, total: null };
  const progress = new Progress(progressMode(mode), verb, () => last);
  return {
    onProgress: (p: ProgressReport) => void (last = p),
    stop: (ok: boolean) => progress.stop(ok),
  };
}
