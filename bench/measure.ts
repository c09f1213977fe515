// What every benchmark case shares: timing a command with its peak RSS, the
// median of alternating runs of wasync and casync, and the inputs.

import { spawnSync } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

export const MiB = 1 << 20;
export const wasyncBin = join(import.meta.dirname, '..', '..', 'bin', 'wasync.js');

export interface Timing {
  seconds: number;
  maxRssKiB: number;
}

/** Runs a command under python's getrusage to learn its peak RSS. */
export function timed(cmd: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Timing {
  const py = [
    'import resource, subprocess, sys, time',
    't = time.monotonic()',
    'r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)',
    'e = time.monotonic() - t',
    'print(e, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)',
    'sys.exit(r.returncode)',
  ].join('\n');
  const r = spawnSync('python3', ['-c', py, ...cmd], { cwd: opts.cwd, env: opts.env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd.join(' ')} failed: ${r.stderr}`);
  const [s, rss] = r.stdout.trim().split(' ').map(Number);
  return { seconds: s, maxRssKiB: rss };
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function writeRandom(path: string, size: number) {
  const out = createWriteStream(path);
  for (let done = 0; done < size; done += 4 * MiB) {
    if (!out.write(randomBytes(Math.min(4 * MiB, size - done)))) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((r) => out.end(() => r()));
}

/** a and b each run `runs` times, alternating; `fresh(x)` clears x's outputs first. */
export function compare(
  name: string,
  size: number,
  a: () => Timing,
  b: () => Timing,
  fresh: (which: 'a' | 'b') => void,
  runs: number,
) {
  const ta: Timing[] = [];
  const tb: Timing[] = [];
  for (let i = 0; i < runs; i++) {
    fresh('a');
    ta.push(a());
    fresh('b');
    tb.push(b());
  }
  const sa = median(ta.map((t) => t.seconds));
  const sb = median(tb.map((t) => t.seconds));
  const rate = (s: number) => (size / 1e6 / s).toFixed(0).padStart(5);
  const rss = (ts: Timing[]) => `${(Math.max(...ts.map((t) => t.maxRssKiB)) / 1024).toFixed(0)} MiB`;
  console.log(
    `${name.padEnd(26)} wasync ${rate(sa)} MB/s (${sa.toFixed(2)} s, ${rss(ta)})   casync ${rate(sb)} MB/s (${sb.toFixed(2)} s, ${rss(tb)})   ratio ${(sb / sa).toFixed(2)}x`,
  );
}

export function sameFile(a: string, b: string, what: string) {
  if (!readFileSync(a).equals(readFileSync(b))) throw new Error(`${what}: ${a} and ${b} differ`);
}

