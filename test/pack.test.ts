// Pack files (STORE/pack/, src/format/pack-index.ts): the format round trip and
// its refusals; `make --pack` and `wasync pack` beside the plain chunk files,
// which casync still reads; extract and verify over nginx with Range requests,
// counted in its access log; several ranges in one request (nginx answers
// multipart/byteranges) and the fallback to single ranges (`wasync serve`);
// gc, which never leaves the pack index naming a removed chunk; a corrupt
// packed chunk reported with its place; the page verifying from packs in
// headless Chromium; and a host answering 403 for the pack index read as a
// plain store.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { casync, haveCasync, ok, rand, requires, ROOT, tempDir, wasync, wasyncAsync } from './helpers.ts';
import { haveNginx, startNginx, startServe } from './http-fixtures.ts';
import { encodePackIndex, PackIndex, PACK_HEADER_SIZE } from '../src/format/pack-index.ts';
import { parseIndex } from '../src/format/index-file.ts';
import { toHex } from '../src/chunk/chunk-id.ts';
import { HttpPackFiles, parseByteRanges } from '../src/stores/http-pack-files.ts';
import { HttpClient } from '../src/stores/http-client.ts';
import { readPackIndex } from '../src/platform/node/storage/local-packs.ts';
import { chromium, haveChromium, verifyInPage } from './web-fixtures.ts';

const dir = tempDir('wasync-pack-');
const p = (...n: string[]) => join(dir, ...n);
const ids = (index: string) => parseIndex(readFileSync(index), index).entries.map((e) => toHex(e.id));
const requestsIn = (log: string) => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : []);
const id = (n: number) => Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? n : i));

test('pack index: encoded and read back, found by binary search, refused when malformed', () => {
  const entries = [5, 1, 9, 3].map((n, i) => ({ id: id(n), pack: 1 + (i % 2), offset: PACK_HEADER_SIZE + i * 100, size: 100 }));
  const bytes = encodePackIndex([{ number: 2, size: 1000 }, { number: 1, size: 1000 }], entries);
  const index = new PackIndex(bytes, 'x/index');
  assert.equal(index.count, 4);
  assert.deepEqual(index.packs.map((q) => q.number), [1, 2]);
  assert.deepEqual([...index.entries()].map((e) => e.id[0]), [1, 3, 5, 9]);
  assert.deepEqual({ ...index.find(id(9))!, id: null }, { id: null, pack: 1, offset: PACK_HEADER_SIZE + 200, size: 100 });
  assert.equal(index.find(id(4)), null);
  const bad = (b: Uint8Array, re: RegExp) => assert.throws(() => new PackIndex(b, 'x/index'), (e: Error & { code?: string }) => e.code === 'EFORMAT' && re.test(e.message));
  bad(bytes.subarray(0, bytes.length - 1), /pack index of \d+ bytes, expected/);
  bad(Uint8Array.from(bytes, (b, i) => (i === 0 ? 0 : b)), /not a wasync pack index/);
  bad(encodePackIndex([{ number: 1, size: 1000 }], entries), /names pack 2, which the index does not list/);
  bad(encodePackIndex([{ number: 1, size: 150 }], [{ id: id(1), pack: 1, offset: 100, size: 100 }]), /lies outside pack 1/);
  const swapped = bytes.slice();
  swapped.copyWithin(24 + 32 + 48, 24 + 32, 24 + 32 + 48); // the second entry over the third: ids repeat
  bad(swapped, /not in ascending order/);
});

test('multipart/byteranges parts are found by their Content-Range', () => {
  const body = Buffer.from('\r\n--B\r\nContent-Type: x\r\nContent-Range: bytes 10-12/99\r\n\r\nabc\r\n--B\r\ncontent-range: bytes 20-21/99\r\n\r\nde\r\n--B--\r\n');
  const parts = parseByteRanges(body, 'B');
  assert.deepEqual(parts.map((q) => [q.start, q.end, Buffer.from(q.bytes).toString()]), [[10, 13, 'abc'], [20, 22, 'de']]);
  assert.throws(() => parseByteRanges(body.subarray(0, 60), 'B'), /broken off|closing boundary/);
});

// A blob of a few hundred chunks; a second one sharing its first half, for gc.
const img = p('a.img');
const imgB = p('b.img');
const made = (() => {
  const a = rand('pack-a', 12 << 20);
  writeFileSync(img, a);
  writeFileSync(imgB, Buffer.concat([a.subarray(0, 6 << 20), rand('pack-b', 6 << 20)]));
  ok(wasync(['make', '--pack', `--store=${p('s.castr')}`, p('a.caibx'), img]), 'make --pack');
  ok(wasync(['make', `--store=${p('s.castr')}`, p('b.caibx'), imgB]), 'make');
  return true;
})();

