// extract --output-format=tar: a tree archived by casync (.caidx and .catar),
// written as a pax stream by wasync and extracted by GNU tar as root, is the
// tree wasync and casync extract: the same `casync mtree` and `casync digest`
// (which covers xattrs and ACLs) as the source and as `wasync extract` of the
// archive.  Also: standard output, sockets left out with a warning, a failed
// extraction leaving no file, and the pax records' own lengths.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { casync, haveCasync, isRoot, ok, rand, requires, tempDir, wasync } from './helpers.ts';
import { has } from './linux-fixtures.ts';
import { tarHeaders } from '../src/format/tar-writer.ts';

const work = tempDir('wasync-tar-out-');
const haveTools = isRoot && haveCasync && has('tar') && has('setfacl') && has('setfattr') && has('python3');
const NEEDS = 'root, casync, GNU tar, setfacl, setfattr and python3';
const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
const TAR_X = ['--warning=no-timestamp', '--xattrs', '--xattrs-include=*', '--acls', '--same-owner', '--numeric-owner', '-xpf'];

/** A tree with every kind of entry tar carries, and the metadata casync archives. */
function makeTree(root: string) {
  mkdirSync(root);
  const p = (...parts: string[]) => join(root, ...parts);
  writeFileSync(p('empty'), '');
  writeFileSync(p('big'), rand('tar-out', 3 << 20));
  writeFileSync(p('block'), rand('tar-block', 512));
  writeFileSync(p('block+1'), rand('tar-block1', 513));
  writeFileSync(p('setuid'), '#!/bin/sh\n');
  chmodSync(p('setuid'), 0o4755);
  writeFileSync(p('\u00e9t\u00e9 \u65e5\u672c.txt'), 'unicode\n');
  writeFileSync(Buffer.from([...Buffer.from(root), 0x2f, 0x6c, 0x61, 0x74, 0x69, 0x6e, 0xe9]), 'not UTF-8\n');
  mkdirSync(p('sub', 'deeper', 'empty dir'), { recursive: true });
  // A path beyond ustar's 100 + 155 bytes, with a 255-byte name at its end.
  const long = [..."abcdef"].map((c) => c.repeat(60));
  mkdirSync(p(...long), { recursive: true });
  writeFileSync(p(...long, `${'n'.repeat(250)}.\u00e9`), 'long\n');
  symlinkSync('big', p('link'));
  symlinkSync(`${'t'.repeat(200)}/dangling`, p('long-link'));
  sh('mkfifo', [p('fifo')]);
  sh('mknod', [p('null'), 'c', '1', '3']);
  sh('mknod', [p('loop'), 'b', '7', '200']);
  writeFileSync(p('attrs'), 'xattrs\n');
  sh('setfattr', ['-n', 'user.text', '-v', 'a value = with spaces', p('attrs')]);
  sh('setfattr', ['-n', 'user.binary', '-v', '0x00ff0a3d0a', p('attrs')]);
  sh('setfacl', ['-m', 'u:1234:r-x,g:4321:rw-', p('attrs')]);
  sh('setfacl', ['-d', '-m', 'u:1234:rwx,g:55:r-x', p('sub')]);
  sh('setfacl', ['-m', 'u:99:rwx', p('sub')]);
  sh('chown', ['1000:2000', p('sub', 'deeper')]);
  sh('chown', ['-h', '4000000000:3000000000', p('link')]);
  sh('chown', ['3000000:3000001', p('block')]);
  chmodSync(p('sub', 'deeper'), 0o750);
  // Nanoseconds, leaves first (a directory's time moves with its entries).
  const stamp = (path: string, t: string) => sh('touch', ['-h', '-d', t, path]);
  stamp(p('big'), '2001-02-03 04:05:06.123456789');
  stamp(p('empty'), '1970-01-01 00:00:00.000000001');
  stamp(p('link'), '2011-11-11 11:11:11.111111111');
  stamp(p('fifo'), '2038-01-19 03:14:08.5');
  stamp(p('sub', 'deeper', 'empty dir'), '1999-12-31 23:59:59.999999999');
  stamp(p('sub', 'deeper'), '2020-02-29 12:00:00.000000100');
  stamp(root, '2024-06-01 00:00:00.25');
}

/** `casync mtree` and `casync digest` of a directory. */
function fingerprint(dir: string) {
  return { mtree: ok(casync(['mtree', dir]), `casync mtree ${dir}`).stdout, digest: ok(casync(['digest', dir]), `casync digest ${dir}`).stdout };
}

function untar(tar: string, into: string) {
  mkdirSync(into);
  const r = spawnSync('tar', [...TAR_X, tar, '-C', into], { encoding: 'utf8' });
  assert.equal(r.status, 0, `tar -x ${tar}: ${r.stderr}`);
  assert.equal(r.stderr, '', 'GNU tar has nothing to say');
}

