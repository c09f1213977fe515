// The Linux adapter (src/platform/node/linux), part 1: xattrs, file capabilities,
// chattr and FAT attributes, project ids, file-system type, mount ids, btrfs
// subvolumes and NSS names, each round-tripped against the kernel and checked
// with the standard tools (lsattr, getcap).  ACLs and the fd-relative calls are in
// linux-adapter-acl.test.ts and linux-adapter-dirfd.test.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  linuxFs, linuxFsUnavailable, FS_MAGIC, FS_APPEND_FL, FS_IMMUTABLE_FL, FS_NODUMP_FL, FS_NOATIME_FL, FS_EXTENT_FL,
  CHATTR_KNOWN, ATTR_HIDDEN, ATTR_SYS, ATTR_ARCH, chattrToFeatureFlags, featureFlagsToChattr, fatToFeatureFlags,
  featureFlagsToFat, subvolumeToFeatureFlags,
} from '../src/platform/node/linux/index.ts';
import { isRoot, requires } from './helpers.ts';
import { MOUNTS_NEED, adapter, base, errCode, has, mounted, run, scratch, withFd } from './linux-fixtures.ts';

test('linuxFs loads libc through koffi', (t) => {
  const fs = adapter(t);
  if (!fs) return;
  assert.match(fs.backend, /^koffi /);
  assert.equal(linuxFsUnavailable(), '');
  assert.equal(linuxFs(), fs, 'bound once');
});

test('xattrs round-trip by path and fd: binary values, trusted.*, absent names', (t) => {
  const fs = adapter(t);
  const ext4 = mounted('ext4');
  if (!fs || !requires(t, ext4 !== null, MOUNTS_NEED)) return;
  const d = scratch(ext4!);
  const f = join(d, 'f');
  writeFileSync(f, 'x');
  const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  fs.setXattr(f, Buffer.from('user.bin'), every);
  fs.setXattr(Buffer.from(f), 'user.empty', Buffer.alloc(0));
  fs.setXattr(f, 'trusted.t', Buffer.from([0, 0xff, 0]));
  const big = Buffer.alloc(1500, 7);
  withFd(f, (fd) => fs.setXattrFd(fd, 'user.big', big));
  const names = fs.listXattrs(f).map(String).sort();
  assert.deepEqual(names, ['trusted.t', 'user.big', 'user.bin', 'user.empty']);
  assert.deepEqual(fs.getXattr(f, Buffer.from('user.bin')), every);
  assert.deepEqual(fs.getXattr(f, 'user.empty'), Buffer.alloc(0));
  assert.deepEqual(fs.getXattr(f, 'trusted.t'), Buffer.from([0, 0xff, 0]));
  assert.equal(fs.getXattr(f, 'user.absent'), null);
  withFd(f, (fd) => {
    assert.deepEqual(fs.listXattrsFd(fd).map(String).sort(), names);
    assert.deepEqual(fs.getXattrFd(fd, 'user.big'), big);
    fs.removeXattrFd(fd, 'user.big');
  });
  fs.removeXattr(f, 'user.bin');
  assert.deepEqual(fs.listXattrs(f).map(String).sort(), ['trusted.t', 'user.empty']);
  assert.throws(() => fs.removeXattr(f, 'user.bin'), errCode('ENODATA', 'lremovexattr'));
  assert.throws(() => fs.getXattr(join(d, 'missing'), 'user.x'), (e: NodeJS.ErrnoException) => {
    assert.equal(e.code, 'ENOENT');
    assert.match(e.message, /lgetxattr '.*missing' \(user\.x\)/);
    return true;
  });
  assert.throws(() => fs.setXattr(f, 'user.a\0b', Buffer.alloc(1)), errCode('EINVAL'));
  // Symlinks: the l* calls act on the link, never the target.
  symlinkSync('f', join(d, 'l'));
  assert.deepEqual(fs.listXattrs(join(d, 'l')), []);
  assert.equal(fs.getXattr(join(d, 'l'), 'trusted.t'), null);
  assert.throws(() => fs.setXattr(join(d, 'l'), 'user.x', Buffer.from('1')), errCode('EPERM', 'lsetxattr'));
});

