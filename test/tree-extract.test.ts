// Tree extraction: hostile archives and hostile targets, and the extraction
// options (--delete, --undo-immutable, --punch-holes, --uid-shift/--uid-range,
// --with/--without), as the command line runs them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isRoot, ok, rand, requires, storeChunks, tempDir, wasync } from './helpers.ts';
import { buildCatar, dir as hdir, file as hfile, symlink as hsymlink, filename, record } from './catar-hostile.ts';
import { CA_FORMAT_FILENAME } from '../src/format/catar-constants.ts';
import { mounted } from './linux-fixtures.ts';

const S_IFLNK = 0o120000;
const work = tempDir();
let n = 0;
const fresh = () => {
  const d = join(work, `case${n++}`);
  mkdirSync(d);
  return d;
};

function extractBytes(archive: Uint8Array, target: string, args: string[] = []) {
  const path = `${target}.catar`;
  writeFileSync(path, archive);
  return wasync(['extract', ...args, path, target]);
}

test('hostile names are refused before anything is created', () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ['dotdot', filename('..'), /invalid|\.\./i],
    ['slash', filename('a/b'), /invalid|'\/'/i],
    ['nul', record(CA_FORMAT_FILENAME, Uint8Array.from([0x61, 0, 0x62, 0])), /invalid|NUL/i],
    ['empty', record(CA_FORMAT_FILENAME, Uint8Array.from([0])), /invalid|empty/i],
  ];
  for (const [what, raw, re] of cases) {
    const base = fresh();
    const target = join(base, 'target');
    const { bytes } = buildCatar(hdir(undefined, [{ ...hfile('x', 'pwned\n'), rawFilename: raw }]));
    const r = extractBytes(bytes, target);
    assert.equal(r.status, 1, what);
    assert.match(r.stderr, /^wasync: .*\.catar: .*\(at byte \d+\)\n$/, what);
    assert.match(r.stderr, re, what);
    assert.deepEqual(readdirSync(base).sort(), ['target', 'target.catar'].filter((f) => existsSync(join(base, f))).sort(), what);
    if (existsSync(target)) assert.deepEqual(readdirSync(target), [], `${what}: nothing created`);
  }
});

test('duplicate and unsorted names are refused', () => {
  for (const [what, kids] of [
    ['duplicate', [hfile('a', '1'), hfile('a', '2')]],
    ['unsorted', [hfile('b', '1'), hfile('a', '2')]],
    ['symlink then directory of the same name', [{ name: 'a', mode: S_IFLNK | 0o777, body: [hsymlink('/')] }, hdir('a', [hfile('x', 'pwned')])]],
  ] as const) {
    const target = join(fresh(), 'target');
    const r = extractBytes(buildCatar(hdir(undefined, [...kids])).bytes, target);
    assert.equal(r.status, 1, what);
    assert.match(r.stderr, /not in strictly increasing order|duplicate|sorted/i, what);
  }
});

test('symlinks already in the target are replaced, never followed', () => {
  const base = fresh();
  const outside = join(base, 'outside');
  mkdirSync(outside);
  writeFileSync(join(outside, 'victim'), 'untouched\n');
  const target = join(base, 'target');
  mkdirSync(target);
  symlinkSync('../outside', join(target, 'd'));
  symlinkSync('../outside/victim', join(target, 'f'));
  const archive = buildCatar(hdir(undefined, [hdir('d', [hfile('victim', 'pwned\n')]), hfile('f', 'new\n')])).bytes;
  ok(extractBytes(archive, target));
  assert.equal(readFileSync(join(outside, 'victim'), 'utf8'), 'untouched\n');
  assert.deepEqual(readdirSync(outside), ['victim']);
  assert.ok(lstatSync(join(target, 'd')).isDirectory());
  assert.equal(readFileSync(join(target, 'd', 'victim'), 'utf8'), 'pwned\n');
  assert.ok(lstatSync(join(target, 'f')).isFile());
});

test('a symlink in the archive pointing outside is created, not used', () => {
  const base = fresh();
  const outside = join(base, 'outside');
  mkdirSync(outside);
  const target = join(base, 'target');
  const archive = buildCatar(
    hdir(undefined, [{ name: 'escape', mode: S_IFLNK | 0o777, body: [hsymlink(outside)] }, hfile('z', 'ok\n')]),
  ).bytes;
  ok(extractBytes(archive, target));
  assert.equal(lstatSync(join(target, 'escape')).isSymbolicLink(), true);
  assert.deepEqual(readdirSync(outside), []);
});

test('--delete: extra entries go by default and stay with --delete=no', () => {
  const src = join(fresh(), 'src');
  mkdirSync(join(src, 'sub'), { recursive: true });
  writeFileSync(join(src, 'keep'), 'k');
  const archive = `${src}.catar`;
  ok(wasync(['make', archive, src]));
  for (const [args, stays] of [[[], false], [['--delete=no'], true]] as const) {
    const target = join(fresh(), 't');
    mkdirSync(join(target, 'extra-dir', 'deeper'), { recursive: true });
    writeFileSync(join(target, 'extra'), 'x');
    ok(wasync(['extract', ...args, archive, target]));
    assert.equal(existsSync(join(target, 'extra')), stays);
    assert.equal(existsSync(join(target, 'extra-dir')), stays);
    assert.equal(readFileSync(join(target, 'keep'), 'utf8'), 'k');
  }
});