test('make --pack and pack: the chunks in packs beside their files, the index first, casync still reads the store', (t) => {
  assert.ok(made);
  const first = readPackIndex(p('s.castr'))!;
  const a = ids(p('a.caibx'));
  assert.equal(first.count, new Set(a).size, 'make --pack packed the new index');
  // In index order: each chunk of a.caibx lies after the one before it.
  const offsets = [...new Set(a)].map((h) => first.find(Buffer.from(h, 'hex'))!.offset);
  assert.deepEqual(offsets, [...offsets].sort((x, y) => x - y));
  const r = ok(wasync(['pack', p('s.castr'), p('b.caibx')]), 'pack');
  assert.match(r.stdout, /^Packed \d+ chunks .* into 1 new packs; the pack index names \d+ chunks\.$/m);
  const all = readPackIndex(p('s.castr'))!;
  assert.equal(all.count, new Set([...a, ...ids(p('b.caibx'))]).size);
  assert.deepEqual(readdirSync(p('s.castr', 'pack')).sort(), ['00000001.pack', '00000002.pack', 'index']);
  assert.match(ok(wasync(['pack', p('s.castr')])).stdout, /^Packed 0 chunks/m, 'packing again adds nothing');
  if (!requires(t, haveCasync, 'casync')) return;
  ok(casync(['extract', `--store=${p('s.castr')}`, p('a.caibx'), p('casync.img')]), 'casync extract');
  assert.ok(readFileSync(p('casync.img')).equals(readFileSync(img)));
});