test('xattr values and name lists larger than the first 4 KiB try (XFS)', (t) => {
  const fs = adapter(t);
  const xfs = mounted('xfs');
  if (!fs || !requires(t, xfs !== null, 'root, mkfs.xfs (xfsprogs) and loop mounts')) return;
  const f = join(scratch(xfs!), 'f');
  writeFileSync(f, '');
  const value = Buffer.alloc(65536);
  for (let i = 0; i < value.length; i++) value[i] = (i * 31) & 0xff;
  fs.setXattr(f, 'user.large', value);
  const names = Array.from({ length: 200 }, (_, i) => `user.a-rather-long-attribute-name-${i}`);
  for (const n of names) fs.setXattr(f, n, Buffer.from(n));
  assert.deepEqual(fs.getXattr(f, 'user.large'), value);
  assert.deepEqual(fs.listXattrs(f).map(String).sort(), [...names, 'user.large'].sort());
  withFd(f, (fd) => {
    assert.deepEqual(fs.getXattrFd(fd, 'user.large'), value);
    assert.equal(fs.listXattrsFd(fd).length, names.length + 1);
  });
});

test('file capabilities (security.capability) copy as raw xattr values', (t) => {
  const fs = adapter(t);
  if (!fs || !requires(t, isRoot && has('setcap') && has('getcap'), 'root and setcap/getcap (libcap2-bin)')) return;
  const d = scratch();
  writeFileSync(join(d, 'a'), '');
  writeFileSync(join(d, 'b'), '');
  run('setcap', ['cap_net_raw,cap_net_bind_service+ep', join(d, 'a')]);
  const caps = fs.getXattr(join(d, 'a'), 'security.capability');
  assert.ok(caps && caps.length >= 20, 'struct vfs_cap_data');
  fs.setXattr(join(d, 'b'), 'security.capability', caps!);
  const show = (p: string) => run('getcap', [p]).split(/\s+/).slice(1).join(' ');
  assert.equal(show(join(d, 'b')), show(join(d, 'a')));
  assert.match(show(join(d, 'b')), /cap_net_bind_service,cap_net_raw=ep/);
});

/** Runs `f` with an fd for directory `d`, closed afterwards. */
const inDir = <T>(d: string, f: (dfd: number) => T): T => withFd(d, f);

test('chattr flags vs lsattr and chattr(1), and their feature-flag mapping', (t) => {
  const fs = adapter(t);
  const ext4 = mounted('ext4');
  if (!fs || !requires(t, ext4 !== null, MOUNTS_NEED)) return;
  if (!requires(t, has('lsattr') && has('chattr'), 'lsattr/chattr (e2fsprogs)')) return;
  const d = scratch(ext4!);
  const f = join(d, 'f');
  writeFileSync(f, 'x');
  const attrs = (p: string) => run('lsattr', ['-d', p]).split(/\s+/)[0];
  try {
    withFd(f, (fd) => {
      const before = fs.getChattrFlags(fd)!;
      assert.equal(before & FS_EXTENT_FL, FS_EXTENT_FL, 'ext4 files carry extents');
      fs.setChattrFlags(fd, FS_NOATIME_FL | FS_NODUMP_FL | FS_IMMUTABLE_FL);
      assert.equal(attrs(f), '----i-dA------e-------');
      const now = fs.getChattrFlags(fd)!;
      assert.equal(now, before | FS_NOATIME_FL | FS_NODUMP_FL | FS_IMMUTABLE_FL, 'extents flag kept');
      assert.equal(chattrToFeatureFlags(now), 0x20000n | 0x100000n | 0x400000n);
      assert.throws(() => writeFileSync(f, 'y'), errCode('EPERM'));
      // Only the masked bits change.
      fs.setChattrFlags(fd, 0, FS_IMMUTABLE_FL);
      assert.equal(attrs(f), '------dA------e-------');
      fs.setChattrFlags(fd, 0);
      assert.equal(fs.getChattrFlags(fd), before);
    });
    run('chattr', ['+a', f]);
    assert.equal(withFd(f, (fd) => fs.getChattrFlags(fd)! & FS_APPEND_FL), FS_APPEND_FL);
    run('chattr', ['-a', f]);
    // A directory.
    withFd(d, (fd) => {
      fs.setChattrFlags(fd, FS_NOATIME_FL);
      assert.equal(attrs(d)[7], 'A');
      assert.equal(chattrToFeatureFlags(fs.getChattrFlags(fd)!), 0x20000n);
    });
  } finally {
    spawnSync('chattr', ['-i', '-a', f]);
  }
});

