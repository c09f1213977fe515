// The catar decoder on archives made by casync: trees built on disk with every
// kind of node and metadata, several feature-flag sets, checked against
// `casync mtree`, `casync list` and the file contents, and fed split at every
// boundary.  Hostile archives are in catar-decoder-hostile.test.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { S_IFMT } from '../src/format/catar-node.ts';
import { digestOfFlags } from '../src/format/feature-flags.ts';
import { type Decoded, buildCatar, decodeParts, dir, file, split, symlink } from './catar-hostile.ts';
import { VECTORS, casync, haveCasync, isRoot, ok, rand, requires, tempDir } from './helpers.ts';

const esc = (b: Uint8Array | string) =>
  [...(typeof b === 'string' ? Buffer.from(b, 'latin1') : b)]
    .map((c) => (c <= 0x20 || c >= 0x7f || c === 0x5c || c === 0x23 ? `\\${c.toString(8).padStart(3, '0')}` : String.fromCharCode(c)))
    .join('');

const TYPES: Record<number, string> = {
  0o040000: 'dir', 0o100000: 'file', 0o120000: 'link', 0o060000: 'block', 0o020000: 'char', 0o010000: 'fifo', 0o140000: 'socket',
};
const FLAG_NAMES: [bigint, string][] = [
  [0x2000n, 'hidden'], [0x4000n, 'system'], [0x8000n, 'archive'], [0x10000n, 'sappend'], [0x100000n, 'nodump'], [0x400000n, 'simmutable'],
];

/** One `casync mtree` line, computed from a decoded node (casync-format.md §6). */
function mtreeLine(d: Decoded): string {
  const { node: n, featureFlags: ff } = d;
  const type = TYPES[n.mode & S_IFMT];
  const f = [`${esc(d.path)}`, `type=${type}`, `mode=${(n.mode & 0o7777).toString(8).padStart(4, '0')}`];
  if (type === 'file') f.push(`size=${n.size}`);
  if (n.target) f.push(`link=${esc(n.target)}`);
  if (n.rdev) f.push(`device=linux,${n.rdev.major},${n.rdev.minor}`);
  if (ff & 3n) f.push(`uid=${n.uid}`, `gid=${n.gid}`);
  if (ff & 4n) {
    const u = n.userName ?? (n.uid === 0 ? 'root' : null);
    const g = n.groupName ?? (n.gid === 0 ? 'root' : null);
    if (u !== null) f.push(`uname=${esc(u)}`);
    if (g !== null) f.push(`gname=${esc(g)}`);
  }
  const shown = FLAG_NAMES.filter(([bit]) => ff & bit);
  if (shown.length) {
    const special = type !== 'file' && type !== 'dir';
    f.push(`flags=${shown.map(([bit, name]) => (special || n.flags & bit ? name : `no${name}`)).join(',')}`);
  }
  if (ff & 0x78n) f.push(`time=${n.mtimeNs / 1000000000n}.${(n.mtimeNs % 1000000000n).toString().padStart(9, '0')}`);
  if (type === 'file') {
    const alg = digestOfFlags(ff) === 'sha256' ? 'sha256' : 'sha512-256';
    f.push(`sha512256digest=${createHash(alg).update(d.data!).digest('hex')}`);
  }
  return f.join(' ');
}

const MODE_CHARS: Record<string, string> = { dir: 'd', file: '-', link: 'l', block: 'b', char: 'c', fifo: 'p', socket: 's' };
function listLine(d: Decoded): string {
  const m = d.node.mode;
  let s = MODE_CHARS[TYPES[m & S_IFMT]];
  for (let i = 8; i >= 0; i--) s += m & (1 << i) ? 'rwx'[(8 - i) % 3] : '-';
  return `${s} ${esc(d.path)}`;
}

const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

