// The catar encoder against casync-format.md: SipHash values (§4.7), casync's
// BST layout, vectors V7 (byte-exact) and V9 (record dump), and the
// feature-flag semantics and refusals of §4.4/§4.5 on hand-built nodes.  Live
// comparisons with the casync binary are in catar-encoder-casync.test.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CatarEncoder } from '../src/format/catar-encoder.ts';
import type { EncoderCore } from '../src/format/catar-encoder-errors.ts';
import { instantiateCore } from '../src/wasm/core.ts';
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG } from '../src/format/catar-node.ts';
import { normalizeFeatureFlags } from '../src/format/feature-flags.ts';
import { WasyncError } from '../src/errors.ts';
import { dumpCatar, refBstPermutation } from './catar-encoder-dump.ts';
import { bytes, dir, encodeTree, file, plain, type Tree } from './catar-encoder-tree.ts';
import { tree2, V7_HEX, V9_DUMP } from './catar-encoder-vectors.ts';

const DEFAULT = 0xb0000001ffeffe26n;

const core = () => instantiateCore() as unknown as EncoderCore;

test('SipHash-2-4 under the goodbye key (§4.7 test values)', () => {
  const c = core();
  const buf = c.allocate(64);
  const hash = (s: string) => {
    const b = bytes(s);
    new Uint8Array(c.memory.buffer, buf, b.length).set(b);
    return BigInt.asUintN(64, (c as unknown as { siphash24(p: number, n: number): bigint }).siphash24(buf, b.length));
  };
  assert.equal(hash(''), 0xb64acab6ca921906n);
  assert.equal(hash('a'), 0x51ba5a19e058c7adn);
  assert.equal(hash('a.txt'), 0x30dbb40a12778187n);
  assert.equal(hash('b'), 0x9007695395e7df8fn);
  assert.equal(hash('Zed'), 0xf92de892d61aa784n);
  assert.equal(hash('hello world'), 0xb036453efd8cf353n);
  assert.equal(hash('ünïcode'), 0x6a9844eb63bfeeaan);
});

test("goodbye BST layout equals casync's ca_make_bst for n = 0..5000", () => {
  const c = core();
  const out = c.allocate(5000 * 4);
  for (let n = 0; n <= 5000; n++) {
    c.bstPermutation(n, out);
    const got = Array.from(new Uint32Array(c.memory.buffer, out, n));
    assert.deepEqual(got, refBstPermutation(n), `n = ${n}`);
  }
  assert.deepEqual(refBstPermutation(13), [7, 3, 11, 1, 5, 9, 12, 0, 2, 4, 6, 8, 10]);
});

test('V7: tree0 byte-exact', () => {
  const T = 946684800000000000n;
  const out = encodeTree(DEFAULT, dir(0o755, [['e', dir(0o755, [], T)], ['f', file(0o644, 'hi\n', T)]], T));
  assert.equal(out.length, 375);
  assert.equal(out.toString('hex'), V7_HEX);
});

test('V9: tree2 record dump (xattrs, ACLs, fcaps, devices, FIFO, socket, chattr)', () => {
  assert.deepEqual(dumpCatar(encodeTree(DEFAULT, tree2)), V9_DUMP);
});

// Flags built like the CLI does: with-bits plus EXCLUDE_NODUMP|SHA512_256|EXCLUDE_FILE, normalized.
const F = (withBits: bigint) => normalizeFeatureFlags(0xb000000000000000n | withBits);
const PERMISSIONS = 0x100n;
const READ_ONLY = 0x80n;
const SYMLINKS = 0x200n;
const FIFOS = 0x800n;

