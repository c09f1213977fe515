// --progress: JSON lines an updater can parse, a bar on a terminal, and nothing
// extra when standard error is not a terminal.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WASYNC, ok, rand, runAsync, tempDir, wasync, wasyncAsync } from './helpers.ts';
import { faultyServer, startServe } from './http-fixtures.ts';

const dir = tempDir('wasync-progress-');
const srv = join(dir, 'srv');
mkdirSync(srv);
const image = Buffer.concat([rand('progress', 6 << 20), Buffer.alloc(2 << 20)]);
const imagePath = join(dir, 'image.img');
writeFileSync(imagePath, image);
ok(wasync(['make', join(srv, 'image.caibx'), imagePath]));

interface Line {
  verb: string;
  done: number;
  total: number | null;
  rate: number;
  eta: number | null;
  sources?: Record<string, number>;
  final: boolean;
}

const jsonLines = (stderr: string): Line[] =>
  stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Line);

test('--progress=json: one object per line, done rising to the total, sources adding up', async () => {
  // A slow server, so the extraction lasts long enough for several reports; a seed supplies half.
  const seed = join(dir, 'seed.img');
  writeFileSync(seed, Buffer.concat([image.subarray(0, 3 << 20), rand('other', 5 << 20)]));
  const f = await faultyServer(srv, { latencyMs: 40 });
  const r = await wasyncAsync(['extract', '--progress=json', '--concurrency=2', `--seed=${seed}`, `${f.url}/image.caibx`, join(dir, 'out.img')]);
  ok(r, 'extract');
  const lines = jsonLines(r.stderr);
  assert.ok(lines.length >= 2, `several reports: ${r.stderr}`);
  for (let i = 1; i < lines.length; i++) assert.ok(lines[i].done >= lines[i - 1].done);
  const last = lines.at(-1)!;
  assert.equal(last.final, true);
  assert.equal(lines.filter((l) => l.final).length, 1);
  assert.equal(last.verb, 'extract');
  assert.equal(last.total, image.length);
  assert.equal(last.done, image.length);
  const s = last.sources!;
  assert.equal(s.seed + s.cache + s.network + s.store + s.zero + s.unchanged, image.length);
  assert.ok(s.seed >= 2 << 20, 'the seed supplied its part');
  assert.ok(s.network > 0 && s.zero > 0);
});

test('--progress=json for make', () => {
  const r = ok(wasync(['make', '--progress=json', join(dir, 'again.caibx'), imagePath]));
  const last = jsonLines(r.stderr).at(-1)!;
  assert.deepEqual([last.verb, last.done, last.total, last.final], ['make', image.length, image.length, true]);
});

test('no progress output when standard error is not a terminal', () => {
  const r = ok(wasync(['extract', `--store=${join(srv, 'default.castr')}`, join(srv, 'image.caibx'), join(dir, 'quiet.img')]));
  assert.equal(r.stderr, '');
});

