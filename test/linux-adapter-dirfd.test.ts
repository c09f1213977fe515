// The Linux adapter's fd-relative calls (src/platform/node/linux/dirfd.ts and
// file-ranges.ts): device nodes, nanosecond times, symlink refusal, renameat2,
// raw directory listing, statx, links, reflinks, hole punching and opening
// beneath a directory (beneath.ts), checked against Node's fs and stat(1).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  closeSync, fstatSync, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync,
  statSync, symlinkSync, writeFileSync, writeSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  O_CREAT, O_DIRECTORY, O_NOFOLLOW, O_RDONLY, O_RDWR, O_WRONLY, RENAME_EXCHANGE, RENAME_NOREPLACE, type LinuxStat,
} from '../src/platform/node/linux/index.ts';
import { beneathOps } from '../src/platform/node/linux/beneath.ts';
import { loadLibc } from '../src/platform/node/linux/libc.ts';
import { koffiBackend } from '../src/platform/node/linux/libc-koffi.ts';
import { isRoot, requires } from './helpers.ts';
import { adapter, base, errCode, mounted, run, scratch, withFd } from './linux-fixtures.ts';

/** Runs `f` with an fd for directory `d`, closed afterwards. */
const inDir = <T>(d: string, f: (dfd: number) => T): T => withFd(d, f);

test('mknodAt makes character and block devices, FIFOs and sockets', (t) => {
  const fs = adapter(t);
  if (!fs) return;
  const d = scratch();
  inDir(d, (dfd) => {
    fs.mknodAt(dfd, Buffer.from('fifo'), 0o10640, 0, 0);
    fs.mknodAt(dfd, 'sock', 0o140600, 0, 0);
    assert.ok(lstatSync(join(d, 'fifo')).isFIFO());
    assert.equal(lstatSync(join(d, 'fifo')).mode & 0o7777, 0o640 & ~process.umask());
    assert.ok(lstatSync(join(d, 'sock')).isSocket());
    assert.throws(() => fs.mknodAt(dfd, 'fifo', 0o10640, 0, 0), errCode('EEXIST', 'mknodat'));
    if (!requires(t, isRoot, 'root (device nodes)')) return;
    fs.mknodAt(dfd, 'null', 0o20666, 1, 3);
    fs.mknodAt(dfd, 'loop', 0o60660, 7, 0);
    // casync's limits: major < 2^12, minor < 2^20.
    fs.mknodAt(dfd, 'big', 0o20600, 4095, 1048575);
    assert.equal(lstatSync(join(d, 'null')).rdev, statSync('/dev/null').rdev);
    assert.ok(lstatSync(join(d, 'loop')).isBlockDevice());
    for (const [name, major, minor] of [['null', 1, 3], ['loop', 7, 0], ['big', 4095, 1048575]] as const) {
      const st: LinuxStat = fs.statAt(dfd, name)!;
      assert.deepEqual([st.rdevMajor, st.rdevMinor], [major, minor]);
      assert.equal(run('stat', ['-c', '%t %T', join(d, name)]).trim(), `${major.toString(16)} ${minor.toString(16)}`);
    }
  });
});

test('setTimes sets nanosecond times without following symlinks', (t) => {
  const fs = adapter(t);
  if (!fs) return;
  const d = scratch();
  writeFileSync(join(d, 'f'), '');
  symlinkSync('f', join(d, 'l'));
  const shown = (name: string) => run('stat', ['-c', '%y|%x', join(d, name)]).trim();
  inDir(d, (dfd) => {
    fs.setTimes(dfd, Buffer.from('f'), 946684800000000001n, 1577934245123456789n);
    assert.equal(shown('f'), '2020-01-02 03:04:05.123456789 +0000|2000-01-01 00:00:00.000000001 +0000');
    assert.equal(fs.statAt(dfd, 'f')!.mtimeNs, 1577934245123456789n);
    assert.equal(lstatSync(join(d, 'f'), { bigint: true }).mtimeNs, 1577934245123456789n);
    // Before 1970: tv_nsec stays in [0, 1e9).
    fs.setTimes(dfd, 'f', null, -500000000n);
    assert.equal(shown('f'), '1969-12-31 23:59:59.500000000 +0000|2000-01-01 00:00:00.000000001 +0000');
    // The link itself, not its target.
    fs.setTimes(dfd, 'l', 0n, 1234567890987654321n);
    assert.equal(fs.statAt(dfd, 'l')!.mtimeNs, 1234567890987654321n);
    assert.equal(fs.statAt(dfd, 'f')!.mtimeNs, -500000000n);
  });
  withFd(join(d, 'f'), (fd) => fs.setTimesFd(fd, null, 1n));
  assert.equal(lstatSync(join(d, 'f'), { bigint: true }).mtimeNs, 1n);
});

