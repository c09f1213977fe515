// Hostile catar archives, part 2: feature flags, node types and the records each
// may carry, ACLs, ids and names, times (casync-format.md §3.3, §4.3–§4.5).
// Refused with the message and offset of the offending record, fed whole and
// byte by byte.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as C from '../src/format/catar-constants.ts';
import { CA_FORMAT_SHA512_256, CA_FORMAT_WITH_FCAPS } from '../src/format/feature-flags.ts';
import {
  DEFAULT_FLAGS, type HNode, aclDefault, aclEntry, aclGroupObj, buildCatar, decodeParts, device, dir, fcaps,
  file, group, projid, record, refused, symlink, user, xattr,
} from './catar-hostile.ts';

const build = (children: HNode[], more: Partial<HNode> = {}, flags = DEFAULT_FLAGS) =>
  buildCatar(dir(undefined, children, more), flags);
const UNIX = 0xb000000000001f09n; // 16-bit uids, permissions, sec-time, symlinks, devices, fifos, sockets
const NONE = 0xb000000000000000n;
const MAX = 0xffffffffffffffffn;
const link = (name: string, target = 'f', more: Partial<HNode> = {}): HNode =>
  ({ name, mode: 0o120777, body: [symlink(target)], ...more });

test('feature flags: unknown, not normalized, differing between entries or from the expected value', () => {
  const unknown = build([], {}, DEFAULT_FLAGS | (1n << 40n));
  refused(unknown.bytes, /unknown feature flag bits 0x0000010000000000 in 0xb0000101ffeffe26/, 0);
  refused(build([], {}, MAX).bytes, /unknown feature flag bits/, 0);
  refused(build([], {}, DEFAULT_FLAGS | 1n).bytes,
    /feature flags 0xb0000001ffeffe27 are not normalized \(casync writes 0xb0000001ffeffe26\)/, 0);
  refused(build([], {}, 0xb000000020000000n).bytes, /are not normalized \(casync writes 0xb000000020000006\)/, 0);
  const differ = build([file('f', 'x', { featureFlags: DEFAULT_FLAGS & ~CA_FORMAT_SHA512_256 })]);
  refused(differ.bytes,
    /feature flags 0x90000001ffeffe26 differ from the archive's 0xb0000001ffeffe26 \(set by the root ENTRY\)/, differ.at['f:ENTRY']);
  const ok = build([file('f', 'x')]);
  decodeParts([ok.bytes], DEFAULT_FLAGS);
  refused(ok.bytes, /feature flags 0xb0000001ffeffe26 differ from the expected 0xb000000000001f09/, 0, UNIX);
});

test('the root must be a directory; PAYLOAD, SYMLINK and DEVICE only on their own types', () => {
  refused(buildCatar({ mode: 0o100644, payload: 'x' }).bytes, /the archive root is not a directory \(mode 0100644\)/, 0);
  refused(buildCatar({ mode: 0o120777, body: [symlink('x')] }).bytes, /the archive root is not a directory/, 0);
  const onDir = build([dir('d', [], { body: [record(C.CA_FORMAT_PAYLOAD, new Uint8Array(3))] })]);
  refused(onDir.bytes, /PAYLOAD record for a node that is not a regular file \(mode 040755\)/, onDir.at['d:BODY']);
  const noPayload = build([file('f', '', { body: [] })]);
  refused(noPayload.bytes, /regular file without a PAYLOAD record \(found GOODBYE\)/, noPayload.at['.:GOODBYE']);
  const noTarget = build([link('l', 'f', { body: [] }), file('m')]);
  refused(noTarget.bytes, /symlink without a SYMLINK record \(found FILENAME\)/, noTarget.at['m:FILENAME']);
  const noDevice = build([{ name: 'c', mode: 0o20644 }]);
  refused(noDevice.bytes, /device without a DEVICE record \(found GOODBYE\)/, noDevice.at['.:GOODBYE']);
  const symOnFile = build([file('f', '', { body: [symlink('x')] })]);
  refused(symOnFile.bytes, /SYMLINK record for a node that is not a symlink \(mode 0100644\)/, symOnFile.at['f:BODY']);
  const devOnFifo = build([{ name: 'p', mode: 0o10644, body: [device(1, 3)] }]);
  refused(devOnFifo.bytes, /DEVICE record for a node that is not a device \(mode 010644\)/, devOnFifo.at['p:BODY']);
  const fifoBody = build([{ name: 'p', mode: 0o10644, payload: 'x' }]);
  refused(fifoBody.bytes, /PAYLOAD record for a node that is not a regular file \(mode 010644\)/, fifoBody.at['p:BODY']);
});

test('FCAPS only on files, QUOTA_PROJID on files and directories, no xattrs or ACLs on symlinks', () => {
  const capDir = build([dir('d', [], { meta: [fcaps(new Uint8Array(20))] })]);
  refused(capDir.bytes, /FCAPS record on a non-regular file \(mode 040755\)/, capDir.at['d:meta0']);
  const quotaLink = build([link('l', 'f', { meta: [projid(5)] })]);
  refused(quotaLink.bytes, /QUOTA_PROJID record on a node that is neither a file nor a directory/, quotaLink.at['l:meta0']);
  decodeParts([build([dir('d', [], { meta: [projid(5)] }), file('f', 'x', { meta: [projid(0xffffffff)] })]).bytes]);
  for (const id of [0, 0x100000000]) {
    const b = build([file('f', 'x', { meta: [projid(id)] })]);
    refused(b.bytes, new RegExp(`QUOTA_PROJID ${id} is out of range`), b.at['f:meta0']);
  }
  const xLink = build([link('l', 'f', { meta: [xattr('user.a', '1')] })]);
  refused(xLink.bytes, /XATTR record on a symlink/, xLink.at['l:meta0']);
  const aLink = build([link('l', 'f', { meta: [aclEntry(C.CA_FORMAT_ACL_USER, 1, 4)] })]);
  refused(aLink.bytes, /ACL_USER record on a symlink/, aLink.at['l:meta0']);
  const capNoFlag = build([file('f', 'x', { meta: [fcaps(new Uint8Array(20))] })], {}, DEFAULT_FLAGS & ~CA_FORMAT_WITH_FCAPS);
  refused(capNoFlag.bytes, /FCAPS record but the feature flags lack fcaps/, capNoFlag.at['f:meta0']);
});

test('ENTRY flags, modes and file types must fit the feature flags', () => {
  const fifoFlags = build([{ name: 'p', mode: 0o10644, flags: 0x20000n }]);
  refused(fifoFlags.bytes, /ENTRY flags 0x20000 on a node of mode 010644/, fifoFlags.at['p:ENTRY']);
  decodeParts([build([dir('d', [], { flags: 0x4000000n }), file('f', 'x', { flags: 0x20000n })]).bytes]);
  const notAllowed = build([file('f', 'x', { flags: 0x20000n, mode: 0o100644 })], { mode: 0o40755 }, UNIX);
  refused(notAllowed.bytes, /ENTRY flags 0x20000 are not allowed by the feature flags 0xb000000000001f09/, notAllowed.at['f:ENTRY']);
  const subvolFile = build([file('f', 'x', { flags: 0x4000000n })]);
  refused(subvolFile.bytes, /subvolume flag on a non-directory/, subvolFile.at['f:ENTRY']);
  const socket = build([{ name: 's', mode: 0o140777 }], { mode: 0o40777 }, NONE);
  refused(socket.bytes, /socket \(mode 0140777\) but the feature flags lack sockets/, socket.at['s:ENTRY']);
  const perms = build([file('f', 'x', { mode: 0o100644 })], { mode: 0o40777 }, NONE);
  refused(perms.bytes, /mode 0100644 is not possible with the feature flags 0xb000000000000000/, perms.at['f:ENTRY']);
  decodeParts([build([file('f', 'x', { mode: 0o100666 })], { mode: 0o40777 }, NONE).bytes]);
  decodeParts([build([file('f', 'x', { mode: 0o100444 })], { mode: 0o40555 }, NONE | 0x80n).bytes]);
  const symMode = build([link('l', 'f', { mode: 0o120755 })]);
  refused(symMode.bytes, /symlink with mode 0120755 \(casync stores 0777\)/, symMode.at['l:ENTRY']);
  const badBits = build([file('f', 'x', { mode: 0o1100644 })]);
  refused(badBits.bytes, /invalid mode 01100644/, badBits.at['f:ENTRY']);
  const badType = build([{ name: 't', mode: 0o70644 }]);
  refused(badType.bytes, /unknown file type in mode 070644/, badType.at['t:ENTRY']);
});

test('symlink targets, device numbers, xattr names and SELinux labels', () => {
  const empty = build([link('l', '')]);
  refused(empty.bytes, /SYMLINK record of 17 bytes is too small \(at least 18\)/, empty.at['l:BODY']);
  const nul = build([link('l', 'a\0b')]);
  refused(nul.bytes, /SYMLINK record has a NUL byte inside its string/, nul.at['l:BODY']);
  const unterminated = build([{ name: 'l', mode: 0o120777, body: [record(C.CA_FORMAT_SYMLINK, new Uint8Array([0x61, 0x62]))] }]);
  refused(unterminated.bytes, /SYMLINK record is not NUL-terminated/, unterminated.at['l:BODY']);
  decodeParts([build([link('l', 'x'.repeat(4095))]).bytes]);
  const long = build([link('l', 'x'.repeat(4096))]);
  refused(long.bytes, /SYMLINK record of 4113 bytes is too large \(at most 4112\)/, long.at['l:BODY']);
  decodeParts([build([{ name: 'c', mode: 0o20644, body: [device(4095, 1048575)] }]).bytes]);
  for (const [maj, min, re] of [[4096, 0, /device major 4096 is out of range/], [0, 1 << 20, /device minor 1048576 is out of range/]] as const) {
    const b = build([{ name: 'c', mode: 0o60644, body: [device(maj, min)] }]);
    refused(b.bytes, re, b.at['c:BODY']);
  }
  const xattrCases: [Uint8Array[], RegExp, number][] = [
    [[xattr('user.b', '1'), xattr('user.a', '2')], /XATTR names are not strictly sorted/, 1],
    [[xattr('user.a', '1'), xattr('user.a', '2')], /XATTR names are not strictly sorted/, 1],
    [[xattr('nodot', '1')], /invalid XATTR name/, 0],
    [[xattr('.a', '1')], /invalid XATTR name/, 0],
    [[xattr('user.', '1')], /invalid XATTR name/, 0],
    [[xattr('security.capability', '1')], /XATTR "security\.capability" is outside the user\. and trusted\. namespaces/, 0],
    [[xattr('system.posix_acl_access', '1')], /XATTR "system\.posix_acl_access" is outside/, 0],
    [[xattr('users.a', '1')], /XATTR "users\.a" is outside/, 0],
    [[record(C.CA_FORMAT_XATTR, new Uint8Array(300).fill(0x61))], /XATTR name is not NUL-terminated within 256 bytes/, 0],
  ];
  for (const [meta, re, i] of xattrCases) {
    const b = build([file('f', 'x', { meta })]);
    refused(b.bytes, re, b.at[`f:meta${i}`]);
  }
  decodeParts([build([file('f', 'x', { meta: [xattr('trusted.b', ''), xattr('user.a', new Uint8Array(65536))] })]).bytes]);
  const label = build([file('f', 'x', { meta: [record(C.CA_FORMAT_SELINUX, new Uint8Array([0x61, 0, 0x62, 0]))] })]);
  refused(label.bytes, /SELINUX record has a NUL byte inside its string/, label.at['f:meta0']);
});

test('ACLs: sorted entries, permission bits, GROUP_OBJ and default mask requirements', () => {
  const U = C.CA_FORMAT_ACL_USER;
  const G = C.CA_FORMAT_ACL_GROUP;
  const DU = C.CA_FORMAT_ACL_DEFAULT_USER;
  decodeParts([build([
    dir('d', [], { meta: [aclDefault(7n, 5n, 0n, 5n), aclEntry(DU, 2000, 5)] }),
    file('f', 'x', { meta: [aclEntry(U, 1, 4, 'daemon'), aclEntry(U, 2000, 6), aclEntry(G, 1, 5, 'daemon'), aclGroupObj(4)] }),
  ]).bytes]);
  const cases: [HNode, RegExp, string][] = [
    [file('f', 'x', { meta: [aclEntry(U, 2000, 6), aclEntry(U, 1, 4), aclGroupObj(4)] }), /ACL_USER records are not strictly sorted/, 'meta1'],
    [file('f', 'x', { meta: [aclEntry(U, 1, 4, 'daemon'), aclEntry(U, 1, 4), aclGroupObj(4)] }), /ACL_USER records are not strictly sorted/, 'meta1'],
    [file('f', 'x', { meta: [aclEntry(U, 1, 4), aclEntry(U, 1, 4), aclGroupObj(4)] }), /ACL_USER records are not strictly sorted/, 'meta1'],
    [file('f', 'x', { meta: [aclEntry(G, 1, 8), aclGroupObj(4)] }), /ACL permissions 0x8 in ACL_GROUP record/, 'meta0'],
    [file('f', 'x', { meta: [aclGroupObj(9)] }), /ACL permissions 0x9 in ACL_GROUP_OBJ record/, 'meta0'],
    [file('f', 'x', { meta: [aclEntry(U, 1, 4)] }), /node at byte 82 has named ACL entries but no ACL_GROUP_OBJ/, 'BODY'],
    [dir('d', [], { meta: [aclEntry(DU, 1, 4)] }), /named default ACL entries but no ACL_DEFAULT with a mask/, 'GOODBYE'],
    [dir('d', [], { meta: [aclDefault(7n, 5n, 0n, MAX), aclEntry(DU, 1, 4)] }), /no ACL_DEFAULT with a mask/, 'GOODBYE'],
    [dir('d', [], { meta: [aclDefault(MAX, 5n, 0n, 5n)] }), /ACL permissions 0xffffffffffffffff in ACL_DEFAULT/, 'meta0'],
    [file('f', 'x', { meta: [aclDefault(7n, 5n, 0n, 5n)] }), /ACL_DEFAULT record on a non-directory \(mode 0100644\)/, 'meta0'],
    [file('f', 'x', { meta: [aclEntry(U, 1, 4, 'root'), aclGroupObj(4)] }), /user or group name "root" in ACL_USER record/, 'meta0'],
  ];
  for (const [node, re, key] of cases) {
    const b = build([node]);
    refused(b.bytes, re, b.at[`${node.name}:${key}`]);
  }
  const named = build([file('f', 'x', { meta: [aclEntry(U, 1, 4, 'daemon'), aclGroupObj(4)] })], {}, 0xb000000020000002n);
  refused(named.bytes, /named ACL_USER record but the feature flags lack user-names/, named.at['f:meta0']);
});

test('uids, gids and user names follow the uid flags', () => {
  const F32 = DEFAULT_FLAGS;
  const cases: [Partial<HNode>, bigint, RegExp][] = [
    [{ uid: 0xffff }, F32, /uid 65535 is out of range for 32-bit uids/],
    [{ gid: 0xffffffff }, F32, /gid 4294967295 is out of range for 32-bit uids/],
    [{ uid: 0xffff, mode: 0o100644 }, UNIX, /uid 65535 is out of range for 16-bit uids \(at most 65534\)/],
    [{ uid: 5, mode: 0o100666 }, NONE, /uid 5 but the feature flags store no uids \(must be 0\)/],
    [{ uid: 1, meta: [user('root')] }, F32, /user or group name "root" in USER record/],
    [{ meta: [user('root')] }, F32, /user or group name "root" in USER record/],
    [{ uid: 1, meta: [user('1abc')] }, F32, /invalid user or group name in USER record \(byte 0 is 0x31\)/],
    [{ uid: 1, meta: [group('a b')] }, F32, /invalid user or group name in GROUP record \(byte 1 is 0x20\)/],
    [{ uid: 1, meta: [user('daemon')] }, UNIX, /USER record but the feature flags lack user-names/],
  ];
  for (const [more, flags, re] of cases) {
    const b = build([file('f', 'x', more)], flags === F32 ? {} : { mode: flags === NONE ? 0o40777 : 0o40755 }, flags);
    const key = more.meta ? 'f:meta0' : 'f:ENTRY';
    refused(b.bytes, re, b.at[key]);
  }
  decodeParts([build([file('f', 'x', { uid: 65534, gid: 4294967294, meta: [user('_a-9'), group('Z')] })]).bytes]);
  // user-names without uid flags: casync's writer leaves the names out for root
  // and writes an unnamed owner's id in decimal; its reader refuses both, and
  // wasync's reads them (root; that id).  With ids a decimal name is refused.
  const NAMES = 0xb000000000000004n;
  const named = (meta: Uint8Array[]) => build([file('f', 'x', { mode: 0o100666, meta })], { mode: 0o40777, meta: [user('a'), group('b')] }, NAMES);
  decodeParts([named([user('c'), group('d')]).bytes]);
  decodeParts([named([user('c')]).bytes]);
  decodeParts([named([]).bytes]);
  decodeParts([named([user('2000'), group('4294967294')]).bytes]);
  const zero = named([user('0')]);
  refused(zero.bytes, /invalid user or group name in USER record \(byte 0 is 0x30\)/, zero.at['f:meta0']);
  const huge = named([user('4294967295')]);
  refused(huge.bytes, /invalid user or group name in USER record \(byte 0 is 0x34\)/, huge.at['f:meta0']);
});

test('mtime must be a multiple of the time granularity, and 0 without a time flag', () => {
  const at = (mtime: bigint, flags: bigint) => build([file('f', 'x', { mtime, mode: 0o100644 })], {}, flags);
  decodeParts([at(1577934245000000000n, UNIX).bytes]);
  refused(at(1577934245000000001n, UNIX).bytes, /mtime 1577934245000000001 is not a multiple of the time granularity 1000000000 ns/, 82);
  decodeParts([at(1577934245123456000n, 0xb000000000001f11n).bytes]);
  refused(at(1577934245123456700n, 0xb000000000000311n).bytes, /not a multiple of the time granularity 1000 ns/, 82);
  refused(at(3000000000n, 0xb000000000000341n).bytes, /not a multiple of the time granularity 2000000000 ns/, 82);
  refused(at(5n, 0xb000000000000301n).bytes, /mtime 5 but the feature flags store no time \(must be 0\)/, 82);
  refused(at(MAX, DEFAULT_FLAGS).bytes, /mtime 18446744073709551615 is reserved/, 82);
  decodeParts([at(18446744073209551616n, DEFAULT_FLAGS).bytes]);
});
