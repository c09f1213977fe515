// Seeds when extracting a .caidx: an older tree (--seed=DIR), the existing target
// (unless --seed-output=no) and an older .catar (a file seed).  Only what the
// seeds lack comes from the store.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseIndex } from '../src/format/index-file.ts';
import { chunkPathBase, toHex } from '../src/chunk-id.ts';
import { casync, haveCasync, ok, rand, tempDir, wasync } from './helpers.ts';

const dir = tempDir();
const p = (n: string) => join(dir, n);

// v1: a tree of a few MiB; v2: one file rewritten, one appended to, one added, one removed.
mkdirSync(p('v1/sub'), { recursive: true });
for (let i = 0; i < 12; i++) writeFileSync(p(`v1/sub/f${i}`), rand(`f${i}`, 150_000 + i * 7000));
writeFileSync(p('v1/big'), rand('big', 2 << 20));
writeFileSync(p('v1/gone'), rand('gone', 90_000));
cpSync(p('v1'), p('v2'), { recursive: true });
writeFileSync(p('v2/sub/f3'), rand('f3-new', 160_000));
appendFileSync(p('v2/big'), 'appended\n');
writeFileSync(p('v2/new'), rand('new', 120_000));
rmSync(p('v2/gone'));
const store = p('s.castr');
ok(wasync(['make', `--store=${store}`, p('v1.caidx'), p('v1')]));
ok(wasync(['make', `--store=${store}`, p('v2.caidx'), p('v2')]));
const ids = (i: string) => parseIndex(readFileSync(i), i).entries.map((e) => toHex(e.id));
const v1 = new Set(ids(p('v1.caidx')));
const v2 = ids(p('v2.caidx'));
const lacking = v2.filter((id) => !v1.has(id));
const fromStore = (stderr: string) => Number(/fulfilled from local store: (\d+)/.exec(stderr)?.[1]);

function same(a: string, b: string) {
  if (haveCasync) assert.equal(ok(casync(['mtree', b])).stdout, ok(casync(['mtree', a])).stdout);
  assert.deepEqual(readFileSync(join(b, 'big')), readFileSync(join(a, 'big')));
}

test('an older tree as --seed: only what it lacks comes from the store', () => {
  assert.ok(lacking.length > 0 && lacking.length < v2.length / 2, `${lacking.length} of ${v2.length}`);
  const r = ok(wasync(['extract', '-v', `--store=${store}`, `--seed=${p('v1')}`, p('v2.caidx'), p('out1')]));
  assert.equal(fromStore(r.stderr), lacking.length);
  same(p('v2'), p('out1'));
  // Prove it: a store without the chunks v1 has still serves the extraction.
  const thin = p('thin.castr');
  cpSync(store, thin, { recursive: true });
  for (const id of v1) rmSync(join(thin, `${chunkPathBase(id)}.cacnk`), { force: true });
  ok(wasync(['extract', `--store=${thin}`, `--seed=${p('v1')}`, p('v2.caidx'), p('out2')]));
  same(p('v2'), p('out2'));
});

test('the existing target is a seed unless --seed-output=no', () => {
  cpSync(p('v1'), p('target'), { recursive: true });
  const r = ok(wasync(['extract', '-v', `--store=${store}`, p('v2.caidx'), p('target')]));
  assert.equal(fromStore(r.stderr), lacking.length);
  same(p('v2'), p('target'));
  rmSync(p('target'), { recursive: true });
  cpSync(p('v1'), p('target'), { recursive: true });
  const r2 = ok(wasync(['extract', '-v', '--seed-output=no', `--store=${store}`, p('v2.caidx'), p('target')]));
  assert.equal(fromStore(r2.stderr), v2.length);
  same(p('v2'), p('target'));
});

test('an older .catar is a seed too (its bytes are the old stream)', () => {
  ok(wasync(['make', p('v1.catar'), p('v1')]));
  const r = ok(wasync(['extract', '-v', `--store=${store}`, `--seed=${p('v1.catar')}`, p('v2.caidx'), p('out3')]));
  assert.equal(fromStore(r.stderr), lacking.length);
  same(p('v2'), p('out3'));
});

test('a seed whose files hold other bytes supplies only what still matches', () => {
  cpSync(p('v1'), p('changing'), { recursive: true });
  for (let i = 0; i < 12; i++) writeFileSync(p(`changing/sub/f${i}`), rand(`other${i}`, 150_000 + i * 7000));
  const r = ok(wasync(['extract', '-v', `--store=${store}`, `--seed=${p('changing')}`, p('v2.caidx'), p('out4')]));
  same(p('v2'), p('out4'));
  assert.ok(fromStore(r.stderr) > lacking.length);
});
