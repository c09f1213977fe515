// Live differential tests of the catar encoder against the casync binary: a tree
// with every node type, several owners, setuid/setgid/sticky modes, pre-1970
// and nanosecond mtimes, xattrs, ACLs, a file capability and a chattr flag is
// archived by `casync make` under several --with/--without sets, and by
// CatarEncoder from nodes the test describes itself (lstat, readdir, readlink;
// the xattrs, ACLs and flags it set).  The archives must be byte-identical.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CatarAcl } from '../src/format/catar-node.ts';
import { WasyncError } from '../src/errors.ts';
import { dumpCatar } from './catar-encoder-dump.ts';
import { encodeTree, scanTree, type Extras } from './catar-encoder-tree.ts';
import { casync, haveCasync, isRoot, ok, rand, requires, tempDir } from './helpers.ts';

const CONFIGS: { args: string[]; flags: bigint }[] = [
  { args: ['--with=unix'], flags: 0xb000000000001f09n },
  { args: ['--with=fat'], flags: 0xb00000000000e0c0n },
  { args: ['--without=all'], flags: 0xb000000000000000n },
  { args: [], flags: 0xb0000001ffeffe26n },
  { args: ['--with=best', '--without=acl'], flags: 0xb0000001dfeffe26n },
  { args: ['--with=16bit-uids', '--with=usec-time', '--with=symlinks'], flags: 0xb000000000000211n },
  { args: ['--digest=sha256'], flags: 0x90000001ffeffe26n },
];