/** The dump of root + one child `x`, and the child's ENTRY fields. */
function child(flags: bigint, t: Tree) {
  // Under user-names without uids even the root needs named owners.
  const owner = (flags & 0x7n) === 0x4n ? { uid: 1, gid: 1, userName: 'daemon', groupName: 'daemon' } : {};
  const all = dumpCatar(encodeTree(flags, dir(0o755, [['x', t]], 0n, owner)));
  const lines = all.filter((l, i) => i > all.findIndex((f) => f.includes(' FILENAME ')) || !/ (USER|GROUP) /.test(l));
  const m = /mode=(\d+) flags=(0x[0-9a-f]+) uid=(\d+) gid=(\d+) mtime=(\d+)/.exec(lines[2])!;
  return { lines, mode: m[1], flags: m[2], uid: Number(m[3]), gid: Number(m[4]), mtime: BigInt(m[5]) };
}
const node = (mode: number, more = {}): Tree => ({ node: plain(mode, 0n, more) });
const refused = (code: 'EUSAGE' | 'EUNSUPPORTED', text: RegExp) => (e: unknown) =>
  e instanceof WasyncError && e.code === code && text.test(e.message);

test('mode: permissions or acl keep 07777, read-only keeps "writable", else 0666/0777; symlinks 0777', () => {
  assert.equal(child(F(PERMISSIONS), file(0o4755, '')).mode, '0104755');
  assert.equal(child(F(0x20000000n), file(0o1640, '')).mode, '0101640');
  assert.equal(child(F(READ_ONLY), file(0o4755, '')).mode, '0100666');
  assert.equal(child(F(READ_ONLY), file(0o444, '')).mode, '0100444');
  assert.equal(child(F(READ_ONLY), dir(0o555, [])).mode, '040555');
  assert.equal(child(F(READ_ONLY), dir(0o700, [])).mode, '040777');
  assert.equal(child(F(0n), file(0o600, '')).mode, '0100666');
  assert.equal(child(F(0n), dir(0o1700, [])).mode, '040777');
  assert.equal(child(F(PERMISSIONS | FIFOS), node(S_IFIFO | 0o600)).mode, '010600');
  assert.equal(child(F(PERMISSIONS | SYMLINKS), node(S_IFLNK | 0o755, { target: bytes('t') })).mode, '0120777');
});

test('mtime: unsigned 64-bit wrap before 1970, rounded down, 0 without a time flag', () => {
  const u = (ns: bigint) => BigInt.asUintN(64, ns);
  const at = (flags: bigint, ns: bigint) => child(F(flags), file(0o644, '', ns)).mtime;
  assert.equal(at(0x20n, -500000000n), 18446744073209551616n);
  assert.equal(at(0x40n, -500000000n), (u(-500000000n) / 2000000000n) * 2000000000n);
  assert.equal(at(0x40n, 1577934245123456789n), 1577934244000000000n);
  assert.equal(at(0x8n, 1577934245123456789n), 1577934245000000000n);
  assert.equal(at(0x10n, 1577934245123456789n), 1577934245123456000n);
  assert.equal(at(0x10n, -1n), 18446744073709551000n);
  assert.equal(at(0n, 1577934245123456789n), 0n);
  assert.throws(() => at(0x20n, -1n), refused('EUNSUPPORTED', /mtime/));
});

test('uid/gid: 16/32-bit flags, refusals of ids casync cannot store or read back', () => {
  const owned = (flags: bigint, uid: number, gid = 0) => child(F(flags), file(0o644, '', 0n, { uid, gid }));
  assert.deepEqual([owned(0x1n, 65534, 7).uid, owned(0x1n, 65534, 7).gid], [65534, 7]);
  assert.throws(() => owned(0x1n, 70000), refused('EUNSUPPORTED', /uid 70000 .*16 bits/));
  assert.throws(() => owned(0x1n, 0, 70000), refused('EUNSUPPORTED', /gid 70000/));
  assert.equal(owned(0x2n, 70000).uid, 70000);
  assert.throws(() => owned(0x2n, 65535), refused('EUNSUPPORTED', /uid 65535/));
  assert.throws(() => owned(0x1n, 0, 65535), refused('EUNSUPPORTED', /gid 65535/));
  assert.throws(() => owned(0x2n, 0, 0xffffffff), refused('EUNSUPPORTED', /gid 4294967295/));
  assert.equal(owned(0n, 65535, 0xffffffff).uid, 0);
});

