// --with=user-names on its own (names, no numeric ids): wasync writes the bytes
// casync writes, archive and index alike.  casync stores no name for root and
// an unnamed owner's id in decimal, and its own reader refuses both ("Bad
// message"); wasync reads them as casync's extraction means them.  Where every
// owner has a name, each tool lists and extracts what the other made.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, lstatSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { casync, haveCasync, isRoot, ok, requires, storeChunks, tempDir, wasync } from './helpers.ts';

const dir = tempDir('wasync-user-names-');

/** A tree whose entries have these owners (uid = gid), the top one first. */
function tree(name: string, owners: number[]): string {
  const root = join(dir, name);
  mkdirSync(join(root, 'sub'), { recursive: true });
  const paths = [root, join(root, 'sub')];
  owners.slice(2).forEach((_, i) => {
    const f = join(root, i % 2 ? 'sub' : '', `f${i}`);
    writeFileSync(f, `file ${i}\n`);
    paths.push(f);
  });
  paths.forEach((p, i) => chownSync(p, owners[i], owners[i]));
  return root;
}

/** Every entry's owner below `root`, by relative name. */
function owners(root: string, names: string[]): Record<string, number> {
  return Object.fromEntries(names.map((n) => [n, lstatSync(join(root, n)).uid]));
}

function bothMake(root: string, name: string) {
  const made: Record<string, string> = {};
  for (const [tool, run] of [['wasync', wasync], ['casync', casync]] as const) {
    const catar = join(dir, `${name}-${tool}.catar`);
    const caidx = join(dir, `${name}-${tool}.caidx`);
    ok(run(['make', '--with=user-names', catar, root]), `${tool} make ${catar}`);
    ok(run(['make', '--with=user-names', `--store=${join(dir, `${name}-${tool}.castr`)}`, caidx, root]), `${tool} make ${caidx}`);
    made[`${tool}.catar`] = catar;
    made[`${tool}.caidx`] = caidx;
  }
  assert.ok(readFileSync(made['wasync.catar']).equals(readFileSync(made['casync.catar'])), `${name}: the same archive as casync`);
  assert.ok(readFileSync(made['wasync.caidx']).equals(readFileSync(made['casync.caidx'])), `${name}: the same index as casync`);
  assert.deepEqual(storeChunks(join(dir, `${name}-wasync.castr`)), storeChunks(join(dir, `${name}-casync.castr`)));
  return made;
}

const NAMES = ['.', 'sub', 'f0', 'sub/f1', 'f2'];

test('owners root, daemon and an unnamed uid: casync\'s bytes, which casync cannot read back and wasync can', (t) => {
  if (!requires(t, haveCasync, 'the casync binary') || !requires(t, isRoot, 'root (chown)')) return;
  const root = tree('mixed', [0, 1, 0, 1, 2000]);
  const made = bothMake(root, 'mixed');
  for (const f of Object.values(made)) {
    const r = casync(['list', `--store=${f.replace(/\.caidx$/, '.castr')}`, f]);
    assert.equal(r.status, 1, `casync list ${f}`);
    assert.match(r.stderr, /Bad message/, 'casync refuses its own archive, and ours the same way');
  }
  for (const tool of ['wasync', 'casync']) {
    const catar = made[`${tool}.catar`];
    assert.equal(ok(wasync(['list', catar])).stdout, ok(wasync(['list', '--with=user-names', root])).stdout, `wasync list ${catar}`);
    assert.match(ok(wasync(['mtree', catar])).stdout, /^f2 .*uname=2000 gname=2000/m);
    for (const f of [catar, made[`${tool}.caidx`]]) {
      const out = join(dir, `x-${tool}-${f.endsWith('.caidx') ? 'caidx' : 'catar'}`);
      ok(wasync(['extract', `--store=${join(dir, `mixed-${tool}.castr`)}`, f, out]), `wasync extract ${f}`);
      assert.deepEqual(owners(out, NAMES), { '.': 0, sub: 1, f0: 0, 'sub/f1': 1, f2: 2000 }, `owners from ${f}`);
    }
  }
});

test('every owner named: each tool lists and extracts what the other made', (t) => {
  if (!requires(t, haveCasync, 'the casync binary') || !requires(t, isRoot, 'root (chown)')) return;
  const root = tree('named', [1, 1, 1, 1, 1]);
  const made = bothMake(root, 'named');
  const listing = ok(casync(['list', made['casync.catar']])).stdout;
  for (const [reader, run] of [['wasync', wasync], ['casync', casync]] as const) {
    for (const tool of ['wasync', 'casync']) {
      const store = `--store=${join(dir, `named-${tool}.castr`)}`;
      assert.equal(ok(run(['list', store, made[`${tool}.caidx`]])).stdout, listing, `${reader} list ${tool}'s index`);
      const out = join(dir, `n-${reader}-${tool}`);
      ok(run(['extract', store, made[`${tool}.caidx`], out]), `${reader} extract ${tool}'s index`);
      assert.deepEqual(owners(out, NAMES), Object.fromEntries(NAMES.map((n) => [n, 1])), `${reader} extracting ${tool}'s`);
    }
  }
});
