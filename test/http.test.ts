// Remote indexes, archives and stores over HTTP, on loopback: `wasync serve`,
// casync's HTTP client against it, nginx serving a store directory, and a
// server that misbehaves (latency, 500s, dropped connections, corrupt bodies).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { casync, haveCasync, ok, rand, requires, sha512_256, storeChunks, tempDir, wasync, wasyncAsync } from './helpers.ts';
import { faultyServer, haveNginx, startNginx, startServe } from './http-fixtures.ts';

const dir = tempDir('wasync-http-');
const srv = join(dir, 'srv');
mkdirSync(srv);
// 6 MiB: about a hundred chunks, some of them zeros.
const image = Buffer.concat([rand('http', 4 << 20), Buffer.alloc(1 << 20), rand('http2', 1 << 20)]);
const imagePath = join(dir, 'image.img');
writeFileSync(imagePath, image);
ok(wasync(['make', join(srv, 'image.caibx'), imagePath]), 'make');
// The image's chunks but the all-zero one, which extraction never fetches.
const zeroChunk = `${sha512_256(Buffer.alloc(256 << 10))}.cacnk`;
const imageChunks = storeChunks(join(srv, 'default.castr'));
const chunkFiles = () => imageChunks.filter((n) => n !== zeroChunk);
const chunkPath = (name: string) => `/default.castr/${name.slice(0, 4)}/${name}`;

test('extract a blob index from wasync serve', async () => {
  const s = await startServe(srv);
  const out = join(dir, 'serve.img');
  ok(await wasyncAsync(['extract', `${s.url}/image.caibx`, out]), 'extract');
  assert.ok(readFileSync(out).equals(image));
});

test("casync's HTTP client extracts from wasync serve", async (t) => {
  if (!requires(t, haveCasync, 'the casync binary')) return;
  const s = await startServe(srv);
  const out = join(dir, 'casync.img');
  ok(casync(['extract', `${s.url}/image.caibx`, out]), 'casync extract');
  assert.ok(readFileSync(out).equals(image));
});

test('nginx serving a store directory', async (t) => {
  if (!requires(t, haveNginx, 'nginx (apt-get install nginx-light)')) return;
  const work = join(dir, 'nginx');
  mkdirSync(work);
  const n = await startNginx(srv, work);
  const out = join(dir, 'nginx.img');
  ok(await wasyncAsync(['extract', `${n.url}/image.caibx`, out]), 'extract');
  assert.ok(readFileSync(out).equals(image));
});

test('trees over HTTP: a casync .caidx and .catar, extracted by wasync', async (t) => {
  if (!requires(t, haveCasync, 'the casync binary')) return;
  const tree = join(dir, 'tree');
  mkdirSync(join(tree, 'sub'), { recursive: true });
  writeFileSync(join(tree, 'a'), rand('a', 300_000));
  writeFileSync(join(tree, 'sub', 'b'), 'hello\n');
  ok(casync(['make', '--store', join(srv, 'default.castr'), join(srv, 'tree.caidx'), tree]), 'casync make caidx');
  ok(casync(['make', join(srv, 'tree.catar'), tree]), 'casync make catar');
  const s = await startServe(srv);
  for (const name of ['tree.caidx', 'tree.catar']) {
    const out = join(dir, `out-${name}`);
    ok(await wasyncAsync(['extract', `${s.url}/${name}`, out]), `extract ${name}`);
    assert.ok(readFileSync(join(out, 'a')).equals(readFileSync(join(tree, 'a'))));
    assert.equal(readFileSync(join(out, 'sub', 'b'), 'utf8'), 'hello\n');
  }
});

test('transient faults (500s, dropped connections, a corrupt body) are retried to a correct result', async () => {
  const names = chunkFiles();
  const pick = (k: number) => new Set(names.filter((_, i) => i % 7 === k).map(chunkPath));
  const [fails, drops, corrupts] = [pick(1), pick(3), pick(5)];
  const f = await faultyServer(srv, {
    latencyMs: 5,
    fail: (p, n) => (fails.has(p) && n <= 2) || (p === '/image.caibx' && n === 1),
    drop: (p, n) => drops.has(p) && n === 1,
    corrupt: (p, n) => corrupts.has(p) && n === 1,
  });
  const out = join(dir, 'faulty.img');
  const r = await wasyncAsync(['extract', `${f.url}/image.caibx`, out]);
  ok(r, 'extract');
  assert.ok(readFileSync(out).equals(image));
  for (const p of fails) assert.equal(f.requests.get(p), 3, `${p} asked three times`);
  for (const p of drops) assert.equal(f.requests.get(p), 2, `${p} resumed once`);
  for (const p of corrupts) assert.equal(f.requests.get(p), 2, `${p} downloaded again`);
  assert.match(r.stderr, /was corrupt .*downloaded it again/);
});