test('a progress bar on a terminal, wiped at the end', async (t) => {
  if (spawnSync('script', ['--version']).status !== 0) return t.skip('needs script(1) for a pseudo-terminal');
  const f = await faultyServer(srv, { latencyMs: 40 });
  const cmd = `${process.execPath} ${WASYNC} extract --concurrency=2 ${f.url}/image.caibx ${join(dir, 'tty.img')}`;
  const r = await runAsync('script', ['-qec', cmd, '/dev/null']);
  assert.equal(r.status, 0, r.stdout);
  assert.match(r.stdout, /\rextract +[1-9]\d*% \[#+ *\] [\d.]+[KMG]?B?\/8\.0M /);
  assert.match(r.stdout, /net \d+%/);
  assert.match(r.stdout, /\r\x1b\[K$/, 'wiped');
});

// Progress from slow stores: bytes count per chunk as it is written (or stored),
// not per batch of chunks (4 MiB, reported in order behind a queue of jobs in
// flight: steps of 8 MiB and more), and the reports come four times a second
// (JSON) or ten (the bar).

const MiB = 1 << 20;
const slow = join(dir, 'slow');
mkdirSync(slow);
const small = randomBytes(3 * MiB);
const large = randomBytes(20 * MiB);
writeFileSync(join(dir, 'small.img'), small);
writeFileSync(join(dir, 'large.img'), large);
const tree = join(dir, 'tree');
mkdirSync(tree);
for (let i = 0; i < 20; i++) writeFileSync(join(tree, `f${i}`), randomBytes(MiB));
const store = `--store=${join(slow, 'default.castr')}`;
ok(wasync(['make', store, join(slow, 'small.caibx'), join(dir, 'small.img')]));
ok(wasync(['make', store, join(slow, 'large.caibx'), join(dir, 'large.img')]));
ok(wasync(['make', store, join(slow, 'tree.caidx'), tree]));

/** Runs a command, noting when each line of one of its streams (split at \n or \r) arrived. */
function timed(args: string[], stream: 'stdout' | 'stderr', cmd = process.execPath): Promise<{ status: number | null; lines: { at: number; text: string }[]; all: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: { at: number; text: string }[] = [];
    let all = '';
    let rest = '';
    child[stream].on('data', (b: Buffer) => {
      all += b.toString();
      const parts = (rest + b.toString()).split(/[\r\n]/);
      rest = parts.pop()!;
      for (const text of parts) if (text) lines.push({ at: performance.now(), text });
    });
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, lines, all }));
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const gaps = (xs: number[]) => xs.slice(1).map((x, i) => x - xs[i]);

/**
 * The largest step between two reports of an extract at `bps`: the four chunks
 * its --concurrency=4 has in flight share the link and may finish together (up
 * to 4 × 256 KiB at once), on top of what half a second (two reports) brings;
 * still below the 4 MiB of a batch.
 */
const maxStep = (bps: number) => 4 * 256 * 1024 + bps / 2;

/** Checks JSON progress lines: the final one the total, the running ones in small steps and at most ~250 ms apart. */
function checkSteps(what: string, r: Awaited<ReturnType<typeof timed>>, total: number, limit: number) {
  assert.equal(r.status, 0, r.all);
  const lines = r.lines.filter((l) => l.text.startsWith('{')).map((l) => ({ at: l.at, ...(JSON.parse(l.text) as Line) }));
  const last = lines.at(-1)!;
  assert.deepEqual([last.final, last.done, last.total], [true, total, total], `${what}: the final line is the total`);
  const running = lines.filter((l) => !l.final);
  const done = running.map((l) => l.done);
  for (let i = 1; i < done.length; i++) assert.ok(done[i] >= done[i - 1], `${what}: done never falls`);
  const between = new Set(done.filter((d) => d > 0 && d < total));
  assert.ok(between.size >= 4, `${what}: several steps on the way, not ${[...between].join(', ')}`);
  const steps = gaps([...done, total]);
  assert.ok(Math.max(...steps) <= limit, `${what}: steps of at most ${limit} bytes, not ${steps.join(', ')}`);
  const apart = gaps(running.map((l) => l.at));
  assert.ok(median(apart) <= 300 && Math.max(...apart) <= 600, `${what}: lines ~250 ms apart, not ${apart.map(Math.round).join(', ')} ms`);
}

test('--progress=json from a slow store: a 3 MiB and a 20 MiB blob and a tree rise chunk by chunk, four lines a second', async () => {
  const f = await faultyServer(slow);
  const out = (n: string) => join(dir, `slow-${n}`);
  const extract = (index: string, bps: number, to: string) =>
    timed([WASYNC, 'extract', '--progress=json', '--concurrency=4', `--rate-limit-bps=${bps}`, `${f.url}/${index}`, to], 'stderr');
  checkSteps('3 MiB', await extract('small.caibx', 1_500_000, out('small')), small.length, maxStep(1_500_000));
  checkSteps('20 MiB', await extract('large.caibx', 5_000_000, out('large')), large.length, maxStep(5_000_000));
  const treeSize = Number(/"total":(\d+)/.exec(ok(wasync(['extract', '--progress=json', store, join(slow, 'tree.caidx'), out('tree-local')])).stderr)![1]);
  checkSteps('tree', await extract('tree.caidx', 5_000_000, out('tree')), treeSize, maxStep(5_000_000));
});

test('--progress=json for make into a slow remote store: chunk by chunk as they are stored', async () => {
  const up = join(dir, 'up');
  mkdirSync(up);
  const s = await startServe(up, ['--writable', '--token=t0ken'], { WASYNC_TOKEN: '' });
  const r = await timed([WASYNC, 'make', '--progress=json', '--token=t0ken', '--rate-limit-bps=5000000', `${s.url}/large.caibx`, join(dir, 'large.img')], 'stderr');
  checkSteps('make', r, large.length, 3 * MiB);
});

test('the bar from a slow store: repainted ten times a second, the percentage rising in small steps', async (t) => {
  if (spawnSync('script', ['--version']).status !== 0) return t.skip('needs script(1) for a pseudo-terminal');
  const f = await faultyServer(slow);
  const cmd = `${process.execPath} ${WASYNC} extract --concurrency=4 --rate-limit-bps=8000000 ${f.url}/large.caibx ${join(dir, 'slow-bar')}`;
  const r = await timed(['-qec', cmd, '/dev/null'], 'stdout', 'script');
  assert.equal(r.status, 0, r.all);
  const paints = r.lines.filter((l) => /^extract +\d+% /.test(l.text));
  const pct = paints.map((l) => Number(/(\d+)%/.exec(l.text)![1]));
  const between = new Set(pct.filter((p) => p > 0 && p < 100));
  assert.ok(between.size >= 8, `the percentage in small steps, not ${[...between].join(', ')}`);
  assert.ok(median(gaps(paints.map((l) => l.at))) <= 150, 'repainted about every 100 ms');
});
