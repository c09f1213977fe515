// Hostile catar archives, part 1: file names, record order and sizes, truncation,
// trailing bytes and lying GOODBYE tables.  Each must be refused with the right
// message and the offset of the offending record, fed whole and byte by byte.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as C from '../src/format/catar-constants.ts';
import { CatarDecoder } from '../src/format/catar-decoder.ts';
import {
  type HNode, buildCatar, cat, decodeParts, dir, file, filename, group, payload, record, refusal, refused,
  selinux, split, u64, user, xattr, aclDefault, aclGroupObj,
} from './catar-hostile.ts';

const build = (children: HNode[], more: Partial<HNode> = {}) => buildCatar(dir(undefined, children, more));

test('file names: "/", NUL, ".", "..", empty, unterminated and over-long names are refused', () => {
  const cases: [string, RegExp][] = [
    ['a/b', /file name has a '\/' at position 1/],
    ['a\0b', /file name has a NUL byte at position 1/],
    ['.', /file name "\." or "\.\." is not allowed/],
    ['..', /file name "\." or "\.\." is not allowed/],
    ['', /empty file name/],
  ];
  for (const [name, re] of cases) {
    const { bytes, at } = build([file(name, 'x')]);
    refused(bytes, re, at[`${name}:FILENAME`]);
  }
  const raw = build([{ ...file('abc', 'x'), rawFilename: record(C.CA_FORMAT_FILENAME, new TextEncoder().encode('abc')) }]);
  refused(raw.bytes, /file name is not NUL-terminated/, raw.at['abc:FILENAME']);
  const tiny = build([{ ...file('a'), rawFilename: record(C.CA_FORMAT_FILENAME, new Uint8Array(0)) }]);
  refused(tiny.bytes, /FILENAME record of 16 bytes is too small \(at least 17\)/, tiny.at['a:FILENAME']);
  decodeParts([build([file('x'.repeat(255), 'x')]).bytes]);
  const long = build([file('x'.repeat(256), 'x')]);
  refused(long.bytes, /FILENAME record of 273 bytes: the name is longer than 255 bytes/, long.at[`${'x'.repeat(256)}:FILENAME`]);
});

test('names must be strictly increasing in strcmp byte order', () => {
  decodeParts([build([file('Zed'), file('a'), file('ab'), file('b'), file('\u00fc')]).bytes]);
  const dup = build([file('a', '1'), file('a', '2')]);
  refused(dup.bytes, /duplicate file name "a" in one directory/, dup.at['a:FILENAME']);
  const unsorted = build([file('b'), file('a')]);
  refused(unsorted.bytes, /file name "a" comes after "b" \(names must be sorted in strcmp order\)/, unsorted.at['a:FILENAME']);
  const prefix = build([file('ab'), file('a')]);
  refused(prefix.bytes, /file name "a" comes after "ab"/, prefix.at['a:FILENAME']);
  const bytesOrder = build([file('\u00fc'), file('z')]);
  refused(bytesOrder.bytes, /file name "z" comes after "\\xc3\\xbc"/, bytesOrder.at['z:FILENAME']);
  // Order is per directory: "o" follows its sibling "n", not n's last child "z".
  decodeParts([build([dir('m', [dir('n', [file('z')]), file('o')])]).bytes]);
  const nested = build([dir('m', [dir('n', [file('z')]), file('m')])]);
  refused(nested.bytes, /file name "m" comes after "n"/, nested.at['m/m:FILENAME']);
});

