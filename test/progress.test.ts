// --progress: JSON lines an updater can parse, a bar on a terminal, and nothing
// extra when standard error is not a terminal.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WASYNC, ok, rand, runAsync, tempDir, wasync, wasyncAsync } from './helpers.ts';
import { faultyServer } from './http-fixtures.ts';

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