/** A tree with every node kind casync archives, and metadata of every kind. */
function makeTree(root: string) {
  const sh = (cmd: string) => {
    const r = spawnSync('sh', ['-c', cmd], { cwd: root, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
  };
  mkdirSync(join(root, 'sub/deeper'), { recursive: true });
  writeFileSync(join(root, 'a.txt'), 'hello\n');
  writeFileSync(join(root, 'big.bin'), rand('big', 3_000_000)); // spans several input windows
  writeFileSync(join(root, 'empty'), '');
  writeFileSync(join(root, 'exec.sh'), '#!/bin/sh\necho hi\n');
  chmodSync(join(root, 'exec.sh'), 0o755);
  writeFileSync(join(root, 'sp ace'), 'space\n');
  writeFileSync(join(root, 'ünïcode'), 'unicode\n');
  writeFileSync(join(root, 'Zed'), 'Z\n');
  writeFileSync(join(root, 'sub/deeper/x'), 'x\n');
  writeFileSync(join(root, 'sub/keep.txt'), 'k\n');
  writeFileSync(join(root, 'xattrs'), 'x\n');
  writeFileSync(join(root, 'acl'), 'acl\n');
  writeFileSync(join(root, 'capfile'), '#!/bin/sh\n');
  writeFileSync(join(root, 'noatime'), 'n\n');
  writeFileSync(join(root, 'old'), 'o\n');
  symlinkSync('a.txt', join(root, 'link'));
  symlinkSync('../dangling/ä', join(root, 'sub/dangling'));
  chownSync(join(root, 'Zed'), 1, 1);
  chownSync(join(root, 'big.bin'), 2000, 2000);
  sh('mkfifo fifo && mknod null c 1 3 && mknod loop b 7 200');
  sh(`python3 -c "import socket; socket.socket(socket.AF_UNIX).bind('sock')"`);
  sh("setfattr -n user.zeta -v last xattrs && setfattr -n user.alpha -v 0x6669727374006269 xattrs && setfattr -n trusted.mid -v t xattrs && setfattr -n user.dir -v d sub");
  sh('setfacl -m u:1:r,u:2000:rw,g:1:rx acl && setfacl -d -m u:2000:rx sub');
  sh('chattr +A noatime && setcap cap_net_raw+ep capfile');
  sh("TZ=UTC touch -h -d '2020-01-02 03:04:05.123456789' a.txt link sub/deeper sub && TZ=UTC touch -d '1969-12-31 23:59:59.5' old");
}

const OPTIONS = [
  [],
  ['--with=unix'],
  ['--with=fat'],
  ['--without=all'],
  ['--with=16bit-uids', '--with=usec-time', '--with=symlinks'],
  ['--with=best', '--without=acl'],
  ['--digest=sha256'],
  ['--with=sec-time', '--with=permissions', '--with=xattrs', '--with=fifos', '--with=device-nodes'],
];

test('archives made by casync decode to what casync mtree and list print', (t) => {
  if (!requires(t, haveCasync && isRoot, 'casync and root')) return;
  if (!requires(t, ['setfattr', 'setfacl', 'setcap', 'chattr', 'python3'].every(have), 'setfattr, setfacl, setcap, chattr, python3')) return;
  const work = tempDir();
  const root = join(work, 'tree');
  mkdirSync(root);
  makeTree(root);
  for (const opts of OPTIONS) {
    const archive = join(work, 'x.catar');
    ok(casync(['make', ...opts, archive, root]), `casync make ${opts.join(' ')}`);
    const bytes = readFileSync(archive);
    const { nodes } = decodeParts([bytes]);
    // casync 2 refuses its own usec-time archives: read the nsec-time one, at µs.
    const usec = opts.includes('--with=usec-time');
    if (usec) ok(casync(['make', ...opts.map((o) => o.replace('usec', 'nsec')), archive, root]));
    const mtree = ok(casync(['mtree', archive])).stdout.trimEnd().split('\n')
      .map((l) => (usec ? l.replace(/( time=\d+\.\d{6})\d{3}/, '$1000') : l));
    assert.deepEqual(nodes.map(mtreeLine), mtree, `mtree with ${opts.join(' ')}`);
    const list = ok(casync(['list', archive])).stdout.trimEnd().split('\n');
    assert.deepEqual(nodes.map(listLine), list, `list with ${opts.join(' ')}`);
    for (const n of nodes) {
      if (n.data) assert.ok(n.data.equals(readFileSync(Buffer.from(`${root}/${n.path}`, 'latin1'))), `content of ${n.path}`);
    }
    if (opts.length) continue;
    const by = new Map(nodes.map((n) => [n.path, n.node]));
    assert.deepEqual(by.get('xattrs')!.xattrs.map((x) => [Buffer.from(x.name).toString(), Buffer.from(x.value).toString('latin1')]), [
      ['trusted.mid', 't'], ['user.alpha', 'first\0bi'], ['user.zeta', 'last'],
    ]);
    assert.deepEqual(by.get('sub')!.xattrs.map((x) => Buffer.from(x.name).toString()), ['user.dir']);
    assert.deepEqual(by.get('acl')!.acl, {
      user: [{ id: 1, perm: 4, name: 'daemon' }, { id: 2000, perm: 6, name: null }],
      group: [{ id: 1, perm: 5, name: 'daemon' }],
      groupObj: 4,
      default: null,
    });
    assert.deepEqual(by.get('sub')!.acl!.default!.user, [{ id: 2000, perm: 5, name: null }]);
    assert.equal(Buffer.from(by.get('capfile')!.fcaps!).toString('hex'), '0100000200200000000000000000000000000000');
    assert.equal(by.get('noatime')!.flags, 0x20000n);
    assert.equal(by.get('Zed')!.userName, 'daemon');
    assert.equal(by.get('old')!.mtimeNs, 18446744073209551616n);
    assert.equal(by.get('a.txt')!.mtimeNs, 1577934245123456789n);
  }
});

test('the usec-time archives casync refuses are accepted (mtime rounded to 1000 ns)', (t) => {
  if (!requires(t, haveCasync, 'casync')) return;
  const work = tempDir();
  const root = join(work, 't');
  mkdirSync(root);
  writeFileSync(join(root, 'f'), 'hi\n');
  spawnSync('sh', ['-c', "TZ=UTC touch -d '2020-01-02 03:04:05.123456789' t/f t"], { cwd: work });
  ok(casync(['make', '--with=usec-time', join(work, 'u.catar'), root]));
  const { nodes } = decodeParts([readFileSync(join(work, 'u.catar'))]);
  assert.equal(nodes[1].node.mtimeNs, 1577934245123456000n);
  assert.notEqual(casync(['list', join(work, 'u.catar')]).status, 0, 'casync 2 refuses its own usec-time archives');
});

test('any split of the input gives the same events', (t) => {
  const m = 946684800000000000n;
  const small = buildCatar(dir(undefined, [
    dir('e', [], { mtime: m }), file('f', 'hi\n', { mtime: m }),
    dir('sub', [file('a', 'A'.repeat(100)), { name: 'l', mode: 0o120777, body: [symlink('a')] }]),
  ], { mtime: m })).bytes;
  const archives = [small];
  if (haveCasync) {
    const work = tempDir();
    const root = join(work, 't');
    mkdirSync(join(root, 'd/e'), { recursive: true });
    writeFileSync(join(root, 'd/e/f'), rand('f', 5000));
    writeFileSync(join(root, 'g'), 'g\n');
    symlinkSync('g', join(root, 'l'));
    if (isRoot) spawnSync('sh', ['-c', 'setfattr -n user.a -v 1 g; setfacl -m u:1:r g; mkfifo p'], { cwd: root });
    ok(casync(['make', join(work, 's.catar'), root]));
    archives.push(readFileSync(join(work, 's.catar')));
  } else t.diagnostic('casync missing: only the built archive is split');
  for (const bytes of archives) {
    const whole = decodeParts([bytes]).trace;
    for (let size = 1; size <= 64; size++) assert.deepEqual(decodeParts(split(bytes, size)).trace, whole, `pieces of ${size}`);
    // Every cut of the small archive; every 7th of the larger one (all residues of 8-byte fields).
    for (let cut = 1; cut < bytes.length; cut += bytes === small ? 1 : 7) {
      assert.deepEqual(decodeParts([bytes.subarray(0, cut), bytes.subarray(cut)]).trace, whole, `cut at ${cut}`);
    }
  }
});

test('V7 and V9: record offsets, metadata and GOODBYE tables of the reference archives', (t) => {
  if (!requires(t, haveCasync && isRoot, 'casync and root')) return;
  const work = tempDir();
  const vectors = VECTORS;
  const r0 = spawnSync('sh', [join(vectors, 'mk_tree0.sh'), join(work, 't0')]);
  const r2 = spawnSync('sh', [join(vectors, 'mk_tree2.sh'), join(work, 't2')]);
  if (!requires(t, r0.status === 0 && r2.status === 0, 'the vector tree scripts')) return;
  ok(casync(['make', join(work, 't0.catar'), join(work, 't0')]));
  const t0 = readFileSync(join(work, 't0.catar'));
  assert.equal(createHash('sha256').update(t0).digest('hex'), '20187570bef6deabdd50cc2a4f4c31b574e925f3a003ca9471ec7c8b9336aa89');
  assert.deepEqual(decodeParts([t0]).trace.filter((l) => !l.startsWith('payload ')).map((l) => l.split(' ').slice(0, 4).join(' ')), [
    'node 0 0 .', 'node 82 1 e', '{"type":"directory-end","offset":146,"depth":1}', 'node 204 1 f',
    '{"type":"directory-end","offset":287,"depth":0}', '{"type":"end"}',
  ]);
  ok(casync(['make', join(work, 't2.catar'), join(work, 't2')]));
  const { nodes } = decodeParts(split(readFileSync(join(work, 't2.catar')), 7));
  const at = Object.fromEntries(nodes.map((n) => [n.path, n]));
  assert.equal(at.acl.offset, 337);
  assert.deepEqual(at.loop.node.rdev, { major: 7, minor: 200 });
  assert.deepEqual(at.null.node.rdev, { major: 1, minor: 3 });
  assert.equal(at.fifo.node.mode, 0o10644);
  assert.equal(at.sock.node.mode, 0o140755);
  assert.deepEqual(at.sub.node.acl!.default, { userObj: 7, groupObj: 5, other: 0, mask: 5, user: [{ id: 2000, perm: 5, name: null }], group: [] });
  assert.equal(at['sub/keep.txt'].node.acl!.groupObj, 5);
  assert.deepEqual(nodes.map((n) => n.path), [
    '.', '.caexclude', '.hidden.log', 'acl', 'capfile', 'fifo', 'hl1', 'hl2', 'loop', 'noatime', 'null', 'sock',
    'sub', 'sub/deeper', 'sub/deeper/keep.log', 'sub/keep.txt', 'xattrs',
  ]);
});
