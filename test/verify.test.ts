// wasync verify: every chunk present, decompressing and matching its id, in
// local and HTTP stores; missing and corrupt chunks listed by id, exit status 1.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, cpSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { casync, haveCasync, ok, rand, requires, storeChunks, tempDir, wasync, wasyncAsync } from './helpers.ts';
import { startServe } from './http-fixtures.ts';

const dir = tempDir('wasync-verify-');
const img = join(dir, 'img');
writeFileSync(img, Buffer.concat([rand('verify', 3 << 20), rand('verify', 1 << 20)]));
ok(wasync(['make', join(dir, 'good.caibx'), img]));
const store = join(dir, 'default.castr');

test('a complete store verifies; the summary counts distinct chunks', () => {
  const r = ok(wasync(['verify', join(dir, 'good.caibx')]));
  assert.match(r.stdout, /^Chunks: \d+ \(3\.0M\)/m, 'the repeated MiB is counted once');
  assert.match(r.stdout, /All chunks present and intact\./);
});

test('missing and corrupt chunks are listed by id; exit status 1', () => {
  const bad = join(dir, 'bad.castr');
  cpSync(store, bad, { recursive: true });
  const names = storeChunks(bad);
  const [gone, broken] = [names[0], names[1]];
  const path = (n: string) => join(bad, n.slice(0, 4), n);
  renameSync(path(gone), `${path(gone)}.away`);
  chmodSync(path(broken), 0o644);
  const b = readFileSync(path(broken));
  b[b.length >> 1] ^= 0xff;
  writeFileSync(path(broken), b);
  const r = wasync(['verify', `--store=${bad}`, join(dir, 'good.caibx')]);
  assert.equal(r.status, 1);
  assert.match(r.stdout, new RegExp(`Missing chunks \\(1\\):\\n  ${gone.replace('.cacnk', '')}\\n`));
  assert.match(r.stdout, new RegExp(`Corrupt chunks \\(1\\):\\n  ${broken.replace('.cacnk', '')}: .*${broken}: `));
  assert.match(r.stderr, /1 missing and 1 corrupt of \d+ chunks/);
});

test('a casync-made tree index verifies over HTTP', async (t) => {
  if (!requires(t, haveCasync, 'the casync binary')) return;
  const srv = join(dir, 'srv');
  const tree = join(dir, 'tree');
  mkdirSync(tree);
  mkdirSync(srv);
  writeFileSync(join(tree, 'f'), rand('tree', 500_000));
  ok(casync(['make', join(srv, 'tree.caidx'), tree]));
  const s = await startServe(srv);
  const r = await wasyncAsync(['verify', '--concurrency=4', `${s.url}/tree.caidx`]);
  ok(r, 'verify');
  assert.match(r.stdout, /All chunks present and intact\./);
});

test('--repair removes a corrupt and a truncated chunk; the next verify reports them missing', () => {
  const bad = join(dir, 'repair.castr');
  cpSync(store, bad, { recursive: true });
  const [flipped, cut] = storeChunks(bad);
  const path = (n: string) => join(bad, n.slice(0, 4), n);
  const b = readFileSync(path(flipped));
  b[b.length >> 1] ^= 0xff;
  chmodSync(path(flipped), 0o644);
  writeFileSync(path(flipped), b);
  chmodSync(path(cut), 0o644);
  writeFileSync(path(cut), readFileSync(path(cut)).subarray(0, 100));
  const ids = [flipped, cut].map((n) => n.replace('.cacnk', ''));
  const r = wasync(['verify', '--repair', `--store=${bad}`, join(dir, 'good.caibx')]);
  assert.equal(r.status, 1, 'corrupt chunks fail the verify even once removed');
  for (const id of ids) assert.match(r.stderr, new RegExp(`^chunk ${id} is corrupt: removed from store ${bad}$`, 'm'));
  assert.match(r.stderr, /0 missing and 2 corrupt of \d+ chunks; 2 corrupt removed/);
  assert.deepEqual(storeChunks(bad).filter((n) => n === flipped || n === cut), []);
  const again = wasync(['verify', '-r', `--store=${bad}`, join(dir, 'good.caibx')]);
  assert.equal(again.status, 1);
  assert.match(again.stdout, /Missing chunks \(2\):/);
  assert.doesNotMatch(again.stdout, /Corrupt chunks/);
  assert.doesNotMatch(again.stderr, /removed from store/);
});

test('--repair refuses a store over HTTP before reading anything', () => {
  const r = wasync(['verify', '--repair', '--store=http://127.0.0.1:9/s.castr', join(dir, 'good.caibx')]);
  assert.equal(r.status, 1);
  assert.equal(r.stderr, 'wasync: verify --repair: http://127.0.0.1:9/s.castr: chunks cannot be removed from this store (only from local directories and S3)\n');
});
