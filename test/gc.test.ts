import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { casync, haveCasync, ok, rand, requires, storeChunks, tempDir, wasync } from './helpers.ts';
import { parseIndex } from '../src/format/index-file.ts';
import { readFileSync } from 'node:fs';
import { toHex } from '../src/chunk/chunk-id.ts';

const dir = tempDir();
const p = (name: string) => join(dir, name);
const a = rand('gc-a', 3 << 20);
const b = Buffer.concat([a.subarray(0, 1 << 20), rand('gc-b', 2 << 20)]);
writeFileSync(p('a.img'), a);
writeFileSync(p('b.img'), b);
const store = p('s.castr');
ok(wasync(['make', `--store=${store}`, p('a.caibx'), p('a.img')]));
ok(wasync(['make', `--store=${store}`, p('b.caibx'), p('b.img')]));
const idsOf = (i: string) => new Set(parseIndex(readFileSync(i), i).entries.map((e) => `${toHex(e.id)}.cacnk`));
const aIds = idsOf(p('a.caibx'));
const all = storeChunks(store);

test('dry run reports and removes nothing', () => {
  const r = ok(wasync(['gc', '--dry-run', `--store=${store}`, p('a.caibx')]));
  const remove = all.filter((c) => !aIds.has(c)).length;
  assert.equal(r.stdout, `Would remove ${remove} chunks, ${all.length - remove} chunks remaining.\n`);
  assert.deepEqual(storeChunks(store), all);
});

test('gc keeps exactly the chunks the indexes reference', () => {
  const copy = p('copy.castr');
  cpSync(store, copy, { recursive: true });
  ok(wasync(['gc', `--store=${copy}`, p('a.caibx'), p('b.caibx')]));
  assert.deepEqual(storeChunks(copy), all);
  const r = ok(wasync(['gc', '-v', `--store=${copy}`, p('a.caibx')]));
  assert.deepEqual(storeChunks(copy), [...aIds].sort());
  assert.match(r.stdout, /^Chunk store usage: \d+ references, \d+ chunks\n/);
  assert.match(r.stdout, /Removing chunk [0-9a-f]{64}\.cacnk\.\n/);
  assert.match(r.stdout, new RegExp(`Removed ${all.length - aIds.size} chunks, \\d+ directories, ${aIds.size} chunks remaining\\.\\n$`));
});

test('the default store is the one beside the first index', () => {
  const sub = p('beside');
  cpSync(store, join(sub, 'default.castr'), { recursive: true });
  cpSync(p('a.caibx'), join(sub, 'a.caibx'));
  ok(wasync(['gc', join(sub, 'a.caibx')]));
  assert.deepEqual(storeChunks(join(sub, 'default.castr')), [...aIds].sort());
});

test('wasync gc and casync gc leave the same store', (t) => {
  if (!requires(t, haveCasync, 'the casync binary (apt-get install casync)')) return;
  const w = p('w.castr');
  const c = p('c.castr');
  cpSync(store, w, { recursive: true });
  cpSync(store, c, { recursive: true });
  const dry = [casync(['gc', '--dry-run', `--store=${c}`, p('b.caibx')]), wasync(['gc', '--dry-run', `--store=${w}`, p('b.caibx')])];
  assert.equal(dry[1].stdout, dry[0].stdout);
  ok(casync(['gc', `--store=${c}`, p('b.caibx')]));
  ok(wasync(['gc', `--store=${w}`, p('b.caibx')]));
  assert.deepEqual(storeChunks(w), storeChunks(c));
});
