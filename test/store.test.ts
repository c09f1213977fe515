// The local chunk store: where it is (§7.4), what it holds (§5), and that
// chunks already there are never rewritten.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decompress } from 'zstd-napi';
import { parseIndex } from '../src/format/index-file.ts';
import { toHex } from '../src/chunk/chunk-id.ts';
import { checkStored, type ChunkCheck } from '../src/stores/checked-store.ts';
import { unsupported } from '../src/errors.ts';
import { ok, rand, storeChunks, tempDir, wasync } from './helpers.ts';

const dir = tempDir();
const p = (n: string) => join(dir, n);
const data = rand('store', 2 << 20);
writeFileSync(p('in.img'), data);

test('default store: --store, else $CASYNC_STORE, else default.castr beside the index', () => {
  mkdirSync(p('sub'));
  ok(wasync(['make', p('sub/a.caibx'), p('in.img')]));
  assert.ok(storeChunks(p('sub/default.castr')).length > 0);
  ok(wasync(['make', 'b.caibx', p('in.img')], { cwd: p('sub') }));
  ok(wasync(['make', p('sub/c.caibx'), p('in.img')], { env: { CASYNC_STORE: p('env.castr') } }));
  assert.ok(storeChunks(p('env.castr')).length > 0);
  ok(wasync(['make', `--store=${p('opt.castr')}`, p('sub/d.caibx'), p('in.img')], { env: { CASYNC_STORE: p('env2.castr') } }));
  assert.ok(existsSync(p('opt.castr')) && !existsSync(p('env2.castr')));
  ok(wasync(['extract', p('sub/a.caibx'), p('a.out')]));
  assert.ok(readFileSync(p('a.out')).equals(data));
});

test('chunk files are read-only, complete, and never rewritten', () => {
  const store = p('rw.castr');
  const first = ok(wasync(['make', '-v', `--store=${store}`, p('rw.caibx'), p('in.img')]));
  const chunks = storeChunks(store);
  assert.match(first.stderr, new RegExp(`Stored ${chunks.length} new chunks`));
  for (const c of chunks) {
    const path = join(store, c.slice(0, 4), c);
    assert.equal(statSync(path).mode & 0o777, 0o444);
  }
  for (const sub of readdirSync(store)) assert.deepEqual(readdirSync(join(store, sub)).filter((f) => !f.endsWith('.cacnk')), []);
  const before = chunks.map((c) => statSync(join(store, c.slice(0, 4), c)).ino);
  const again = ok(wasync(['make', '-v', '--compression=gzip', `--store=${store}`, p('rw2.caibx'), p('in.img')]));
  assert.match(again.stderr, /Stored 0 new chunks/);
  assert.deepEqual(chunks.map((c) => statSync(join(store, c.slice(0, 4), c)).ino), before);
});

test('uncompressed <id> chunks are read, and count as present; a /dev/null link marks a chunk missing', () => {
  const store = p('plain.castr');
  ok(wasync(['make', `--store=${store}`, p('plain.caibx'), p('in.img')]));
  const entries = parseIndex(readFileSync(p('plain.caibx')), 'plain').entries;
  const [a, b] = [toHex(entries[0].id), toHex(entries[1].id)];
  const pa = join(store, a.slice(0, 4), a);
  writeFileSync(pa, decompress(readFileSync(`${pa}.cacnk`)));
  rmSync(`${pa}.cacnk`);
  ok(wasync(['extract', `--store=${store}`, p('plain.caibx'), p('plain.out')]));
  assert.ok(readFileSync(p('plain.out')).equals(data));
  ok(wasync(['make', `--store=${store}`, p('plain2.caibx'), p('in.img')]));
  assert.ok(!existsSync(`${pa}.cacnk`), 'an uncompressed chunk is not stored again');

  const copy = p('copy.castr');
  cpSync(store, copy, { recursive: true });
  const pb = join(store, b.slice(0, 4), b);
  rmSync(`${pb}.cacnk`);
  symlinkSync('/dev/null', pb);
  const r = wasync(['extract', `--store=${store}`, p('plain.caibx'), p('plain.out2')]);
  assert.match(r.stderr, new RegExp(`chunk ${b} is missing`));
  ok(wasync(['extract', `--store=${store}`, `--extra-store=${copy}`, p('plain.caibx'), p('plain.out2')]));
  assert.ok(readFileSync(p('plain.out2')).equals(data));
});

test('several seeds, each used for what it has', () => {
  const part1 = data.subarray(0, 1 << 20);
  const part2 = data.subarray(1 << 20);
  writeFileSync(p('seed1.img'), Buffer.concat([part1, rand('noise1', 300_000)]));
  writeFileSync(p('seed2.img'), Buffer.concat([rand('noise2', 300_000), part2]));
  const store = p('seeds.castr');
  ok(wasync(['make', `--store=${store}`, p('seeds.caibx'), p('in.img')]));
  const n = parseIndex(readFileSync(p('seeds.caibx')), 'x').entries.length;
  const r = ok(wasync(['extract', '-v', `--store=${store}`, `--seed=${p('seed1.img')}`, `--seed=${p('seed2.img')}`, p('seeds.caibx'), p('seeds.out')]));
  assert.ok(readFileSync(p('seeds.out')).equals(data));
  const fromStore = Number(/fulfilled from local store: (\d+)/.exec(r.stderr)![1]);
  assert.ok(fromStore <= 4, `${fromStore} of ${n} chunks from the store`);
});

test('a codec that cannot run fails the job; it does not make the copy corrupt (verify --repair would remove it)', async () => {
  const failing = (e: Error): ChunkCheck => ({ digest: 'sha512-256', decompress: () => Promise.reject(e), idOf: () => new Uint8Array(32) });
  const id = '00'.repeat(32);
  assert.equal(await checkStored(failing(new Error('lzma: data is corrupt')), id, 10, new Uint8Array(10)), 'does not decompress (lzma: data is corrupt)');
  await assert.rejects(checkStored(failing(unsupported('xz chunks need lzma-native, which does not load here')), id, 10, new Uint8Array(10)), { code: 'EUNSUPPORTED' });
});
