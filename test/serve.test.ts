// wasync serve: what it serves and refuses.  Paths stay inside the served
// directory; uploads need --writable and the token, and only verified chunks,
// parseable indexes and archives are accepted, never under a partial name.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
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
  assert.deepEqual(readdirSync(up), [], 'nothing written, not even the store directory');
  // A real index is taken, and replaces the old one whole.
  const img = join(dir, 'small.img');
  writeFileSync(img, rand('small', 200_000));
  ok(wasync(['make', '--store', join(dir, 'small.castr'), join(dir, 'small.caibx'), img]));
  assert.equal((await put('/small.caibx', readFileSync(join(dir, 'small.caibx')))).status, 201);
  assert.ok(readFileSync(join(up, 'small.caibx')).equals(readFileSync(join(dir, 'small.caibx'))));
  assert.ok(!existsSync(join(up, 'x.caibx')));
});

/** Everything under `d`, as relative paths (symlinks listed, not followed). */
function tree(d: string, prefix = ''): string[] {
  return readdirSync(d, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? [`${prefix}${e.name}/`, ...tree(join(d, e.name), `${prefix}${e.name}/`)] : [`${prefix}${e.name}`],
  );
}

test('PUT through a symlink out of the directory creates nothing outside; one inside is followed', async () => {
  const up = join(dir, 'up3');
  const elsewhere = join(dir, 'elsewhere');
  mkdirSync(join(up, 'in'), { recursive: true });
  mkdirSync(elsewhere);
  symlinkSync(elsewhere, join(up, 'lnk')); // absolute, out
  symlinkSync('../elsewhere', join(up, 'rel')); // relative, out
  symlinkSync('in', join(up, 'inlnk')); // stays inside
  const s = await startServe(up, ['--writable', '--token=t'], { WASYNC_TOKEN: '' });
  const put = (p: string, body: Uint8Array) => fetch(`${s.url}${p}`, { method: 'PUT', body, headers: { authorization: 'Bearer t' } });
  const { id, body } = zstdChunk(rand('chunk-link', 5000));
  const img = join(dir, 'link.img');
  writeFileSync(img, rand('link', 100_000));
  ok(wasync(['make', '--store', join(dir, 'link.castr'), join(dir, 'link.caibx'), img]));
  const index = readFileSync(join(dir, 'link.caibx'));
  const answers: [string, number, string][] = [];
  for (const p of [`/lnk/${id.slice(0, 4)}/${id}.cacnk`, '/lnk/a/b/c/x.caibx', `/rel/s/${id.slice(0, 4)}/${id}.cacnk`, '/rel/x.caibx']) {
    const r = await put(p, p.endsWith('.cacnk') ? body : index);
    answers.push([p, r.status, await r.text()]);
  }
  assert.deepEqual(tree(elsewhere), [], 'nothing created outside');
  assert.deepEqual(tree(up).sort(), ['in/', 'inlnk', 'lnk', 'rel'], 'nothing left inside');
  for (const [p, status, text] of answers) {
    assert.equal(status, 403, p);
    assert.equal(text, `${p.slice(1)}: ${p.split('/')[1]} leads outside the served directory\n`);
  }
  // A link that stays inside is a directory like another.
  assert.equal((await put(`/inlnk/s/${id.slice(0, 4)}/${id}.cacnk`, body)).status, 201);
  assert.equal((await put('/inlnk/a/b/x.caibx', index)).status, 201);
  assert.deepEqual(tree(join(up, 'in')).sort(), ['a/', 'a/b/', 'a/b/x.caibx', 's/', `s/${id.slice(0, 4)}/`, `s/${id.slice(0, 4)}/${id}.cacnk`]);
  assert.ok(readFileSync(join(up, 'in/a/b/x.caibx')).equals(index));
  assert.ok(Buffer.from(await (await fetch(`${s.url}/inlnk/a/b/x.caibx`)).arrayBuffer()).equals(index));
  // A file where a directory is wanted.
  const r = await put('/in/a/b/x.caibx/y.caibx', index);
  assert.equal(r.status, 409);
  assert.match(await r.text(), /in\/a\/b\/x\.caibx is not a directory/);
  mkdirSync(join(up, 'in', 'd.caibx'));
  const d = await put('/in/d.caibx', index);
  assert.equal(d.status, 409);
  assert.equal(await d.text(), 'in/d.caibx: is a directory\n');
  assert.deepEqual(readdirSync(join(up, 'in', 'd.caibx')), [], 'no temporary file left');
  assert.deepEqual(tree(up).filter((n) => n.includes('.#')), [], 'no temporary file anywhere');
  assert.deepEqual(tree(elsewhere), []);
});

test('GET and HEAD never follow a symlink out of the directory', async () => {
  const served = join(dir, 'served');
  const outside = join(dir, 'outside');
  mkdirSync(join(served, 'in'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(outside, 'f.caibx'), 'outside');
  writeFileSync(join(served, 'in', 'f.caibx'), 'inside');
  symlinkSync(outside, join(served, 'lnk'));
  symlinkSync('../outside', join(served, 'rel'));
  symlinkSync(join(outside, 'f.caibx'), join(served, 'file.caibx'));
  symlinkSync('in', join(served, 'inlnk'));
  symlinkSync('in/f.caibx', join(served, 'alias.caibx'));
  const s = await startServe(served);
  for (const p of ['/lnk/f.caibx', '/rel/f.caibx', '/file.caibx']) {
    for (const method of ['GET', 'HEAD']) {
      const r = await rawRequest(s.url, method, p);
      assert.equal(r.status, 404, `${method} ${p}`);
      assert.doesNotMatch(r.text, /outside/);
    }
  }
  for (const p of ['/inlnk/f.caibx', '/alias.caibx', '/in/f.caibx']) {
    const r = await rawRequest(s.url, 'GET', p);
    assert.deepEqual([r.status, r.text], [200, 'inside'], p);
  }
});

test('an upload cut off mid-body leaves no temporary file', async () => {
  const up = join(dir, 'up4');
  mkdirSync(up);
  const s = await startServe(up, ['--writable', '--token=t', '-v'], { WASYNC_TOKEN: '' });
  const src = join(dir, 'cut-src');
  mkdirSync(src);
  writeFileSync(join(src, 'big'), rand('cut', 3_000_000));
  ok(wasync(['make', join(dir, 'cut.catar'), src]));
  const archive = readFileSync(join(dir, 'cut.catar'));
  const u = new URL(s.url);
  await new Promise<void>((resolve) => {
    const req = request({ host: u.hostname, port: u.port, method: 'PUT', path: '/sub/cut.catar', headers: { authorization: 'Bearer t', 'content-length': archive.length } });
    req.on('error', () => resolve());
    // Half of it, then the connection goes.
    req.write(archive.subarray(0, archive.length >> 1), () => setTimeout(() => req.destroy(), 200));
  });
  for (let i = 0; i < 100 && !/PUT \/sub\/cut\.catar/.test(s.stderr()); i++) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(tree(up), [], 'no temporary file, no directory');
  // The whole archive goes in.
  assert.equal((await fetch(`${s.url}/sub/cut.catar`, { method: 'PUT', body: archive, headers: { authorization: 'Bearer t' } })).status, 201);
  assert.deepEqual(tree(up), ['sub/', 'sub/cut.catar']);
  assert.ok(readFileSync(join(up, 'sub/cut.catar')).equals(archive));
});