test('chattr and FAT attributes map to feature flags and back (pure)', () => {
  const chattr: Array<[number, bigint]> = [
    [0x20, 0x10000n], [0x80, 0x20000n], [0x4, 0x40000n], [0x800000, 0x80000n], [0x40, 0x100000n],
    [0x10000, 0x200000n], [0x10, 0x400000n], [0x8, 0x800000n], [0x400, 0x1000000n], [0x20000000, 0x2000000n],
  ];
  for (const [fl, f] of chattr) {
    assert.equal(chattrToFeatureFlags(fl), f);
    assert.equal(featureFlagsToChattr(f), fl);
  }
  assert.equal(chattrToFeatureFlags(0x80000 | 0x1 | 0x2), 0n, "ext4's e, s and u have no casync bit");
  assert.equal(chattrToFeatureFlags(CHATTR_KNOWN), 0x3ff0000n);
  assert.equal(featureFlagsToChattr(0xb0000001ffeffe26n), CHATTR_KNOWN & ~FS_NODUMP_FL);
  const fat: Array<[number, bigint]> = [[ATTR_HIDDEN, 0x2000n], [ATTR_SYS, 0x4000n], [ATTR_ARCH, 0x8000n]];
  for (const [a, f] of fat) {
    assert.equal(fatToFeatureFlags(a), f);
    assert.equal(featureFlagsToFat(f), a);
  }
  assert.equal(fatToFeatureFlags(0x1 | 0x8 | 0x10), 0n, 'read-only, volume and directory are not flags');
  assert.equal(featureFlagsToFat(0xffffffffn), ATTR_HIDDEN | ATTR_SYS | ATTR_ARCH);
  assert.equal(subvolumeToFeatureFlags({ subvolume: true, readOnly: true }), 0xc000000n);
  assert.equal(subvolumeToFeatureFlags({ subvolume: false, readOnly: false }), 0n);
});

test('attribute reads are null where the file system has none; writes of nothing succeed', (t) => {
  const fs = adapter(t);
  if (!fs) return;
  withFd('/proc/self/status', (fd) => {
    assert.equal(fs.getChattrFlags(fd), null);
    assert.equal(fs.getFatAttributes(fd), null);
    assert.equal(fs.fileSystemType(fd), FS_MAGIC.PROC);
    fs.setChattrFlags(fd, 0);
    fs.setFatAttributes(fd, 0);
  });
  const d = scratch();
  writeFileSync(join(d, 'f'), '');
  withFd(join(d, 'f'), (fd) => {
    assert.equal(fs.getFatAttributes(fd), null, 'FAT attributes only on vfat and FUSE');
    assert.throws(() => fs.setFatAttributes(fd, ATTR_HIDDEN), errCode('ENOTSUP', 'ioctl'));
  });
});

test('project ids: XFS round-trip; ext4 without the project feature refuses a non-zero id', (t) => {
  const fs = adapter(t);
  if (!fs) return;
  const ext4 = mounted('ext4');
  if (ext4) {
    writeFileSync(join(ext4, 'p'), '');
    withFd(join(ext4, 'p'), (fd) => {
      assert.equal(fs.getProjectId(fd), 0);
      fs.setProjectId(fd, 0);
      assert.throws(() => fs.setProjectId(fd, 42), errCode('ENOTSUP', 'ioctl'));
    });
  }
  const xfs = mounted('xfs');
  if (!requires(t, xfs !== null, 'root, mkfs.xfs (xfsprogs) and loop mounts')) return;
  const f = join(scratch(xfs!), 'f');
  writeFileSync(f, '');
  withFd(f, (fd) => {
    assert.equal(fs.getProjectId(fd), 0);
    fs.setProjectId(fd, 42);
    assert.equal(fs.getProjectId(fd), 42);
  });
  if (has('lsattr')) assert.match(run('lsattr', ['-p', f]), /^\s*42 /);
});

