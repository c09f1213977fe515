// casync-format.md §8 vectors for the catar encoder: V7 (tree0, whole archive in
// hex) and V9 (tree2, dump_catar.py's record dump), from vectors/expected.txt,
// and tree2 of mk_tree2.sh described as the walker hands it to the encoder
// (after .caexclude and nodump; xattrs, ACL entries unsorted, with records
// casync leaves out: an xattr on a FIFO, security.* and invalid xattr names).

import { S_IFBLK, S_IFCHR, S_IFIFO, S_IFSOCK } from '../src/format/catar-node.ts';
import { bytes, dir, file, plain, type Tree } from './catar-encoder-tree.ts';

export const V7_HEX = [
  '400000000000000051bb5beabcfa961326feefff010000b0ed4100000000000000000000000000000000000000000000',
  '000000000000000000004352cf4c230d12000000000000000b1f16b3bc6ebb6d6500400000000000000051bb5beabcfa',
  '961326feefff010000b0ed4100000000000000000000000000000000000000000000000000000000000000004352cf4c',
  '230d280000000000000003c427835e5cd3df4000000000000000280000000000000043297033a56f4457120000000000',
  '00000b1f16b3bc6ebb6d6600400000000000000051bb5beabcfa961326feefff010000b0a48100000000000000000000',
  '000000000000000000000000000000000000000000004352cf4c230d1300000000000000c9ffdcd6931d9e8b68690a58',
  '0000000000000003c427835e5cd3dfdf000000000000007a0000000000000099112dddea52a599650000000000000065',
  '00000000000000e0c83ef9bffdcf611f01000000000000580000000000000043297033a56f4457',
].join('');

export const V9_DUMP = String.raw`
@0 ENTRY size=64 feature_flags=0xb0000001ffeffe26 mode=040755 flags=0x0 uid=0 gid=0 mtime=1643767322000000000
  @64 FILENAME size=27 '.caexclude'
  @91 ENTRY size=64 feature_flags=0xb0000001ffeffe26 mode=0100644 flags=0x0 uid=0 gid=0 mtime=1643767322000000000
  @155 PAYLOAD size=52 (content 36 bytes)
  @207 FILENAME size=28 '.hidden.log'
  @235 ENTRY size=64 feature_flags=0xb0000001ffeffe26 mode=0100644 flags=0x0 uid=0 gid=0 mtime=1643767322000000000
  @299 PAYLOAD size=18 (content 2 bytes)
  @317 FILENAME size=20 'acl'
  @337 ENTRY size=64 feature_flags=0xb0000001ffeffe26 mode=0100670 flags=0x0 uid=0 gid=0 mtime=1643767322000000000
  @401 ACL_USER size=39 id=1 perm=4 name='daemon'
  @440 ACL_USER size=32 id=2000 perm=6 name=''
  @472 ACL_GROUP size=39 id=1 perm=5 name='daemon'
  @511 ACL_GROUP_OBJ size=24 value=0x4
  @535 PAYLOAD size=20 (content 4 bytes)
  @555 FILENAME size=24 'capfile'
  @579 ENTRY size=64 feature_flags=0xb0000001ffeffe26 mode=0100644 flags=0x0 uid=0 gid=0 mtime=1643767322000000000
  @643 FCAPS size=36 data=0100000200200000000000000000000000000000
  @679 PAYLOAD size=26 (content 10 bytes)
  @705 FILENAME size=21 'fifo'
  @726 ENTRY size=64 feature_flags=0xb0000001ffeffe26 mode=010644 flags=0x0 uid=0 gid=0 mtime=1643767322000000000
  @790 FILENAME size=20 'hl1'
  @810 ENTRY size=64 feature_flags=0xb0000001ffeffe26 mode=0100644 flags=0x0 uid=0 gid=0 mtime=1643767322000000000
  @874 PAYLOAD size=20 (content 4 bytes)
  @894 FILENAME size=20 'hl2'
  @914 ENTRY size=64 feature_flags=0xb0000001ffeffe26 mode=0100644 flags=0x0 uid=0 gid=0 mtime=1643767322000000000
  @978 PAYLOAD size=20 (content 4 bytes)
  @998 FILENAME size=21 'loop'
  @1019 ENTRY size=64 feature_flags=0xb0000001ffeffe26 mode=060644 flags=0x0 uid=0 gid=0 mtime=1643767322000000000
  @1083 DEVICE size=32 major=7 minor=200
  @1115 FILENAME size=24 'noatime'
  @1139 ENTRY size=64 feature_flags=0xb0000001ffeffe26 mode=0100644 flags=0x20000 uid=0 gid=0 mtime=1643767322000000000
  @1203 PAYLOAD size=24 (content 8 bytes)
  @1227 FILENAME size=21 'null'
  @1248 ENTRY size=64 feature_flags=0xb0000001ffeffe26 mode=020644 flags=0x0 uid=0 gid=0 mtime=1643767322000000000
  @1312 DEVICE size=32 major=1 minor=3
  @1344 FILENAME size=21 'sock'
  @1365 ENTRY size=64 feature_flags=0xb0000001ffeffe26 mode=0140755 flags=0x0 uid=0 gid=0 mtime=1643767322000000000
  @1429 FILENAME size=20 'sub'
  @1449 ENTRY size=64 feature_flags=0xb0000001ffeffe26 mode=040755 flags=0x0 uid=0 gid=0 mtime=1643767322000000000
    @1513 ACL_DEFAULT size=48 user_obj=0x7 group_obj=0x5 other=0x0 mask=0x5
    @1561 ACL_DEFAULT_USER size=32 id=2000 perm=5 name=''
    @1593 FILENAME size=23 'deeper'
    @1616 ENTRY size=64 feature_flags=0xb0000001ffeffe26 mode=040755 flags=0x0 uid=0 gid=0 mtime=1643767322000000000
      @1680 FILENAME size=25 'keep.log'
      @1705 ENTRY size=64 feature_flags=0xb0000001ffeffe26 mode=0100644 flags=0x0 uid=0 gid=0 mtime=1643767322000000000
      @1769 PAYLOAD size=18 (content 2 bytes)
    @1787 GOODBYE size=64 items=1 tail=(entry_offset=171, size=64, marker=0x57446fa533702943)
        item offset=107 size=107 hash=0x275ad4af9692cff4
    @1851 FILENAME size=25 'keep.txt'
    @1876 ENTRY size=64 feature_flags=0xb0000001ffeffe26 mode=0100640 flags=0x0 uid=0 gid=0 mtime=1643767322000000000
    @1940 ACL_USER size=32 id=2000 perm=5 name=''
    @1972 ACL_GROUP_OBJ size=24 value=0x5
    @1996 PAYLOAD size=18 (content 2 bytes)
  @2014 GOODBYE size=88 items=2 tail=(entry_offset=565, size=88, marker=0x57446fa533702943)
      item offset=421 size=258 hash=0x4ee9f93a18bdcb78
      item offset=163 size=163 hash=0x176885eb85f59e71
  @2102 FILENAME size=23 'xattrs'
  @2125 ENTRY size=64 feature_flags=0xb0000001ffeffe26 mode=0100644 flags=0x0 uid=0 gid=0 mtime=1643767322000000000
  @2189 XATTR size=29 trusted.mid=b't'
  @2218 XATTR size=36 user.alpha=b'first\x00bin'
  @2254 XATTR size=30 user.zeta=b'last'
  @2284 PAYLOAD size=18 (content 2 bytes)
@2302 GOODBYE size=352 items=13 tail=(entry_offset=2302, size=352, marker=0x57446fa533702943)
    item offset=1512 size=104 hash=0x7b9df998b325b0ac
    item offset=200 size=200 hash=0x58c29889223f5fbf
    item offset=1985 size=238 hash=0xd2c13fb06b3b4752
    item offset=2238 size=143 hash=0x3894e83fb6320d37
    item offset=1304 size=117 hash=0x69708d882f73e530
    item offset=2095 size=110 hash=0xa60cc6c1511cb8d5
    item offset=873 size=673 hash=0xebfe935698c3deec
    item offset=1408 size=104 hash=0x192e35d0650e8a47
    item offset=1597 size=85 hash=0x4688b8a264b21bf3
    item offset=1747 size=150 hash=0x5dddc5fdd4c2a338
    item offset=958 size=85 hash=0x7b572a38c4674ec6
    item offset=1187 size=112 hash=0x863119c3aba90e90
    item offset=1075 size=117 hash=0xbee3afecee8d85cb
`.trim().split('\n');