test('a tree through casync make, wasync extract --output-format=tar and GNU tar is the tree', (t) => {
  if (!requires(t, haveTools, NEEDS)) return;
  const dir = join(work, 'full');
  mkdirSync(dir);
  const src = join(dir, 'src');
  makeTree(src);
  const source = fingerprint(src);
  assert.match(source.mtree, /type=fifo/);
  ok(casync(['make', join(dir, 'x.caidx'), src]));
  ok(casync(['make', join(dir, 'x.catar'), src]));

  const tar = join(dir, 'out.tar');
  const r = ok(wasync(['extract', join(dir, 'x.caidx'), '--output-format=tar', tar]));
  assert.equal(r.stderr, '', 'nothing left out');
  assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('.#')), [], 'no temporary left');
  const bytes = readFileSync(tar);
  assert.equal(bytes.length % 512, 0);
  // GNU tar reads it without a complaint; its list names every entry.
  const listing = execFileSync('tar', ['-tf', tar], { encoding: 'latin1' }).split('\n');
  assert.ok(listing.includes('./'), 'the root first');
  assert.ok(listing.some((l) => l.endsWith(`${'n'.repeat(250)}.\u00c3\u00a9`)), 'the long name, through pax');

  assert.ok(ok(wasync(['extract', join(dir, 'x.caidx'), '--output-format=tar', '-'])).out.equals(bytes), 'the same stream on standard output');
  assert.ok(ok(wasync(['extract', join(dir, 'x.catar'), '--output-format=tar', '-'])).out.equals(bytes), 'the same stream from the .catar');
  const piped = ok(wasync(['extract', '--what=archive', '-', '--output-format=tar'], { input: readFileSync(join(dir, 'x.catar')) }));
  assert.ok(piped.out.equals(bytes), 'and from a .catar on standard input');

  untar(tar, join(dir, 'from-tar'));
  ok(wasync(['extract', join(dir, 'x.caidx'), join(dir, 'from-wasync')]));
  const viaTar = fingerprint(join(dir, 'from-tar'));
  assert.equal(viaTar.mtree, fingerprint(join(dir, 'from-wasync')).mtree, 'casync mtree: as wasync extracts it');
  assert.equal(viaTar.mtree, source.mtree, 'casync mtree: as the source');
  assert.equal(viaTar.digest, source.digest, 'casync digest (xattrs and ACLs too): as the source');
});

test('a socket is left out with a warning; the rest is extracted', (t) => {
  if (!requires(t, haveTools, NEEDS)) return;
  const dir = join(work, 'socket');
  const src = join(dir, 'src');
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, 'a'), 'a\n');
  sh('python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', join(src, 'sock')]);
  writeFileSync(join(src, 'z'), 'z\n');
  ok(casync(['make', join(dir, 'x.catar'), src]));
  const tar = join(dir, 'out.tar');
  const r = ok(wasync(['extract', join(dir, 'x.catar'), '--output-format=tar', tar]));
  assert.equal(r.stderr, `wasync: warning: ${join(dir, 'x.catar')}: ./sock is a socket, which tar cannot carry: left out\n`);
  assert.deepEqual(execFileSync('tar', ['-tf', tar], { encoding: 'utf8' }).split('\n'), ['./', './a', './z', '']);
});

test('times before 1970 keep their nanoseconds (casync mtree cannot show them: compared by lstat)', (t) => {
  if (!requires(t, haveTools, NEEDS)) return;
  const dir = join(work, 'old');
  const src = join(dir, 'src');
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, 'old'), 'old\n');
  sh('touch', ['-d', '1960-01-01 00:00:00.5', join(src, 'old')]);
  ok(casync(['make', join(dir, 'x.catar'), src]));
  ok(wasync(['extract', join(dir, 'x.catar'), '--output-format=tar', join(dir, 'out.tar')]));
  untar(join(dir, 'out.tar'), join(dir, 'out'));
  assert.equal(lstatSync(join(dir, 'out', 'old'), { bigint: true }).mtimeNs, -315619199_500000000n);
});

test('a failed extraction leaves no tar file and no temporary; a blob index is refused', (t) => {
  if (!requires(t, haveCasync, 'casync')) return;
  const dir = join(work, 'fail');
  const src = join(dir, 'src');
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, 'f'), rand('tar-fail', 300_000));
  ok(casync(['make', join(dir, 'x.caidx'), src]));
  const r = wasync(['extract', `--store=${join(dir, 'nothing.castr')}`, join(dir, 'x.caidx'), '--output-format=tar', join(dir, 'out.tar')]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^wasync: chunk [0-9a-f]{64} is missing/);
  assert.deepEqual(readdirSync(dir).sort(), ['default.castr', 'src', 'x.caidx']);
  writeFileSync(join(dir, 'blob'), 'blob\n');
  ok(casync(['make', join(dir, 'b.caibx'), join(dir, 'blob')]));
  const b = wasync(['extract', join(dir, 'b.caibx'), '--output-format=tar', join(dir, 'b.tar')]);
  assert.equal(b.status, 1);
  assert.equal(b.stderr, 'wasync: --output-format=tar: only an archive or archive index (.catar, .caidx) holds a tree to write as tar\n');
  assert.ok(!existsSync(join(dir, 'b.tar')));
});

test('pax records count their own length across digit boundaries', () => {
  const utf8 = new TextEncoder();
  const near = (n: number) => [10, 100, 1000, 10_000].some((b) => Math.abs(n - b) < 40);
  for (let n = 0; n < 10_050; n += near(n) ? 1 : 37) {
    const value = utf8.encode('v'.repeat(n));
    const h = tarHeaders({ path: utf8.encode('./f'), type: 'file', mode: 0o644, uid: 0, gid: 0, userName: null, groupName: null, mtimeNs: 0n, size: 0, xattrs: [{ name: utf8.encode('user.a'), value }] });
    const size = parseInt(new TextDecoder().decode(h.subarray(124, 135)), 8);
    const record = new TextDecoder().decode(h.subarray(512, 512 + size));
    assert.equal(record, `${size} SCHILY.xattr.user.a=${'v'.repeat(n)}\n`, `a ${n}-byte value`);
    assert.equal(h.length, 512 + Math.ceil(size / 512) * 512 + 512);
  }
});