test('records out of order are refused where they appear', () => {
  const afterPayload = build([file('f', 'x', { body: [payload('x'), xattr('user.a', '1')] })]);
  refused(afterPayload.bytes, /XATTR record where a FILENAME or GOODBYE record was expected/, afterPayload.at['f:body1']);
  const userAfterXattr = build([file('f', 'x', { uid: 1, meta: [xattr('user.a', '1'), user('daemon')] })]);
  refused(userAfterXattr.bytes, /USER record after XATTR \(out of order\)/, userAfterXattr.at['f:meta1']);
  const userAfterGroup = build([file('f', 'x', { uid: 1, gid: 1, meta: [group('daemon'), user('daemon')] })]);
  refused(userAfterGroup.bytes, /USER record after GROUP \(out of order\)/, userAfterGroup.at['f:meta1']);
  const twoLabels = build([file('f', 'x', { meta: [selinux('a'), selinux('b')] })]);
  refused(twoLabels.bytes, /duplicate SELINUX record/, twoLabels.at['f:meta1']);
  const groupObjLate = build([dir('d', [], { meta: [aclDefault(7n, 5n, 0n, 5n), aclGroupObj(4)] })]);
  refused(groupObjLate.bytes, /ACL_GROUP_OBJ record after ACL_DEFAULT \(out of order\)/, groupObjLate.at['d:meta1']);
  const twoEntries = build([file('f', 'x', { meta: [record(C.CA_FORMAT_ENTRY, u64(0xb0000001ffeffe26n, 0o100644, 0, 0, 0, 0))] })]);
  refused(twoEntries.bytes, /second ENTRY record for the node at byte 82/, twoEntries.at['f:meta0']);
  const noEntry = build([file('f', 'x', { rawEntry: payload('x'), body: [] })]);
  refused(noEntry.bytes, /FILENAME is not followed by an ENTRY record \(found PAYLOAD\)/, noEntry.at['f:ENTRY']);
  refused(cat(filename('a'), build([]).bytes), /the archive does not start with an ENTRY record \(found FILENAME\)/, 0);
  const unknown = build([file('f', 'x', { meta: [record(0x1234n, new Uint8Array(8))] })]);
  refused(unknown.bytes, /unexpected unknown record type 0x0000000000001234 record in the node at byte 82/, unknown.at['f:meta0']);
  const beforeGoodbye = build([file('f', 'x')], { beforeGoodbye: xattr('user.a', '1') });
  refused(beforeGoodbye.bytes, /XATTR record where a FILENAME or GOODBYE record was expected/, beforeGoodbye.at['.:GOODBYE'] - 24);
});

test('oversized and undersized records are refused at their header', () => {
  const entry = (extra: number) => record(C.CA_FORMAT_ENTRY, cat(u64(0xb0000001ffeffe26n, 0o100644, 0, 0, 0, 0), new Uint8Array(extra)));
  const big = build([file('f', 'x', { rawEntry: entry(8) })]);
  refused(big.bytes, /ENTRY record of 72 bytes, must be exactly 64/, big.at['f:ENTRY']);
  const small = build([file('f', 'x', { rawEntry: entry(0).subarray(0, 56) })]);
  small.bytes.set(u64(56), small.at['f:ENTRY']);
  refused(small.bytes, /ENTRY record of 56 bytes, must be exactly 64/, small.at['f:ENTRY']);
  const cases: [Uint8Array, RegExp][] = [
    [record(C.CA_FORMAT_USER, new Uint8Array([0])), /USER record of 17 bytes is too small \(at least 18\)/],
    [record(C.CA_FORMAT_USER, new Uint8Array(257).fill(0x61)), /USER record of 273 bytes is too large \(at most 272\)/],
    [record(C.CA_FORMAT_XATTR, new Uint8Array(3)), /XATTR record of 19 bytes is too small \(at least 20\)/],
    [record(C.CA_FORMAT_ACL_GROUP_OBJ, u64(4, 0)), /ACL_GROUP_OBJ record of 32 bytes, must be exactly 24/],
    [record(C.CA_FORMAT_ACL_USER, u64(4)), /ACL_USER record of 24 bytes is too small \(at least 32\)/],
    [record(C.CA_FORMAT_SELINUX, new Uint8Array(4097).fill(0x61)), /SELINUX record of 4113 bytes is too large/],
    [record(C.CA_FORMAT_FCAPS, new Uint8Array(65537)), /FCAPS record of 65553 bytes is too large \(at most 65552\)/],
    [record(C.CA_FORMAT_QUOTA_PROJID, new Uint8Array(0)), /QUOTA_PROJID record of 16 bytes, must be exactly 24/],
  ];
  for (const [rec, re] of cases) {
    const b = build([file('f', 'x', { uid: 1, gid: 1, meta: [rec] })]);
    refused(b.bytes, re, b.at['f:meta0']);
  }
  // The size alone decides: a huge XATTR is refused before its body arrives.
  const huge = build([file('f', 'x', { meta: [record(C.CA_FORMAT_XATTR, new Uint8Array(0), 1n << 40n)] })]);
  refused(huge.bytes.subarray(0, huge.at['f:meta0'] + 16), /XATTR record of 1099511627776 bytes is too large/, huge.at['f:meta0']);
  const dev = build([{ name: 'c', mode: 0o20644, body: [record(C.CA_FORMAT_DEVICE, u64(1, 3, 0))] }]);
  refused(dev.bytes, /DEVICE record of 40 bytes, must be exactly 32/, dev.at['c:BODY']);
  const header = build([file('f', 'x', { meta: [record(C.CA_FORMAT_USER, new Uint8Array(0), 8)] })]);
  refused(header.bytes, /USER record size 8 is smaller than its 16-byte header/, header.at['f:meta0']);
});