test('extract and verify over nginx read the packs with Range requests, far fewer than chunks', async (t) => {
  if (!requires(t, haveNginx, 'nginx (apt-get install nginx-light)')) return;
  const log = p('nginx-ranges', 'access.log');
  ok(wasync(['pack', p('s.castr')]));
  mkdirSync(p('nginx-ranges'));
  const server = await startNginx(dir, p('nginx-ranges'), { log });
  const store = `--store=${server.url}/s.castr`;
  ok(wasync(['verify', '--progress=no', store, `${server.url}/a.caibx`]), 'verify');
  ok(wasync(['extract', '--progress=no', '--seed-output=no', store, `${server.url}/a.caibx`, p('http.img')]), 'extract');
  assert.ok(readFileSync(p('http.img')).equals(readFileSync(img)));
  const lines = requestsIn(log);
  const chunks = new Set(ids(p('a.caibx'))).size;
  const packReads = lines.filter((l) => /GET \/s\.castr\/pack\/\d{8}\.pack HTTP\/1\.1" 206/.test(l));
  assert.equal(lines.filter((l) => l.includes('.cacnk')).length, 0, 'no chunk file was asked for');
  assert.ok(packReads.length > 0 && packReads.length * 4 <= 2 * chunks, `${packReads.length} range requests for ${chunks} chunks, twice`);
  server.stop();
});

test('several ranges in one request where the server allows it, single ranges where it does not', async (t) => {
  if (!requires(t, haveNginx, 'nginx (apt-get install nginx-light)')) return;
  const index = readPackIndex(p('s.castr'))!;
  const e = [...index.entries()].filter((x) => x.pack === 1).sort((x, y) => x.offset - y.offset);
  const ranges = [e[1], e[5], e[9]].map((x) => ({ start: x.offset, end: x.offset + x.size }));
  const pack = readFileSync(p('s.castr', 'pack', '00000001.pack'));
  const expect = ranges.map((r) => pack.subarray(r.start, r.end));
  mkdirSync(p('nginx-multi'));
  const log = p('nginx-multi', 'access.log');
  const nginx = await startNginx(dir, p('nginx-multi'), { log });
  const got = await new HttpPackFiles(`${nginx.url}/s.castr`, new HttpClient()).read(1, ranges);
  assert.deepEqual(got.map((b) => Buffer.from(b)), expect);
  assert.equal(requestsIn(log).filter((l) => l.includes('.pack')).length, 1, 'nginx: one request');
  nginx.stop();
  // wasync serve answers single ranges only (416 to several): then one request a range.
  const served = await startServe(dir, ['-v']);
  const files = new HttpPackFiles(`${served.url}/s.castr`, new HttpClient());
  // The server's log comes through a pipe: the lines of answered requests may still be on their way.
  const packGets = async (n: number) => {
    const count = () => [...served.stderr().matchAll(/^GET \S*00000001\.pack 206$/gm)].length;
    for (let i = 0; i < 100 && count() < n; i++) await new Promise((r) => setTimeout(r, 20));
    return count();
  };
  assert.deepEqual((await files.read(1, ranges)).map((b) => Buffer.from(b)), expect);
  assert.equal(await packGets(3), 3, served.stderr());
  assert.deepEqual((await files.read(1, ranges)).map((b) => Buffer.from(b)), expect);
  assert.equal(await packGets(6), 6, 'single ranges from then on');
  await served.stop();
});

test('gc drops the removed chunks from the pack index first, and the packs left empty', () => {
  ok(wasync(['pack', p('s.castr')]));
  const before = readPackIndex(p('s.castr'))!;
  const keep = new Set(ids(p('a.caibx')));
  const dry = ok(wasync(['gc', '--dry-run', `--store=${p('s.castr')}`, p('a.caibx')]));
  assert.match(dry.stdout, /^Would drop \d+ chunks from the pack index and remove 1 packs\.$/m);
  assert.equal(readPackIndex(p('s.castr'))!.count, before.count, 'a dry run changes nothing');
  ok(wasync(['gc', `--store=${p('s.castr')}`, p('a.caibx')]), 'gc');
  const after = readPackIndex(p('s.castr'))!;
  const named = [...after.entries()].map((e) => toHex(e.id));
  assert.deepEqual(new Set(named), keep);
  for (const h of named) assert.ok(existsSync(p('s.castr', h.slice(0, 4), `${h}.cacnk`)), `${h} still has its chunk file`);
  assert.deepEqual(readdirSync(p('s.castr', 'pack')).sort(), ['00000001.pack', 'index'], "pack 2 held only b.caibx's own chunks");
  ok(wasync(['verify', '--progress=no', `--store=${p('s.castr')}`, p('a.caibx')]), 'verify after gc');
});

test('a corrupt chunk in a pack is reported with the pack and its bytes', () => {
  cpSync(p('s.castr'), p('c.castr'), { recursive: true });
  const packFile = p('c.castr', 'pack', '00000001.pack');
  chmodSync(packFile, 0o644);
  const b = readFileSync(packFile);
  b[b.length >> 1] ^= 0xff;
  writeFileSync(packFile, b);
  const r = wasync(['verify', '--progress=no', `--store=${p('c.castr')}`, p('a.caibx')]);
  assert.equal(r.status, 1);
  assert.match(r.stdout, /Corrupt chunks \(1\):\n {2}[0-9a-f]{64}: \S+c\.castr\/pack\/00000001\.pack \(bytes \d+-\d+\): /);
});

test('the page in headless Chromium verifies from pack files over nginx', async (t) => {
  if (!requires(t, haveChromium, 'chromium (apt-get install chromium)') || !requires(t, haveNginx, 'nginx (apt-get install nginx-light)')) return;
  mkdirSync(p('nginx-web'));
  const log = p('nginx-web', 'access.log');
  const server = await startNginx(dir, p('nginx-web'), { log, web: join(ROOT, 'dist', 'web') });
  const page = await (await chromium()).newPage();
  try {
    const report = await verifyInPage(page, server.url, '/a.caibx', '/s.castr');
    assert.equal(report.status, 'ok', JSON.stringify(report));
    assert.equal(report.chunks, new Set(ids(p('a.caibx'))).size);
    const lines = requestsIn(log);
    assert.equal(lines.filter((l) => l.includes('.cacnk')).length, 0, 'no chunk file was asked for');
    const ranges = lines.filter((l) => /\.pack HTTP\/1\.1" 206/.test(l)).length;
    assert.ok(ranges > 0 && ranges * 4 <= report.chunks, `${ranges} range requests for ${report.chunks} chunks`);
  } finally {
    await page.close();
    server.stop();
  }
});

test('a server that answers 403 for the pack index (a host hiding what it lacks) is read as plain chunk files', async () => {
  let chunkFiles = 0;
  const server = createServer((req, res) => {
    const path = decodeURIComponent(req.url!.split('?')[0]);
    if (path.includes('/pack/')) return res.writeHead(403).end();
    if (path.endsWith('.cacnk')) chunkFiles++;
    try {
      res.writeHead(200).end(readFileSync(join(dir, path)));
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const r = await wasyncAsync(['verify', '--progress=no', `--store=${url}/s.castr`, `${url}/a.caibx`]);
    ok(r, 'verify');
    assert.equal(chunkFiles, new Set(ids(p('a.caibx'))).size);
  } finally {
    server.close();
  }
});