test('USER/GROUP: names only with user-names, never for id 0, the decimal id for an unnamed owner when no ids are kept', () => {
  const named = (flags: bigint, uid: number, gid: number, userName: string | null, groupName: string | null) =>
    child(flags, file(0o644, '', 0n, { uid, gid, userName, groupName }))
      .lines.map((l) => l.trim().replace(/^@\d+ /, ''))
      .filter((l) => /^(USER|GROUP) /.test(l));
  assert.deepEqual(named(DEFAULT, 1, 1, 'daemon', 'daemon'), ["USER size=23 'daemon'", "GROUP size=23 'daemon'"]);
  assert.deepEqual(named(DEFAULT, 0, 2000, 'root', null).length, 0);
  assert.deepEqual(named(F(0x1n), 1, 1, 'daemon', 'daemon').length, 0);
  assert.throws(() => named(DEFAULT, 5, 0, 'john.doe', null), refused('EUNSUPPORTED', /"john\.doe"/));
  assert.throws(() => named(DEFAULT, 5, 0, 'root', null), refused('EUNSUPPORTED', /"root" of id 5/));
  // Under user-names without ids casync writes no name for root and the decimal
  // id for an owner it has no name for (its reader refuses both; wasync's reads them).
  const namesOnly = F(0x4n);
  assert.equal(named(namesOnly, 1, 1, 'daemon', 'daemon').length, 2);
  assert.deepEqual(named(namesOnly, 0, 1, 'root', 'daemon'), ["GROUP size=23 'daemon'"]);
  assert.deepEqual(named(namesOnly, 1, 0, 'daemon', 'root'), ["USER size=23 'daemon'"]);
  assert.deepEqual(named(namesOnly, 2000, 4294967294, null, 'daemon'), ["USER size=21 '2000'", "GROUP size=23 'daemon'"]);
  assert.deepEqual(named(namesOnly, 7, 4294967294, 'daemon', null), ["USER size=23 'daemon'", "GROUP size=27 '4294967294'"]);
  assert.equal(named(F(0x6n), 2000, 1, null, null).length, 0, 'with ids, an unnamed owner has no record');
});

test('ENTRY.flags: node flags AND feature flags, files and directories only; subvolume on directories', () => {
  const with_ = (flags: bigint, t: Tree) => child(flags, t).flags;
  const f = 0x20000n | 0x4000000n | 0x100000n;
  assert.equal(with_(DEFAULT, file(0o644, '', 0n, { flags: f })), '0x20000');
  assert.equal(with_(DEFAULT, dir(0o755, [], 0n, { flags: f | 0x8000000n })), '0xc020000');
  assert.equal(with_(F(0x100000n | 0x20000n), file(0o644, '', 0n, { flags: f })), '0x20000');
  assert.equal(with_(DEFAULT, node(S_IFLNK | 0o777, { target: bytes('t'), flags: f })), '0x0');
  assert.equal(with_(DEFAULT, node(S_IFIFO | 0o644, { flags: f })), '0x0');
  assert.equal(with_(F(0x1f09n), file(0o644, '', 0n, { flags: f })), '0x0');
});

/** The child's records after ENTRY up to its body, without offsets. */
const meta = (flags: bigint, t: Tree) =>
  child(flags, t).lines.slice(3).map((l) => l.trim().replace(/^@\d+ /, '')).filter((l) => !/^(GOODBYE|item|PAYLOAD)/.test(l));