test('openDirAt and openFileAt refuse symlinks and multi-component names', (t) => {
  const fs = adapter(t);
  if (!fs) return;
  const d = scratch();
  mkdirSync(join(d, 'sub'));
  writeFileSync(join(d, 'sub', 'f'), 'content');
  symlinkSync('sub', join(d, 'dirlink'));
  symlinkSync('sub/f', join(d, 'filelink'));
  inDir(d, (dfd) => {
    assert.throws(() => fs.openDirAt(dfd, 'dirlink'), errCode('ELOOP', 'openat'));
    assert.throws(() => fs.openFileAt(dfd, 'filelink', O_RDONLY), errCode('ELOOP', 'openat'));
    assert.throws(() => fs.openFileAt(dfd, Buffer.from('filelink'), O_WRONLY | O_CREAT, 0o644), errCode('ELOOP'));
    assert.equal(readFileSync(join(d, 'sub', 'f'), 'utf8'), 'content', 'nothing written through the link');
    for (const bad of ['sub/f', 'dirlink/f', '..', '', '/etc', 'a\0b']) {
      assert.throws(() => fs.openFileAt(dfd, bad, O_RDONLY), errCode('EINVAL'), JSON.stringify(bad));
    }
    assert.throws(() => fs.openDirAt(dfd, 'nope'), (e: NodeJS.ErrnoException) => {
      assert.equal(e.code, 'ENOENT');
      assert.equal(e.errno, -2);
      assert.equal(e.path, join(d, 'nope'));
      assert.equal(e.message, `ENOENT: No such file or directory, openat '${join(d, 'nope')}'`);
      return true;
    });
    const sub = fs.openDirAt(dfd, 'sub');
    try {
      assert.ok(fstatSync(sub).isDirectory());
      const fd = fs.openFileAt(sub, 'f', O_RDONLY);
      assert.equal(readFileSync(fd, 'utf8'), 'content');
      fs.close(fd);
      const nfd = fs.openFileAt(sub, 'new', O_RDWR | O_CREAT, 0o600);
      writeSync(nfd, 'new');
      fs.chmodFd(nfd, 0o4711);
      fs.close(nfd);
      assert.equal(lstatSync(join(d, 'sub', 'new')).mode & 0o7777, 0o4711);
    } finally {
      fs.close(sub);
    }
    assert.throws(() => fs.close(sub), errCode('EBADF', 'close'));
  });
});

test('renameAt: NOREPLACE refuses, EXCHANGE swaps, default replaces', (t) => {
  const fs = adapter(t);
  if (!fs) return;
  const d = scratch();
  writeFileSync(join(d, 'a'), 'A');
  writeFileSync(join(d, 'b'), 'B');
  mkdirSync(join(d, 'sub'));
  inDir(d, (dfd) => {
    assert.throws(() => fs.renameAt(dfd, 'a', dfd, 'b', RENAME_NOREPLACE), (e: NodeJS.ErrnoException) => {
      assert.equal(e.code, 'EEXIST');
      assert.match(e.message, /renameat2 '.*\/a' -> '.*\/b'/);
      return true;
    });
    fs.renameAt(dfd, 'a', dfd, 'b', RENAME_EXCHANGE);
    assert.equal(readFileSync(join(d, 'a'), 'utf8'), 'B');
    assert.equal(readFileSync(join(d, 'b'), 'utf8'), 'A');
    inDir(join(d, 'sub'), (sub) => fs.renameAt(dfd, Buffer.from('a'), sub, Buffer.from('c'), RENAME_NOREPLACE));
    writeFileSync(join(d, 'x'), 'X');
    fs.renameAt(dfd, 'b', dfd, 'x');
    assert.equal(readFileSync(join(d, 'x'), 'utf8'), 'A');
    assert.throws(() => fs.renameAt(dfd, 'x', dfd, 'sub'), errCode('EISDIR', 'renameat2'));
  });
  assert.deepEqual(readdirSync(d).sort(), ['sub', 'x']);
  assert.deepEqual(readdirSync(join(d, 'sub')), ['c']);
});

