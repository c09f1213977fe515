// Seeds when extracting a .caidx: an older tree (--seed=DIR), the existing target
// (unless --seed-output=no) and an older .catar (a file seed).  Only what the
// seeds lack comes from the store.

import { test } from 'node:test';
import { execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseIndex } from '../src/format/index-file.ts';
import { chunkPathBase, toHex } from '../src/chunk/chunk-id.ts';
import { casync, haveCasync, ok, rand, requires, tempDir, wasync } from './helpers.ts';
import { mounted, sharedBytes } from './linux-fixtures.ts';

const dir = tempDir();
const p = (n: string) => join(dir, n);

// v1: a tree of a few MiB; v2: one file rewritten, one appended to, one added, one removed.
mkdirSync(p('v1/sub'), { recursive: true });
for (let i = 0; i < 12; i++) writeFileSync(p(`v1/sub/f${i}`), rand(`f${i}`, 150_000 + i * 7000));
writeFileSync(p('v1/big'), rand('big', 2 << 20));
writeFileSync(p('v1/gone'), rand('gone', 90_000));
execFileSync('cp', ['-a', p('v1'), p('v2')]); // nanosecond times kept
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
  execFileSync('cp', ['-a', p('v1'), p('target')]);
  const r = ok(wasync(['extract', '-v', `--store=${store}`, p('v2.caidx'), p('target')]));
  assert.equal(fromStore(r.stderr), lacking.length);
  same(p('v2'), p('target'));
  rmSync(p('target'), { recursive: true });
  execFileSync('cp', ['-a', p('v1'), p('target')]);
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
  execFileSync('cp', ['-a', p('v1'), p('changing')]);
  for (let i = 0; i < 12; i++) writeFileSync(p(`changing/sub/f${i}`), rand(`other${i}`, 150_000 + i * 7000));
  const r = ok(wasync(['extract', '-v', `--store=${store}`, `--seed=${p('changing')}`, p('v2.caidx'), p('out4')]));
  same(p('v2'), p('out4'));
  assert.ok(fromStore(r.stderr) > lacking.length);
});

test('--reflink clones seed data on XFS; ext4 falls back to copying', (t) => {
  const xfs = mounted('xfs');
  if (!requires(t, xfs !== null, 'root, mkfs.xfs and loop mounts (reflinks)')) return;
  const base = join(xfs!, `reflink-${process.pid}`);
  execFileSync('mkdir', [base]);
  execFileSync('cp', ['-a', p('v1'), p('v2'), base]);
  const s = join(base, 's.castr');
  ok(wasync(['make', `--store=${s}`, join(base, 'v2.caidx'), join(base, 'v2')]));
  const r = ok(wasync(['extract', '-v', `--store=${s}`, `--seed=${join(base, 'v1')}`, join(base, 'v2.caidx'), join(base, 'out')]));
  const cloned = /Bytes cloned through reflinks: ([\d.]+)([KMG]?)/.exec(r.stderr)!;
  assert.ok(Number(cloned[1]) > 0 && cloned[2] === 'M', r.stderr);
  same(join(base, 'v2'), join(base, 'out'));
  const r2 = ok(wasync(['extract', '-v', '--reflink=no', `--store=${s}`, `--seed=${join(base, 'v1')}`, join(base, 'v2.caidx'), join(base, 'out2')]));
  assert.doesNotMatch(r2.stderr, /Bytes cloned through reflinks/, 'no count without --reflink, as casync');
  same(join(base, 'v2'), join(base, 'out2'));
  // On ext4 (no reflinks) the same extraction copies.
  const r3 = ok(wasync(['extract', '-v', `--store=${store}`, `--seed=${p('v1')}`, p('v2.caidx'), p('out5')]));
  assert.match(r3.stderr, /Bytes cloned through reflinks: 0B/);
  same(p('v2'), p('out5'));
});

test('--hardlink=yes links identical seed files instead of copying them', () => {
  const r = ok(wasync(['extract', '-v', '--hardlink=yes', `--store=${store}`, `--seed=${p('v1')}`, p('v2.caidx'), p('out6')]));
  same(p('v2'), p('out6'));
  assert.equal(statSync(p('out6/sub/f0')).ino, statSync(p('v1/sub/f0')).ino, 'unchanged file linked');
  assert.notEqual(statSync(p('out6/sub/f3')).ino, statSync(p('v1/sub/f3')).ino, 'changed file copied');
  assert.notEqual(statSync(p('out6/big')).ino, statSync(p('v1/big')).ino, 'changed file copied');
  assert.match(r.stderr, /Bytes cloned through hardlinks: [1-9]/);
  // Without the option, nothing is linked.
  ok(wasync(['extract', `--store=${store}`, `--seed=${p('v1')}`, p('v2.caidx'), p('out7')]));
  assert.notEqual(statSync(p('out7/sub/f0')).ino, statSync(p('v1/sub/f0')).ino);
});