const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const sh = (cmd: string, args: string[]) => {
  const r = spawnSync(cmd, args, { env: { ...process.env, TZ: 'UTC' } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
};

/** Sets an xattr with setfattr, or Python where the attr package is missing. */
function setXattr(path: string, name: string, value: Uint8Array) {
  if (have('setfattr')) return sh('setfattr', ['-h', '-n', name, '-v', `0x${Buffer.from(value).toString('hex')}`, path]);
  sh('python3', ['-c', 'import os,sys; os.setxattr(sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[3]), follow_symlinks=False)',
    path, name, Buffer.from(value).toString('hex')]);
}

type AclSpec = [tag: 'u' | 'g' | 'm' | 'o', id: number | null, perm: number][];

/** setfacl --set, or the equivalent system.posix_acl_* xattr (version 2) where acl is missing. */
function setAcl(path: string, spec: AclSpec, isDefault = false) {
  const text = spec.map(([t, id, p]) => `${t}:${id ?? ''}:${'r'.repeat(p >> 2 & 1) || '-'}${p & 2 ? 'w' : '-'}${p & 1 ? 'x' : '-'}`);
  if (have('setfacl')) return sh('setfacl', [...(isDefault ? ['-d'] : []), '--set', text.join(','), path]);
  const tags = { u: [1, 2], g: [4, 8], m: [0x10, 0x10], o: [0x20, 0x20] };
  const entries = spec
    .map(([t, id, p]) => [tags[t][id === null ? 0 : 1], p, id ?? 0xffffffff] as const)
    .sort((a, b) => a[0] - b[0] || a[2] - b[2]);
  const b = Buffer.alloc(4 + 8 * entries.length);
  b.writeUInt32LE(2, 0);
  entries.forEach(([tag, p, id], i) => {
    b.writeUInt16LE(tag, 4 + 8 * i);
    b.writeUInt16LE(p, 6 + 8 * i);
    b.writeUInt32LE(id, 8 + 8 * i);
  });
  setXattr(path, isDefault ? 'system.posix_acl_default' : 'system.posix_acl_access', b);
}

const noAcl: CatarAcl = { user: [], group: [], groupObj: null, default: null };
const FCAPS = Buffer.from('0100000200200000000000000000000000000000', 'hex');
const bytes = (s: string) => new TextEncoder().encode(s);

/** Builds the tree once; returns its path and the metadata the walker would read. */
function buildTree(base: string): { root: string; extras: Extras } {
  const root = join(base, 'tree');
  const p = (rel: string) => join(root, rel);
  const extras: Extras = {};
  mkdirSync(root);
  for (const d of ['b', 'defacl', 'sticky', 'xdir']) mkdirSync(p(d));
  const files: [string, string | Uint8Array, number, number?][] = [
    ['Zed', 'Z\n', 0o644, 1], ['a.txt', 'hello\n', 0o644], ['acl', 'acl\n', 0o640], ['b/c.bin', rand('tree1-c', 100000), 0o600, 2000],
    ['b/empty', '', 0o444], ['capfile', '#!/bin/sh\n', 0o755], ['defacl/inner', 'i\n', 0o644], ['exec.sh', '#!/bin/sh\necho hi\n', 0o755],
    ['noatime', 'n\n', 0o644], ['old', 'o\n', 0o644], ['older', 'oo\n', 0o644], ['setgid', 'g\n', 0o2755, 1],
    ['setuid', 'u\n', 0o4755], ['sp ace', 'space\n', 0o644], ['sticky-file', 's\n', 0o1644], ['xattrs', 'x\n', 0o644],
    ['\u00fcn\u00efcode', 'unicode\n', 0o644],
  ];
  for (const [rel, content, mode, owner] of files) {
    writeFileSync(p(rel), content);
    if (owner !== undefined) chownSync(p(rel), owner, owner);
    chmodSync(p(rel), mode); // after chown, which clears setuid/setgid
  }
  symlinkSync('a.txt', p('link'));
  symlinkSync('../dangling/\u00e4', p('b/dangling'));
  sh('mkfifo', ['-m', '0644', p('fifo')]);
  sh('mknod', ['-m', '0660', p('blk'), 'b', '7', '200']);
  sh('mknod', ['-m', '0666', p('chr'), 'c', '1', '3']);
  sh('python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', p('sock')]);
  chmodSync(p('b'), 0o750);
  chmodSync(p('sticky'), 0o1777);
  chownSync(p('sticky'), 2000, 1);

  setXattr(p('xattrs'), 'user.zeta', bytes('last'));
  setXattr(p('xattrs'), 'user.alpha', bytes('first\0bin'));
  setXattr(p('xattrs'), 'trusted.mid', bytes('t'));
  setXattr(p('xdir'), 'user.d', bytes('1'));
  setXattr(p('fifo'), 'trusted.f', bytes('casync cannot list xattrs of FIFOs'));
  extras.xattrs = { xattrs: ['user.zeta', 'user.alpha', 'trusted.mid'].map((n) => ({ name: bytes(n), value: bytes({ 'user.zeta': 'last', 'user.alpha': 'first\0bin', 'trusted.mid': 't' }[n]!) })) };
  extras.xdir = { xattrs: [{ name: bytes('user.d'), value: bytes('1') }] };
  setXattr(p('capfile'), 'security.capability', FCAPS);
  extras.capfile = { fcaps: FCAPS };

  setAcl(p('acl'), [['u', null, 6], ['g', null, 4], ['o', null, 0], ['u', 1, 4], ['u', 2000, 6], ['g', 1, 5], ['m', null, 7]]);
  extras.acl = {
    acl: { user: [{ id: 1, name: 'daemon', perm: 4 }, { id: 2000, name: null, perm: 6 }], group: [{ id: 1, name: 'daemon', perm: 5 }], groupObj: 4, default: null },
  };
  setAcl(p('defacl'), [['u', null, 7], ['g', null, 5], ['o', null, 0], ['u', 2000, 5], ['m', null, 5]], true);
  extras.defacl = { acl: { ...noAcl, default: { userObj: 7, groupObj: 5, other: 0, mask: 5, user: [{ id: 2000, name: null, perm: 5 }], group: [] } } };
  setAcl(p('fifo'), [['u', null, 6], ['g', null, 4], ['o', null, 4], ['u', 1, 4], ['m', null, 4]]);
  extras.fifo = { acl: { user: [{ id: 1, name: 'daemon', perm: 4 }], group: [], groupObj: 4, default: null } };
  if (spawnSync('chattr', ['+A', p('noatime')]).status === 0) extras.noatime = { flags: 0x20000n };

  const times: [string[], string][] = [
    [['a.txt', 'link'], '2020-01-02 03:04:05.123456789'],
    [['b/c.bin', 'b/empty', 'b/dangling'], '2019-06-07 08:09:10'],
    [['exec.sh', 'Zed', 'sp ace', '\u00fcn\u00efcode', 'setuid', 'setgid'], '2021-12-31 23:59:59.999999999'],
    [['old', 'sock'], '1969-12-31 23:59:59.5'],
    [['older', 'fifo', 'blk'], '1960-01-01 00:00:00.25'],
    [['b'], '2018-01-01 00:00:00.5'],
    [['sticky', 'chr', 'capfile', 'acl', 'xattrs', 'xdir', 'noatime', 'sticky-file', 'defacl/inner', 'defacl'], '2001-02-03 04:05:06.000000007'],
    [[''], '2017-01-01 00:00:00'],
  ];
  for (const [rels, date] of times) sh('touch', ['-h', '-d', date, ...rels.map(p)]);
  return { root, extras };
}

const out = tempDir('wasync-encoder-');
let built: ReturnType<typeof buildTree> | undefined;
const tree = () => (built ??= buildTree(out));

function casyncMake(args: string[], root: string, name: string) {
  const file = join(out, `${name}.catar`);
  const r = casync(['make', ...args, file, root]);
  return { r, file };
}

for (const [i, { args, flags }] of CONFIGS.entries()) {
  test(`byte-identical with casync make ${args.join(' ') || '(default flags)'}`, (t) => {
    if (!requires(t, haveCasync, 'the casync binary') || !requires(t, isRoot, 'root (mknod, chown)')) return;
    const { root, extras } = tree();
    const { r, file } = casyncMake(args, root, `c${i}`);
    ok(r, 'casync make');
    const theirs = readFileSync(file);
    assert.equal(theirs.readBigUInt64LE(16), flags, 'feature flags of casync archive');
    const ours = encodeTree(flags, scanTree(root, flags, extras));
    assert.deepEqual(dumpCatar(ours), dumpCatar(theirs));
    assert.ok(ours.equals(theirs));
    const algo = flags & 0x2000000000000000n ? 'sha512-256' : 'sha256';
    assert.equal(createHash(algo).update(ours).digest('hex'), r.stdout.trim());
  });
}

test('refusals where casync fails: uid 70000 with 16-bit uids, uid 65535', (t) => {
  if (!requires(t, haveCasync, 'the casync binary') || !requires(t, isRoot, 'root (chown)')) return;
  for (const [uid, args, flags, text] of [
    [70000, ['--with=16bit-uids'], 0xb000000000000001n, /uid 70000 does not fit in 16 bits/],
    [65535, [], 0xb0000001ffeffe26n, /uid 65535 cannot be archived/],
  ] as const) {
    const root = join(out, `owned-${uid}`);
    mkdirSync(root);
    writeFileSync(join(root, 'f'), 'x');
    chownSync(join(root, 'f'), uid, 0);
    assert.notEqual(casyncMake([...args], root, `owned-${uid}`).r.status, 0, `casync make should fail for uid ${uid}`);
    assert.throws(
      () => encodeTree(flags, scanTree(root, flags)),
      (e) => e instanceof WasyncError && e.code === 'EUNSUPPORTED' && text.test(e.message),
    );
  }
});

test("user-names without uids: casync's bytes, which casync's own reader rejects (root has no names, uid 2000 a decimal one)", (t) => {
  if (!requires(t, haveCasync, 'the casync binary') || !requires(t, isRoot, 'root (chown)')) return;
  const root = join(out, 'names');
  mkdirSync(root);
  writeFileSync(join(root, 'f'), 'x');
  chownSync(join(root, 'f'), 2000, 2000);
  const flags = 0xb000000000000004n;
  for (const owner of [0, 1]) {
    chownSync(root, owner, owner);
    const { r, file } = casyncMake(['--with=user-names'], root, `names-${owner}`);
    ok(r, 'casync make');
    assert.notEqual(casync(['list', file]).status, 0, 'casync list should reject its own archive');
    assert.ok(encodeTree(flags, scanTree(root, flags)).equals(readFileSync(file)), `root owned by ${owner}`);
  }
});

test("casync's reader rejects its own usec-time archives unless mtimes are whole milliseconds", (t) => {
  // Documents a casync quirk the decoder must tolerate: the encoder rounds to
  // 1000 ns, its reader demands multiples of 1000000 ns.  wasync writes casync's bytes.
  if (!requires(t, haveCasync, 'the casync binary')) return;
  const root = join(out, 'usec');
  mkdirSync(root);
  writeFileSync(join(root, 'f'), 'x');
  sh('touch', ['-d', '2020-01-02 03:04:05.123456789', join(root, 'f'), root]);
  const { r, file } = casyncMake(['--with=usec-time'], root, 'usec');
  ok(r, 'casync make');
  assert.ok(encodeTree(0xb000000000000010n, scanTree(root, 0xb000000000000010n)).equals(readFileSync(file)));
  assert.notEqual(casync(['list', file]).status, 0);
});