const T9 = 1643767322000000000n;
const root = { userName: 'root', groupName: 'root' };
const f9 = (mode: number, content: string, more = {}) => file(mode, content, T9, { ...root, ...more });
const special = (mode: number, more = {}): Tree => ({ node: plain(mode, T9, { ...root, ...more }) });

/** tree2 of mk_tree2.sh as the walker describes it (after .caexclude and nodump). */
export const tree2: Tree = dir(0o755, [
  ['.caexclude', f9(0o644, '# comment\n*.log\n!keep.log\nskipdir/\n\n')],
  ['.hidden.log', f9(0o644, 'f\n')],
  ['acl', f9(0o670, 'acl\n', {
    acl: {
      user: [{ id: 2000, name: null, perm: 6 }, { id: 1, name: 'daemon', perm: 4 }],
      group: [{ id: 1, name: 'daemon', perm: 5 }],
      groupObj: 4,
      default: null,
    },
  })],
  ['capfile', f9(0o644, '#!/bin/sh\n', { fcaps: Buffer.from('0100000200200000000000000000000000000000', 'hex') })],
  ['fifo', special(S_IFIFO | 0o644, { xattrs: [{ name: bytes('trusted.x'), value: bytes('dropped') }] })],
  ['hl1', f9(0o644, 'one\n')],
  ['hl2', f9(0o644, 'one\n')],
  ['loop', special(S_IFBLK | 0o644, { rdev: { major: 7, minor: 200 } })],
  ['noatime', f9(0o644, 'noatime\n', { flags: 0x20000n })],
  ['null', special(S_IFCHR | 0o644, { rdev: { major: 1, minor: 3 } })],
  ['sock', special(S_IFSOCK | 0o755)],
  ['sub', dir(0o755, [
    ['deeper', dir(0o755, [['keep.log', f9(0o644, 'd\n')]], T9, root)],
    ['keep.txt', f9(0o640, 'a\n', {
      acl: { user: [{ id: 2000, name: null, perm: 5 }], group: [], groupObj: 5, default: null },
    })],
  ], T9, {
    ...root,
    acl: {
      user: [], group: [], groupObj: null,
      default: { userObj: 7, groupObj: 5, other: 0, mask: 5, user: [{ id: 2000, name: null, perm: 5 }], group: [] },
    },
  })],
  ['xattrs', f9(0o644, 'x\n', {
    xattrs: [
      { name: bytes('user.zeta'), value: bytes('last') },
      { name: bytes('security.ima'), value: bytes('not stored') },
      { name: bytes('user.alpha'), value: bytes('first\0bin') },
      { name: bytes('trusted.mid'), value: bytes('t') },
      { name: bytes('user.'), value: bytes('invalid name') },
    ],
  })],
], T9, root);