test('readDirAt lists raw names, including ones that are not UTF-8', (t) => {
  const fs = adapter(t);
  if (!fs) return;
  const d = scratch();
  const odd = [Buffer.from([0xff, 0xfe]), Buffer.from('caf\xe9', 'latin1'), Buffer.from('ünïcode'), Buffer.from('.hidden')];
  inDir(d, (dfd) => {
    for (const n of odd) fs.close(fs.openFileAt(dfd, n, O_WRONLY | O_CREAT, 0o644));
    fs.mkdirAt(dfd, Buffer.from([0x80, 0x2e]), 0o755);
    assert.throws(() => fs.mkdirAt(dfd, Buffer.from([0x80, 0x2e]), 0o755), errCode('EEXIST', 'mkdirat'));
    const want = [...odd, Buffer.from([0x80, 0x2e])].sort(Buffer.compare);
    assert.deepEqual(fs.readDirAt(dfd).sort(Buffer.compare), want);
    assert.deepEqual(readdirSync(d, { encoding: 'buffer' }).sort(Buffer.compare), want);
    // Listing again starts from the beginning.
    assert.equal(fs.readDirAt(dfd).length, want.length);
    const st = fs.statAt(dfd, Buffer.from([0xff, 0xfe]))!;
    assert.equal(st.mode & 0o170000, 0o100000);
  });
  // Enough entries for several getdents64 calls.
  const many = scratch();
  const names = Array.from({ length: 3000 }, (_, i) => `entry-with-a-longish-name-${i}`);
  for (const n of names) writeFileSync(join(many, n), '');
  const listed = inDir(many, (dfd) => fs.readDirAt(dfd)).map(String).sort();
  assert.deepEqual(listed, [...names].sort());
  inDir(scratch(), (dfd) => assert.deepEqual(fs.readDirAt(dfd), []));
});

test('statAt, chownAt, linkAt, unlinkAt and symlinkAt act on the entry itself', (t) => {
  const fs = adapter(t);
  if (!fs) return;
  const d = scratch();
  writeFileSync(join(d, 'f'), 'hello');
  inDir(d, (dfd) => {
    const st = fs.statAt(dfd, 'f')!;
    const ls = lstatSync(join(d, 'f'), { bigint: true });
    assert.equal(BigInt(st.mode), ls.mode);
    assert.equal(BigInt(st.uid), ls.uid);
    assert.equal(BigInt(st.gid), ls.gid);
    assert.equal(BigInt(st.size), ls.size);
    assert.equal(BigInt(st.nlink), ls.nlink);
    assert.equal(BigInt(st.blocks), ls.blocks);
    assert.equal(st.ino, ls.ino);
    assert.equal(BigInt(st.dev), ls.dev);
    assert.equal(st.mtimeNs, ls.mtimeNs);
    assert.equal(st.ctimeNs, ls.ctimeNs);
    assert.equal(fs.statAt(dfd, 'missing'), null);
    assert.deepEqual(inDir(d, (fd) => fs.statFd(fd)).ino, lstatSync(d, { bigint: true }).ino);

    fs.symlinkAt(Buffer.from([0xff, 0x2f, 0x2e, 0x2e]), dfd, 'link');
    assert.deepEqual(readlinkSync(join(d, 'link'), { encoding: 'buffer' }), Buffer.from([0xff, 0x2f, 0x2e, 0x2e]));
    assert.equal(fs.statAt(dfd, 'link')!.mode & 0o170000, 0o120000);
    fs.linkAt(dfd, 'f', dfd, 'hard');
    assert.equal(fs.statAt(dfd, 'f')!.nlink, 2);
    assert.throws(() => fs.linkAt(dfd, 'f', dfd, 'hard'), errCode('EEXIST', 'linkat'));
    if (isRoot) {
      symlinkSync('f', join(d, 'l2'));
      fs.chownAt(dfd, 'l2', 1, 2);
      assert.deepEqual([lstatSync(join(d, 'l2')).uid, lstatSync(join(d, 'l2')).gid], [1, 2]);
      assert.equal(lstatSync(join(d, 'f')).uid, 0, 'target untouched');
      fs.chownAt(dfd, 'f', -1, 3);
      assert.deepEqual([lstatSync(join(d, 'f')).uid, lstatSync(join(d, 'f')).gid], [0, 3]);
    }
    fs.unlinkAt(dfd, 'hard', false);
    fs.mkdirAt(dfd, 'dir', 0o700);
    assert.throws(() => fs.unlinkAt(dfd, 'dir', false), errCode('EISDIR', 'unlinkat'));
    fs.unlinkAt(dfd, 'dir', true);
    assert.equal(fs.statAt(dfd, 'dir'), null);
  });
});

