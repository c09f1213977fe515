// What every benchmark case shares: timing a command with its CPU time and peak
// RSS, the median of alternating runs of wasync and casync, and the inputs.
// CPU is user+sys from getrusage(RUSAGE_CHILDREN) after the wait: every thread of
// the process and every child it waited for, counted by the kernel (the machine is
// shared, so wall time is noisy; CPU seconds per GB are what to compare).
//
// Each timed command starts after a sync, so that none pays for the write-back
// of the one before.  Each run writes to paths of its own (a store, an index, an
// output named by the run), all removed after the case: a run that creates files
// right after another run's were deleted is slower on ext4, whose inode
// allocator passes over recently deleted inodes (recently_deleted() in
// ialloc.c), and the tool that always ran second would pay for it.
//
// Commands run without NODE_EXTRA_CA_CERTS: a machine that sets it (this
// workplace's do, for its proxy) makes every node start parse that PEM bundle,
// some 50 ms of CPU that a machine without it does not spend, and that is no
// part of wasync's work.  The bench's servers are plain HTTP on loopback.

import { spawnSync } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

export const MiB = 1 << 20;
export const wasyncBin = join(import.meta.dirname, '..', '..', 'bin', 'wasync.js');

export interface Timing {
  seconds: number;
  /** user + sys of the process and its threads and waited-for children */
  cpuSeconds: number;
  /** the kernel's part of cpuSeconds */
  sysSeconds: number;
  maxRssKiB: number;
}

/** Runs a command under python's getrusage to learn its CPU time and peak RSS. */
export function timed(cmd: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Timing {
  spawnSync('sync');
  const { NODE_EXTRA_CA_CERTS: _, ...env } = opts.env ?? process.env;
  const py = [
    'import resource, subprocess, sys, time',
    't = time.monotonic()',
    'r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)',
    'e = time.monotonic() - t',
    'u = resource.getrusage(resource.RUSAGE_CHILDREN)',
    'print(e, u.ru_utime + u.ru_stime, u.ru_stime, u.ru_maxrss)',
    'sys.exit(r.returncode)',
  ].join('\n');
  const r = spawnSync('python3', ['-c', py, ...cmd], { cwd: opts.cwd, env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd.join(' ')} failed: ${r.stderr}`);
  const [s, cpu, sys, rss] = r.stdout.trim().split(' ').map(Number);
  return { seconds: s, cpuSeconds: cpu, sysSeconds: sys, maxRssKiB: rss };
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function writeRandom(path: string, size: number) {
  const out = createWriteStream(path);
  for (let done = 0; done < size; done += 4 * MiB) {
    if (!out.write(randomBytes(Math.min(4 * MiB, size - done)))) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((r) => out.end(() => r()));
}

/**
 * a and b each run `runs` times, alternating, in the order a b, b a, a b…: what
 * the first run after a change of state pays (the page cache, the VM's memory,
 * a case's deleted files) falls on each tool in turn.  Run i writes to paths of
 * its own (see the header).
 */
export function compare(name: string, size: number, a: (run: number) => Timing, b: (run: number) => Timing, runs: number) {
  const ta: Timing[] = [];
  const tb: Timing[] = [];
  for (let i = 0; i < runs; i++) {
    if (i % 2) tb.push(b(i));
    ta.push(a(i));
    if (i % 2 === 0) tb.push(b(i));
  }
  const sa = median(ta.map((t) => t.seconds));
  const sb = median(tb.map((t) => t.seconds));
  const ca = median(ta.map((t) => t.cpuSeconds));
  const cb = median(tb.map((t) => t.cpuSeconds));
  const rate = (s: number) => (size / 1e6 / s).toFixed(0).padStart(5);
  const perGB = (c: number) => (c / (size / 1e9)).toFixed(1).padStart(5);
  // The kernel's share apart: on a VM it is the part that moves most from run to run.
  const sys = (ts: Timing[]) => `${perGB(median(ts.map((t) => t.sysSeconds))).trim()} sys`;
  const rss = (ts: Timing[]) => `${(Math.max(...ts.map((t) => t.maxRssKiB)) / 1024).toFixed(0)} MiB`;
  console.log(
    `${name.padEnd(22)} wasync ${rate(sa)} MB/s ${perGB(ca)} CPU s/GB (${sys(ta)}, ${rss(ta)})   casync ${rate(sb)} MB/s ${perGB(cb)} CPU s/GB (${sys(tb)}, ${rss(tb)})   ` +
      `speed ${(sb / sa).toFixed(2)}x  CPU wasync/casync ${(ca / cb).toFixed(2)}x`,
  );
}

export function sameFile(a: string, b: string, what: string) {
  if (!readFileSync(a).equals(readFileSync(b))) throw new Error(`${what}: ${a} and ${b} differ`);
}