test('size fields near 2^64 are refused, not wrapped', () => {
  for (const size of [0xffffffffffffffffn, 0xfffffffffffffff0n, 1n << 63n, 1n << 53n]) {
    const b = build([file('f', 'x')]);
    b.bytes.set(u64(size), b.at['f:BODY']);
    refused(b.bytes, new RegExp(`PAYLOAD record size ${size} overflows`), b.at['f:BODY']);
    const n = build([file('f', 'x')]);
    n.bytes.set(u64(size), n.at['f:FILENAME']);
    refused(n.bytes, new RegExp(`FILENAME record size ${size} overflows`), n.at['f:FILENAME']);
  }
});

test('a stream cut anywhere is reported as truncated at the record it cuts', () => {
  const { bytes, at } = build([
    dir('d', [file('g', 'gg', { meta: [xattr('user.a', 'v')] })]),
    file('f', 'hello'),
    { name: 'l', mode: 0o120777, body: [record(C.CA_FORMAT_SYMLINK, new TextEncoder().encode('f\0'))] },
  ]);
  const starts = Object.values(at).sort((a, b) => a - b);
  refused(new Uint8Array(0), /the archive is empty/, 0);
  for (let cut = 1; cut < bytes.length; cut++) {
    const start = starts.filter((s) => s <= cut).pop()!;
    const e = refusal([bytes.subarray(0, cut)]);
    assert.match(e.message, /: the archive (ends|is empty)/);
    assert.ok(e.message.endsWith(`(at byte ${start})`), `cut at ${cut}: ${e.message}`);
    assert.equal(refusal(split(bytes.subarray(0, cut), 3)).message, e.message);
  }
  const inPayload = refusal([bytes.subarray(0, at['f:BODY'] + 19)]);
  assert.ok(inPayload.message.endsWith(`the archive ends after 3 of 5 payload bytes (at byte ${at['f:BODY']})`));
  const between = refusal([bytes.subarray(0, at['f:FILENAME'])]);
  assert.match(between.message, /the archive ends before the GOODBYE of the directory at byte 0/);
});

test('end() reports a cut input at once when every event was taken', () => {
  const { bytes, at } = build([file('f', 'x')]);
  const d = new CatarDecoder('x.catar');
  d.push(bytes.subarray(0, at['f:BODY'] + 16));
  while (d.next());
  const want = `x.catar: the archive ends after 0 of 1 payload bytes (at byte ${at['f:BODY']})`;
  assert.throws(() => d.end(), (e: Error) => e.message === want);
  assert.throws(() => d.next(), (e: Error) => e.message === want);
  const cut = new CatarDecoder('x.catar');
  cut.push(bytes.subarray(0, 100));
  while (cut.next());
  assert.throws(() => cut.end(), /the archive ends 18 bytes into a 64-byte ENTRY record \(at byte 82\)$/);
});