test('a chunk that stays corrupt fails the extraction naming it; neither output nor cache gets bad bytes', async () => {
  const bad = chunkFiles()[10];
  const f = await faultyServer(srv, { corrupt: (p) => p === chunkPath(bad) });
  const out = join(dir, 'corrupt.img');
  const cache = join(dir, 'corrupt-cache');
  const r = await wasyncAsync(['extract', `--cache=${cache}`, `${f.url}/image.caibx`, out]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, new RegExp(`chunk ${bad.replace('.cacnk', '')} in http://127\\.0\\.0\\.1:\\d+/default\\.castr/.* is corrupt`));
  assert.equal(existsSync(out), false, 'no output under the final name');
  assert.ok(!readdirSync(dir).some((n) => n.startsWith('.#corrupt.img')), 'no temporary left');
  assert.ok(!storeChunks(cache).includes(bad), 'the corrupt chunk is not cached');
  // What the cache holds is good: a local extraction from it alone verifies every chunk it uses.
  for (const name of storeChunks(cache)) assert.ok(chunkFiles().includes(name));
});

test('a 404 falls through to the next store', async () => {
  const names = chunkFiles();
  const half = new Set(names.filter((_, i) => i % 2 === 0).map(chunkPath));
  const a = await faultyServer(srv, { hide: (p) => half.has(p) });
  const b = await faultyServer(srv);
  const out = join(dir, 'fallthrough.img');
  ok(await wasyncAsync(['extract', `--store=${a.url}/default.castr`, `--extra-store=${b.url}/default.castr`, `${a.url}/image.caibx`, out]));
  assert.ok(readFileSync(out).equals(image));
  for (const p of half) assert.equal(b.requests.get(p), 1, 'hidden chunks come from the second store');
  // Besides the hidden chunks, the second store is asked only whether it has pack files (pack-store.ts).
  assert.deepEqual([...b.requests.keys()].filter((p) => !half.has(p) && !p.endsWith('/pack/index')), [], 'the others never reach it');
});

test('requests run concurrently, never more than --concurrency at once', async () => {
  const f = await faultyServer(srv, { latencyMs: 30 });
  const out = join(dir, 'concurrent.img');
  ok(await wasyncAsync(['extract', '--concurrency=6', `${f.url}/image.caibx`, out]));
  assert.ok(readFileSync(out).equals(image));
  assert.ok(f.maxActive() > 1 && f.maxActive() <= 6, `at most 6 at once, saw ${f.maxActive()}`);
});

test('--cache keeps fetched chunks and is read first next time', async () => {
  const cache = join(dir, 'cache');
  const f = await faultyServer(srv);
  ok(await wasyncAsync(['extract', `--cache=${cache}`, `${f.url}/image.caibx`, join(dir, 'cached1.img')]));
  const fetched = f.total();
  assert.ok(storeChunks(cache).length > 0);
  ok(await wasyncAsync(['extract', `--cache=${cache}`, '--seed-output=no', `${f.url}/image.caibx`, join(dir, 'cached2.img')]));
  assert.equal(f.total(), fetched + 1, 'only the index is fetched again');
  assert.ok(readFileSync(join(dir, 'cached2.img')).equals(image));
});

test('--rate-limit-bps holds the transfer below the rate', async () => {
  const f = await faultyServer(srv);
  const t0 = Date.now();
  ok(await wasyncAsync(['extract', '--rate-limit-bps=2000000', `${f.url}/image.caibx`, join(dir, 'limited.img')]));
  // ~5 MiB of compressed chunks (the zero chunks compress to nothing) at 2 MB/s.
  assert.ok(Date.now() - t0 >= 2000, `took ${Date.now() - t0} ms`);
});

test('make --store=http:// uploads only the chunks the server lacks, then the index', async () => {
  const up = join(dir, 'up');
  mkdirSync(up);
  const s = await startServe(up, ['--writable', '--token=s3cret'], { WASYNC_TOKEN: '' });
  const denied = await wasyncAsync(['make', '--token=wrong', `${s.url}/image.caibx`, imagePath]);
  assert.notEqual(denied.status, 0);
  assert.match(denied.stderr, /PUT answered 401/);
  const first = await wasyncAsync(['make', '-v', '--token=s3cret', `${s.url}/image.caibx`, imagePath]);
  ok(first, 'make');
  assert.ok(readFileSync(join(up, 'image.caibx')).equals(readFileSync(join(srv, 'image.caibx'))), 'the same index');
  assert.deepEqual(storeChunks(join(up, 'default.castr')), imageChunks);
  const again = await wasyncAsync(['make', '-v', '--token=s3cret', `${s.url}/image.caibx`, imagePath]);
  ok(again, 'make again');
  assert.match(again.stderr, /Stored 0 new chunks/);
  const out = join(dir, 'uploaded.img');
  ok(await wasyncAsync(['extract', `${s.url}/image.caibx`, out]));
  assert.ok(readFileSync(out).equals(image));
});