test('cloneRange reflinks on XFS and btrfs and says false on ext4', (t) => {
  const fs = adapter(t);
  if (!fs) return;
  const block = 64 * 1024;
  const data = Buffer.alloc(4 * block);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 12)) & 0xff;
  const tryClone = (root: string) => {
    const d = scratch(root);
    writeFileSync(join(d, 'src'), data);
    const src = openSync(join(d, 'src'), 'r');
    const dst = openSync(join(d, 'dst'), 'w+');
    try {
      const ok = fs.cloneRange(src, block, 2 * block, dst, 0);
      return { ok, bytes: ok ? readFileSync(join(d, 'dst')) : null };
    } finally {
      closeSync(src);
      closeSync(dst);
    }
  };
  assert.equal(tryClone(base).ok, false, 'the temp dir (not a reflink file system here)');
  const ext4 = mounted('ext4');
  if (ext4) assert.equal(tryClone(ext4).ok, false);
  let cloned = 0;
  for (const kind of ['xfs', 'btrfs'] as const) {
    const root = mounted(kind);
    if (!root) continue;
    const r = tryClone(root);
    assert.equal(r.ok, true, kind);
    assert.deepEqual(r.bytes, data.subarray(block, 3 * block), kind);
    cloned++;
  }
  requires(t, cloned === 2, 'root, mkfs.xfs and mkfs.btrfs (xfsprogs, btrfs-progs) and loop mounts');
});

test('punchHole deallocates blocks and reads back zeros', (t) => {
  const fs = adapter(t);
  if (!fs) return;
  const f = join(scratch(), 'f');
  writeFileSync(f, Buffer.alloc(1 << 20, 0x5a));
  withFd(f, (fd) => {
    fsyncSync(fd);
    const before = fstatSync(fd).blocks;
    assert.equal(fs.punchHole(fd, 256 * 1024, 512 * 1024), true);
    const after = fstatSync(fd).blocks;
    assert.ok(after <= before - 1000, `${before} -> ${after} blocks`);
    assert.equal(fstatSync(fd).size, 1 << 20, 'size kept');
  }, 'r+');
  const back = readFileSync(f);
  assert.ok(back.subarray(256 * 1024, 768 * 1024).every((b) => b === 0));
  assert.ok(back.subarray(0, 256 * 1024).every((b) => b === 0x5a));
  withFd('/proc/self/status', (fd) => assert.throws(() => fs.punchHole(fd, 0, 1), errCode('EBADF', 'fallocate')));
});

test('openBeneath follows symlinks only while they stay inside; without openat2 it follows none', (t) => {
  const fs = adapter(t);
  if (!fs) return;
  const d = scratch();
  const outside = scratch();
  writeFileSync(join(outside, 'x'), 'outside');
  mkdirSync(join(d, 'in'));
  writeFileSync(join(d, 'in', 'f'), 'inside');
  symlinkSync(outside, join(d, 'lnk'));
  symlinkSync(`../${outside.split('/').pop()}`, join(d, 'rel'));
  symlinkSync('in', join(d, 'inlnk'));
  symlinkSync('in/f', join(d, 'alias'));
  const read = (fd: number) => {
    try {
      return readFileSync(fd, 'utf8');
    } finally {
      closeSync(fd);
    }
  };
  // A stand-in for a kernel without openat2: ENOSYS, so every component is opened with O_NOFOLLOW.
  const libc = loadLibc([koffiBackend])!;
  let refused = false;
  const old = beneathOps({ ...libc, openat2: () => ((refused = true), -1), errno: () => (refused ? ((refused = false), 38) : libc.errno()) });
  inDir(d, (dfd) => {
    assert.equal(read(fs.openBeneath(dfd, 'inlnk/f', O_RDONLY)), 'inside');
    assert.equal(read(fs.openBeneath(dfd, 'alias', O_RDONLY)), 'inside');
    const self = fs.openBeneath(dfd, '', O_RDONLY | O_DIRECTORY);
    assert.ok(fstatSync(self).isDirectory());
    closeSync(self);
    for (const p of ['lnk/x', 'rel/x', '../x', `${outside}/x`]) assert.throws(() => fs.openBeneath(dfd, p, O_RDONLY), errCode('EXDEV', 'openat2'), p);
    assert.throws(() => fs.openBeneath(dfd, 'alias', O_RDONLY | O_NOFOLLOW), errCode('ELOOP', 'openat2'));
    assert.throws(() => fs.openBeneath(dfd, 'in/missing', O_RDONLY), errCode('ENOENT', 'openat2'));
    assert.equal(read(old.openBeneath(dfd, 'in/f', O_RDONLY)), 'inside');
    for (const p of ['inlnk/f', 'alias', 'lnk/x', 'rel/x']) assert.throws(() => old.openBeneath(dfd, p, O_RDONLY), errCode('ELOOP', 'openat'), p);
    assert.throws(() => old.openBeneath(dfd, '../x', O_RDONLY), errCode('EXDEV', 'openat'));
  });
});