test('trailing bytes after the root GOODBYE are refused', () => {
  const { bytes } = build([file('f', 'x')]);
  const n = bytes.length;
  refused(cat(bytes, new Uint8Array([0])), new RegExp(`trailing data after the root directory's GOODBYE \\(the archive ends at byte ${n}\\)`), n);
  refused(cat(bytes, bytes), /trailing data/, bytes.length);
  // Bytes that arrive after the 'end' event was taken are refused too.
  const d = new CatarDecoder('x.catar');
  d.push(bytes);
  const types: string[] = [];
  for (let e; (e = d.next()); ) types.push(e.type);
  assert.equal(types.at(-1), 'end');
  d.push(new Uint8Array(1));
  assert.throws(() => d.next(), (e: Error) => e.message.endsWith(`(the archive ends at byte ${n}) (at byte ${n})`));
  assert.throws(() => d.end(), /trailing data/);
});

test('GOODBYE tables that lie are refused', () => {
  const kids = () => [file('a', '1'), file('b', '22'), dir('c', [file('x', 'y')])];
  const lie = (edit: NonNullable<HNode['goodbye']>, re: RegExp, nested = false) => {
    const b = nested ? build([dir('c', kids(), { goodbye: edit })]) : build(kids(), { goodbye: edit });
    refused(b.bytes, re, b.at[nested ? 'c:GOODBYE' : '.:GOODBYE']);
  };
  for (const nested of [false, true]) {
    lie((it) => void (it[0].hash ^= 1n), /GOODBYE item 0 has hash 0x[0-9a-f]+, expected 0x[0-9a-f]+/, nested);
    lie((it) => void (it[1].offset += 1n), /GOODBYE item 1 has offset \d+, expected \d+/, nested);
    lie((it) => void (it[2].size -= 1n), /GOODBYE item 2 has size \d+, expected \d+/, nested);
    lie((it) => [it[1], it[0], it[2]], /GOODBYE item 0 has hash/, nested);
    lie((it) => [...it].sort((x, y) => (x.hash < y.hash ? -1 : 1)), /GOODBYE item 0 has hash/, nested);
    lie((it) => it.slice(1), /GOODBYE record of 88 bytes, expected 112 for a directory of 3 entries/, nested);
    lie((it) => [...it, it[0]], /GOODBYE record of 136 bytes, expected 112/, nested);
    lie((_it, t) => void (t.entryOffset += 1n), /GOODBYE tail entry_offset \d+, expected \d+ \(back to the directory's ENTRY\)/, nested);
    lie((_it, t) => void (t.size = 40n), /GOODBYE tail size 40, expected 112 \(the record size\)/, nested);
    lie((_it, t) => void (t.marker ^= 1n), /GOODBYE tail marker 0x57446fa533702942, expected 0x57446fa533702943/, nested);
  }
  const empty = build([], { goodbye: (_it, t) => void (t.entryOffset = 0n) });
  refused(empty.bytes, /GOODBYE tail entry_offset 0, expected 64/, 64);
});

test('GOODBYE tables of every size up to 70 and of 3000 entries are accepted', () => {
  for (let n = 0; n <= 70; n++) {
    const names = Array.from({ length: n }, (_, i) => `f${String(i).padStart(3, '0')}`);
    decodeParts([build(names.map((m) => file(m, m))).bytes]);
  }
  const many = Array.from({ length: 3000 }, (_, i) => `n${String(i).padStart(5, '0')}`);
  const { nodes } = decodeParts(split(build(many.map((m) => ({ name: m, mode: 0o10644 }))).bytes, 65536));
  assert.equal(nodes.length, 3001);
});

test('deep trees decode, with depths and directory ends in order', () => {
  let node: HNode = file('leaf', 'x');
  for (let i = 0; i < 2000; i++) node = dir('d', [node]);
  const { nodes, trace } = decodeParts([buildCatar(dir(undefined, [node])).bytes]);
  assert.equal(nodes.length, 2002);
  assert.equal(nodes.at(-1)!.path.split('/').length, 2001);
  assert.equal(trace.filter((l) => l.includes('directory-end')).length, 2001);
});