test('ACL records: casync order, names only with user-names, defaults only on directories, none on symlinks', () => {
  const acl = {
    user: [{ id: 5, name: 'bob', perm: 6 }, { id: 5, name: 'al', perm: 4 }, { id: 3, name: null, perm: 7 }, { id: 5, name: null, perm: 1 }],
    group: [{ id: 9, name: 'staff', perm: 5 }],
    groupObj: 4,
    default: { userObj: 7, groupObj: null, other: 0, mask: null, user: [], group: [{ id: 8, name: null, perm: 1 }] },
  };
  assert.deepEqual(meta(DEFAULT, file(0o640, '', 0n, { acl })), [
    "ACL_USER size=32 id=3 perm=7 name=''",
    "ACL_USER size=32 id=5 perm=1 name=''",
    "ACL_USER size=35 id=5 perm=4 name='al'",
    "ACL_USER size=36 id=5 perm=6 name='bob'",
    "ACL_GROUP size=38 id=9 perm=5 name='staff'",
    'ACL_GROUP_OBJ size=24 value=0x4',
  ]);
  assert.deepEqual(meta(DEFAULT, dir(0o750, [], 0n, { acl })).slice(-2), [
    'ACL_DEFAULT size=48 user_obj=0x7 group_obj=0xffffffffffffffff other=0x0 mask=0xffffffffffffffff',
    "ACL_DEFAULT_GROUP size=32 id=8 perm=1 name=''",
  ]);
  // acl with 16-bit ids and no user-names: ids, no names.
  assert.deepEqual(meta(F(0x20000001n), file(0o640, '', 0n, { acl }))[3], "ACL_USER size=32 id=5 perm=6 name=''");
  assert.deepEqual(meta(DEFAULT, node(S_IFLNK | 0o777, { target: bytes('t'), acl })), ["SYMLINK size=18 't'"]);
  assert.deepEqual(meta(F(0x1f09n), file(0o640, '', 0n, { acl })), []);
  const bad = (a: object) => () => meta(DEFAULT, file(0o640, '', 0n, { acl: { ...acl, default: null, ...a } }));
  assert.throws(bad({ user: [{ id: 65535, name: null, perm: 4 }] }), refused('EUNSUPPORTED', /ACL entry for id 65535/));
  assert.throws(bad({ user: [{ id: 7, name: 'x y', perm: 4 }] }), refused('EUNSUPPORTED', /"x y"/));
  assert.throws(
    () => meta(F(0x20000004n), file(0o640, '', 0n, { uid: 1, gid: 1, userName: 'a', groupName: 'b', acl: { ...acl, default: null } })),
    refused('EUNSUPPORTED', /ACL entry for id 3 has no name/),
  );
});

test('XATTR, SELINUX, FCAPS, QUOTA_PROJID: which nodes get them, in casync order', () => {
  const rich = {
    xattrs: [{ name: bytes('user.b'), value: bytes('2') }, { name: bytes('trusted.a'), value: bytes('1') }],
    selinux: bytes('system_u:object_r:etc_t:s0'),
    fcaps: Uint8Array.of(1, 0, 0, 2),
    projid: 7,
  };
  assert.deepEqual(meta(DEFAULT, file(0o644, '', 0n, rich)), [
    "XATTR size=27 trusted.a=b'1'",
    "XATTR size=24 user.b=b'2'",
    "SELINUX size=43 'system_u:object_r:etc_t:s0'",
    'FCAPS size=20 data=01000002',
    'QUOTA_PROJID size=24 value=0x7',
  ]);
  assert.deepEqual(meta(DEFAULT, dir(0o755, [], 0n, rich)), [
    "XATTR size=27 trusted.a=b'1'",
    "XATTR size=24 user.b=b'2'",
    "SELINUX size=43 'system_u:object_r:etc_t:s0'",
    'QUOTA_PROJID size=24 value=0x7',
  ]);
  assert.deepEqual(meta(DEFAULT, node(S_IFLNK | 0o777, { target: bytes('t'), ...rich })), [
    "SELINUX size=43 'system_u:object_r:etc_t:s0'",
    "SYMLINK size=18 't'",
  ]);
  assert.deepEqual(meta(DEFAULT, node(S_IFCHR | 0o644, { rdev: { major: 4095, minor: 1048575 }, ...rich })), [
    "SELINUX size=43 'system_u:object_r:etc_t:s0'",
    'DEVICE size=32 major=4095 minor=1048575',
  ]);
  assert.deepEqual(meta(F(0x1f09n), file(0o644, '', 0n, rich)), []);
  const dup = { xattrs: [rich.xattrs[0], rich.xattrs[0]] };
  assert.throws(() => meta(DEFAULT, file(0o644, '', 0n, dup)), refused('EUSAGE', /twice/));
  assert.throws(() => meta(DEFAULT, node(S_IFBLK | 0o644, { rdev: { major: 4096, minor: 0 } })), refused('EUNSUPPORTED', /4096/));
});

