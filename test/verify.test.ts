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
