// wasync serve: what it serves and refuses.  Paths stay inside the served
// directory; uploads need --writable and the token, and only verified chunks,
// parseable indexes and archives are accepted, never under a partial name.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ok, rand, sha512_256, storeChunks, tempDir, wasync } from './helpers.ts';
import { rawRequest, startServe, zstdChunk } from './http-fixtures.ts';

const dir = tempDir('wasync-serve-');
const root = join(dir, 'root');
mkdirSync(root);
writeFileSync(join(dir, 'secret'), 'outside');
symlinkSync(join(dir, 'secret'), join(root, 'escape'));
writeFileSync(join(root, '.hidden'), 'dot file');
const data = rand('serve', 100_000);
writeFileSync(join(root, 'file.bin'), data);

test('GET, HEAD and byte ranges', async () => {
  const s = await startServe(root);
  const r = await fetch(`${s.url}/file.bin`);
  assert.equal(r.status, 200);
  assert.ok(Buffer.from(await r.arrayBuffer()).equals(data));
  const h = await fetch(`${s.url}/file.bin`, { method: 'HEAD' });
  assert.equal(h.headers.get('content-length'), String(data.length));
  const part = await fetch(`${s.url}/file.bin`, { headers: { range: 'bytes=1000-1999' } });
  assert.equal(part.status, 206);
  assert.ok(Buffer.from(await part.arrayBuffer()).equals(data.subarray(1000, 2000)));
  const tail = await fetch(`${s.url}/file.bin`, { headers: { range: 'bytes=99000-' } });
  assert.ok(Buffer.from(await tail.arrayBuffer()).equals(data.subarray(99000)));
  assert.equal((await fetch(`${s.url}/file.bin`, { headers: { range: 'bytes=200000-' } })).status, 416);
});

test('nothing outside the served directory, nor dot files', async () => {
  const s = await startServe(root);
  for (const p of ['/escape', '/.hidden', '/%2e%2e/secret', '/../secret', '/a/%2e%2e/%2e%2e/secret', '/..%2fsecret', '/missing']) {
    const r = await rawRequest(s.url, 'GET', p);
    assert.ok(r.status === 404 || r.status === 400, `${p}: ${r.status}`);
    assert.notEqual(r.text, 'outside');
  }
});

test('a read-only server refuses PUT; a writable one needs the token', async () => {
  const ro = await startServe(root);
  assert.equal((await fetch(`${ro.url}/x.caibx`, { method: 'PUT', body: 'x' })).status, 405);
  const up = join(dir, 'up1');
  mkdirSync(up);
  const rw = await startServe(up, ['--writable', '--token=t0k3n'], { WASYNC_TOKEN: '' });
  const { id, body } = zstdChunk(rand('chunk', 5000));
  const url = `${rw.url}/s.castr/${id.slice(0, 4)}/${id}.cacnk`;
  assert.equal((await fetch(url, { method: 'PUT', body })).status, 401);
  assert.equal((await fetch(url, { method: 'PUT', body, headers: { authorization: 'Bearer nope!' } })).status, 401);
  const auth = { authorization: 'Bearer t0k3n' };
  assert.equal((await fetch(url, { method: 'PUT', body, headers: auth })).status, 201);
  assert.equal((await fetch(url, { method: 'PUT', body, headers: auth })).status, 200, 'already present');
  assert.deepEqual(storeChunks(join(up, 's.castr')), [`${id}.cacnk`]);
  assert.equal(sha512_256(rand('chunk', 5000)), id);
});

test('uploads are verified: bad chunks, bad indexes and other paths are refused', async () => {
  const up = join(dir, 'up2');
  mkdirSync(up);
  const s = await startServe(up, ['--writable', '--token=t'], { WASYNC_TOKEN: '' });
  const put = (p: string, body: Uint8Array | string) => fetch(`${s.url}${p}`, { method: 'PUT', body, headers: { authorization: 'Bearer t' } });
  const { id, body } = zstdChunk(rand('chunk2', 5000));
  const other = zstdChunk(rand('chunk3', 5000));
  const wrongName = await put(`/s/${other.id.slice(0, 4)}/${other.id}.cacnk`, body);
  assert.equal(wrongName.status, 422);
  assert.match(await wrongName.text(), /does not match its name/);
  const garbage = await put(`/s/${id.slice(0, 4)}/${id}.cacnk`, 'not zstd');
  assert.equal(garbage.status, 422);
  assert.equal((await put('/x.caibx', 'not an index')).status, 422);
  assert.equal((await put('/notes.txt', 'hello')).status, 403);
  for (const p of ['/../escape.caibx', '/%2e%2e/escape.caibx', '/a/..%2f..%2fescape.caibx']) {
    assert.equal((await rawRequest(s.url, 'PUT', p, 'x', { authorization: 'Bearer t' })).status, 400, p);
  }
  assert.ok(!existsSync(join(dir, 'escape.caibx')));
  assert.deepEqual(readdirSync(up).filter((n) => n !== 's'), [], 'nothing written');
  assert.deepEqual(storeChunks(join(up, 's')), []);
  // A real index is taken, and replaces the old one whole.
  const img = join(dir, 'small.img');
  writeFileSync(img, rand('small', 200_000));
  ok(wasync(['make', '--store', join(dir, 'small.castr'), join(dir, 'small.caibx'), img]));
  assert.equal((await put('/small.caibx', readFileSync(join(dir, 'small.caibx')))).status, 201);
  assert.ok(readFileSync(join(up, 'small.caibx')).equals(readFileSync(join(dir, 'small.caibx'))));
  assert.ok(!existsSync(join(up, 'x.caibx')));
});