test('protocol: refusals name the problem and leave the encoder usable', () => {
  assert.throws(() => new CatarEncoder(0x3n), refused('EUSAGE', /not normalized/));
  assert.throws(() => new CatarEncoder(DEFAULT).node(plain(S_IFREG | 0o644, 0n, { size: 0 })), refused('EUSAGE', /root must be a directory/));
  assert.throws(() => new CatarEncoder(DEFAULT).filename(bytes('a')), refused('EUSAGE', /root node is expected/));
  const e = new CatarEncoder(DEFAULT);
  e.node(plain(S_IFDIR | 0o755));
  for (const bad of ['', '.', '..', 'a/b', 'a\0b', 'x'.repeat(256)]) {
    assert.throws(() => e.filename(bytes(bad)), refused('EUSAGE', /invalid file name/));
  }
  e.filename(bytes('b'));
  assert.throws(() => e.filename(bytes('c')), refused('EUSAGE', /node of the last filename/));
  e.node(plain(S_IFREG | 0o644, 0n, { size: 3 }));
  assert.throws(() => e.filename(bytes('c')), refused('EUSAGE', /3 bytes missing/));
  assert.throws(() => e.payloadDone(4), refused('EUSAGE', /4 payload bytes reported but only 3 remain/));
  e.payloadDone(1);
  e.payloadDone(2);
  for (const bad of ['b', 'a', 'B']) assert.throws(() => e.filename(bytes(bad)), refused('EUSAGE', /strictly after/));
  e.filename(bytes('ba'));
  assert.throws(() => e.node(plain(S_IFREG | 0o644)), refused('EUSAGE', /lacks its body/));
  assert.throws(() => e.node(plain(S_IFLNK | 0o777, 0n, { target: new Uint8Array(0) })), refused('EUSAGE', /symlink target/));
  const none = new CatarEncoder(0xb000000000000000n);
  assert.equal(CatarEncoder.archives(0xb000000000000000n, S_IFLNK), false);
  none.node(plain(S_IFDIR | 0o755));
  none.filename(bytes('l'));
  assert.throws(() => none.node(plain(S_IFLNK | 0o777, 0n, { target: bytes('t') })), refused('EUSAGE', /not archived/));
  e.node(plain(S_IFDIR | 0o755));
  e.endDirectory();
  assert.equal(e.endDirectory().length, 16 + 3 * 24);
  assert.throws(() => e.endDirectory(), refused('EUSAGE', /complete/));
});

test('memory follows depth and width, not archive size; wide directories get valid goodbye tables', () => {
  const e = new CatarEncoder(DEFAULT);
  const memory = () => (e as unknown as { core: EncoderCore }).core.memory.buffer.byteLength;
  const name = (i: number) => bytes(String(i).padStart(6, '0'));
  e.node(plain(S_IFDIR | 0o755));
  // Three subtrees of 800 directories of 40 files: after the first, every
  // buffer has seen the widest directory and the deepest path.
  let after = 0;
  for (let top = 0; top < 3; top++) {
    e.filename(name(top));
    e.node(plain(S_IFDIR | 0o755));
    for (let d = 0; d < 800; d++) {
      e.filename(name(d));
      e.node(plain(S_IFDIR | 0o755));
      for (let f = 0; f < 40; f++) {
        e.filename(name(f));
        e.node(plain(S_IFREG | 0o644, 0n, { size: 0, xattrs: [{ name: bytes('user.x'), value: new Uint8Array(100) }] }));
      }
      e.endDirectory();
    }
    e.endDirectory();
    if (top === 0) after = memory();
  }
  e.endDirectory();
  assert.equal(memory(), after);
  const wide = dir(0o755, Array.from({ length: 20000 }, (_, i): [string, Tree] => [`f${String(i).padStart(5, '0')}`, file(0o644, '')]));
  assert.equal(dumpCatar(encodeTree(DEFAULT, wide)).length, 1 + 3 * 20000 + 1 + 20000);
});