test('--hardlink=yes links every file that matches the seed, as casync does (21 of one size, one changed or all renamed)', (t) => {
  if (!requires(t, haveCasync, 'casync')) return;
  const d = p('many');
  const v1Dir = join(d, 'v1');
  mkdirSync(v1Dir, { recursive: true });
  for (let i = 0; i < 21; i++) writeFileSync(join(v1Dir, `f${i}`), rand(`one-size${i}`, 190_000));
  execFileSync('cp', ['-a', v1Dir, join(d, 'v2')]);
  writeFileSync(join(d, 'v2/f7'), rand('one-size-changed', 190_000));
  // v3: the same files under other names (mv keeps their times).
  execFileSync('cp', ['-a', v1Dir, join(d, 'v3')]);
  for (let i = 0; i < 21; i++) renameSync(join(d, `v3/f${i}`), join(d, `v3/g${i}`));
  const s = join(d, 's.castr');
  const hardlinked = (stderr: string) => /Bytes cloned through hardlinks: (\S+)/.exec(stderr)?.[1];
  const seedInodes = new Set(readdirSync(v1Dir).map((n) => statSync(join(v1Dir, n)).ino));
  const linked = (out: string) => readdirSync(out).filter((n) => seedInodes.has(statSync(join(out, n)).ino)).sort();
  for (const [tree, expected] of [['v2', 20], ['v3', 21]] as const) {
    const index = join(d, `${tree}.caidx`);
    ok(casync(['make', `--store=${s}`, index, join(d, tree)]));
    const c = ok(casync(['extract', '-v', '--hardlink=yes', `--store=${s}`, `--seed=${v1Dir}`, index, join(d, `${tree}-casync`)]));
    const w = ok(wasync(['extract', '-v', '--hardlink=yes', `--store=${s}`, `--seed=${v1Dir}`, index, join(d, `${tree}-wasync`)]));
    assert.equal(ok(casync(['mtree', join(d, `${tree}-wasync`)])).stdout, ok(casync(['mtree', join(d, tree)])).stdout);
    assert.equal(linked(join(d, `${tree}-casync`)).length, expected, `casync on ${tree}`);
    assert.deepEqual(linked(join(d, `${tree}-wasync`)), linked(join(d, `${tree}-casync`)), tree);
    assert.equal(hardlinked(w.stderr), hardlinked(c.stderr), `${tree}: ${w.stderr}`);
  }
  assert.equal(statSync(join(v1Dir, 'f0')).nlink, 5, 'f0: itself and one link from each of four extractions');
});

test('--reflink on a tree shares the blocks casync\'s does and counts them alike (btrfs, XFS)', (t) => {
  if (!requires(t, haveCasync, 'casync')) return;
  const line = (stderr: string) => /^Bytes cloned through reflinks: .*$/m.exec(stderr)?.[0];
  const files = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : []));
  const shared = (dir: string) => files(dir).reduce((n, f) => n + sharedBytes(f), 0);
  for (const kind of ['btrfs', 'xfs'] as const) {
    const mnt = mounted(kind);
    if (!requires(t, mnt !== null, `root, mkfs.${kind} and loop mounts (reflinks)`)) return;
    const base = join(mnt!, `tree-reflink-${process.pid}`);
    mkdirSync(base);
    execFileSync('cp', ['-a', p('v1'), base]);
    const c = ok(casync(['extract', '-v', `--store=${store}`, `--seed=${join(base, 'v1')}`, p('v2.caidx'), join(base, 'c')]));
    const w = ok(wasync(['extract', '-v', `--store=${store}`, `--seed=${join(base, 'v1')}`, p('v2.caidx'), join(base, 'w')]));
    same(p('v2'), join(base, 'w'));
    assert.match(line(c.stderr) ?? '', /: [1-9]/, kind);
    assert.equal(line(w.stderr), line(c.stderr), kind);
    // A run of seed chunks that crosses from one 4 MiB fetch batch into the next may lose its block there.
    const [sw, sc] = [shared(join(base, 'w')), shared(join(base, 'c'))];
    const last = parseIndex(readFileSync(p('v2.caidx')), 'v2.caidx').entries.at(-1)!;
    const seams = Math.floor((last.offset + last.size) / (4 << 20));
    assert.ok(sw <= sc && sc - sw <= 4096 * seams, `${kind}: ${sw} of casync's ${sc}`);
    rmSync(base, { recursive: true });
  }
});