test('--undo-immutable: an immutable file in the way is an error unless undone', (t) => {
  const ext4 = mounted('ext4');
  if (!requires(t, ext4 !== null, 'root, mkfs.ext4 and loop mounts (chattr +i)')) return;
  const src = join(ext4!, `undo-src-${process.pid}`);
  mkdirSync(src);
  writeFileSync(join(src, 'a'), 'a');
  const archive = join(work, 'undo.catar');
  ok(wasync(['make', archive, src]));
  const target = join(ext4!, `undo-target-${process.pid}`);
  mkdirSync(target);
  writeFileSync(join(target, 'locked'), 'l');
  execFileSync('chattr', ['+i', join(target, 'locked')]);
  const r = wasync(['extract', archive, target]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /locked: cannot remove: EPERM .*try --undo-immutable=yes/);
  ok(wasync(['extract', '--undo-immutable=yes', archive, target]));
  assert.ok(!existsSync(join(target, 'locked')));
});

test('--punch-holes: zeros become holes unless turned off', () => {
  const src = join(fresh(), 'src');
  mkdirSync(src);
  writeFileSync(join(src, 'sparse'), Buffer.concat([rand('h', 5000), Buffer.alloc(8 << 20), rand('t', 100)]));
  const archive = `${src}.catar`;
  ok(wasync(['make', archive, src]));
  const a = join(fresh(), 'holes');
  const b = join(fresh(), 'full');
  ok(wasync(['extract', archive, a]));
  ok(wasync(['extract', '--punch-holes=no', archive, b]));
  assert.ok(readFileSync(join(a, 'sparse')).equals(readFileSync(join(src, 'sparse'))));
  assert.ok(readFileSync(join(b, 'sparse')).equals(readFileSync(join(src, 'sparse'))));
  assert.ok(statSync(join(a, 'sparse')).blocks * 512 < 1 << 20, 'sparse');
  assert.ok(statSync(join(b, 'sparse')).blocks * 512 >= 8 << 20, 'written out');
});

test('--uid-shift and --uid-range map owners as casync does', (t) => {
  if (!requires(t, isRoot, 'root (chown)')) return;
  const src = join(fresh(), 'src');
  mkdirSync(src);
  writeFileSync(join(src, 'f'), 'f');
  execFileSync('chown', ['70000:1000', join(src, 'f')]);
  const archive = `${src}.catar`;
  ok(wasync(['make', '--without=user-names', archive, src]));
  const owner = (args: string[]) => {
    const target = join(fresh(), 't');
    ok(wasync(['extract', ...args, archive, target]));
    const st = statSync(join(target, 'f'));
    return [st.uid, st.gid];
  };
  assert.deepEqual(owner([]), [70000, 1000]);
  assert.deepEqual(owner(['--uid-shift=100000']), [70000 % 65536 + 100000, 101000]);
  assert.deepEqual(owner(['--uid-shift=100000', '--uid-range=1000000']), [170000, 101000]);
  assert.equal(wasync(['extract', '--uid-shift=bogus', archive, join(work, 'bogus')]).status, 1);
});

test('--without on extraction leaves that metadata out', (t) => {
  if (!requires(t, isRoot && spawnSync('setfattr', ['--version']).status === 0, 'root and setfattr')) return;
  const src = join(fresh(), 'src');
  mkdirSync(src);
  writeFileSync(join(src, 'f'), 'f');
  execFileSync('setfattr', ['-n', 'user.k', '-v', 'v', join(src, 'f')]);
  const archive = `${src}.catar`;
  ok(wasync(['make', archive, src]));
  const a = join(fresh(), 'with');
  const b = join(fresh(), 'without');
  ok(wasync(['extract', archive, a]));
  ok(wasync(['extract', '--without=xattrs', archive, b]));
  const get = (p: string) => spawnSync('getfattr', ['-d', p], { encoding: 'utf8' }).stdout;
  assert.match(get(join(a, 'f')), /user\.k="v"/);
  assert.doesNotMatch(get(join(b, 'f')), /user\.k/);
});

test('a failed extraction from an index says which chunk and leaves no temporary files', () => {
  const src = join(fresh(), 'src');
  mkdirSync(src);
  writeFileSync(join(src, 'big'), rand('big', 3 << 20));
  const store = join(work, 'fail.castr');
  const index = join(work, 'fail.caidx');
  ok(wasync(['make', `--store=${store}`, index, src]));
  const victim = storeChunks(store)[3];
  rmSync(join(store, victim.slice(0, 4), victim));
  const target = join(fresh(), 't');
  const r = wasync(['extract', `--store=${store}`, index, target]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, new RegExp(`chunk ${victim.replace('.cacnk', '')} is missing`));
  const leftovers = spawnSync('find', [target, '-name', '.#wasync.*'], { encoding: 'utf8' }).stdout;
  assert.equal(leftovers, '');
});

test('an archive on standard input', () => {
  const src = join(fresh(), 'src');
  mkdirSync(src);
  writeFileSync(join(src, 'f'), 'stdin\n');
  const archive = `${src}.catar`;
  ok(wasync(['make', archive, src]));
  const target = join(fresh(), 't');
  ok(wasync(['extract', '--what=archive', '-', target], { input: readFileSync(archive) }));
  assert.equal(readFileSync(join(target, 'f'), 'utf8'), 'stdin\n');
});