test('fileSystemType and mountId tell file systems and mounts apart', (t) => {
  const fs = adapter(t);
  if (!fs) return;
  const fdinfo = (fd: number) => Number(/^mnt_id:\s*(\d+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]);
  withFd('/proc', (fd) => assert.equal(fs.fileSystemType(fd), FS_MAGIC.PROC));
  withFd(base, (fd) => {
    assert.equal(fs.mountId(fd), fdinfo(fd));
    assert.equal(fs.statFd(fd).mountId, fs.mountId(fd));
  });
  const ext4 = mounted('ext4');
  if (!requires(t, ext4 !== null, MOUNTS_NEED)) return;
  withFd(ext4!, (fd) => {
    assert.equal(fs.fileSystemType(fd), FS_MAGIC.EXT4);
    assert.equal(fs.mountId(fd), fdinfo(fd));
    assert.notEqual(fs.mountId(fd), withFd(base, (b) => fs.mountId(b)));
    inDir(base, (b) => assert.equal(fs.statAt(b, 'ext4')!.mountId, fs.mountId(fd)));
  });
  const xfs = mounted('xfs');
  if (xfs) withFd(xfs, (fd) => assert.equal(fs.fileSystemType(fd), FS_MAGIC.XFS));
});

test('isBtrfsSubvolume recognises subvolumes and read-only snapshots', (t) => {
  const fs = adapter(t);
  if (!fs) return;
  withFd(base, (fd) => assert.deepEqual(fs.isBtrfsSubvolume(fd), { subvolume: false, readOnly: false }));
  const root = mounted('btrfs');
  if (!requires(t, root !== null && has('btrfs'), 'root, btrfs-progs and loop mounts')) return;
  const d = scratch(root!);
  run('btrfs', ['-q', 'subvolume', 'create', join(d, 'vol')]);
  mkdirSync(join(d, 'vol', 'plain'));
  run('btrfs', ['-q', 'subvolume', 'snapshot', '-r', join(d, 'vol'), join(d, 'snap')]);
  withFd(root!, (fd) => assert.deepEqual(fs.isBtrfsSubvolume(fd), { subvolume: true, readOnly: false }));
  withFd(join(d, 'vol'), (fd) => assert.deepEqual(fs.isBtrfsSubvolume(fd), { subvolume: true, readOnly: false }));
  withFd(join(d, 'snap'), (fd) => assert.deepEqual(fs.isBtrfsSubvolume(fd), { subvolume: true, readOnly: true }));
  withFd(join(d, 'vol', 'plain'), (fd) => assert.deepEqual(fs.isBtrfsSubvolume(fd), { subvolume: false, readOnly: false }));
  withFd(d, (fd) => assert.equal(fs.fileSystemType(fd), FS_MAGIC.BTRFS));
});

test('user and group names through NSS', (t) => {
  const fs = adapter(t);
  if (!fs) return;
  assert.equal(fs.userName(0), 'root');
  assert.equal(fs.groupName(0), 'root');
  assert.equal(fs.userName(1), 'daemon', 'Debian: uid 1 is daemon');
  assert.equal(fs.groupName(1), 'daemon');
  assert.equal(fs.userId('root'), 0);
  assert.equal(fs.userId('daemon'), 1);
  assert.equal(fs.groupId('bin'), 2);
  assert.equal(fs.userName(3999999999), null);
  assert.equal(fs.groupName(0xffffffff), null);
  assert.equal(fs.userId('no-such-user-here'), null);
  assert.equal(fs.groupId(''), null);
  assert.equal(fs.userName(1), 'daemon', 'cached answer');
});
