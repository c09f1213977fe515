// The Linux adapter's POSIX ACL conversion (src/platform/node/linux/acl.ts):
// kernel xattr values to casync's records and back, checked against setfacl and
// getfacl on a loop-mounted ext4, and the conversion rules on their own.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  POSIX_ACL_XATTR_ACCESS, POSIX_ACL_XATTR_DEFAULT, aclFromXattrs, aclToXattrs,
} from '../src/platform/node/linux/index.ts';
import { requires } from './helpers.ts';
import { MOUNTS_NEED, adapter, has, mounted, run, scratch } from './linux-fixtures.ts';

test('ACL xattrs convert to casync records and back, as getfacl sees them', (t) => {
  const fs = adapter(t);
  const ext4 = mounted('ext4');
  if (!fs || !requires(t, ext4 !== null, MOUNTS_NEED)) return;
  if (!requires(t, has('setfacl') && has('getfacl'), 'setfacl/getfacl (Debian package acl)')) return;
  const d = scratch(ext4!);
  const a = join(d, 'a');
  writeFileSync(a, '');
  run('setfacl', ['-m', 'u::rw-,u:daemon:rwx,u:2:r--,g::r--,g:bin:r-x,m::rwx,o::---', a]);
  const mode = lstatSync(a).mode;
  assert.equal(mode & 0o777, 0o670, 'stat reports the mask as group bits');
  const acl = aclFromXattrs(fs.getXattr(a, POSIX_ACL_XATTR_ACCESS), null, fs);
  assert.deepEqual(acl, {
    user: [{ id: 1, name: 'daemon', perm: 7 }, { id: 2, name: 'bin', perm: 4 }],
    group: [{ id: 2, name: 'bin', perm: 5 }],
    groupObj: 4,
    default: null,
  });
  const b = join(d, 'b');
  writeFileSync(b, '');
  const x = aclToXattrs(mode, acl, fs);
  assert.equal(x.default, null);
  assert.equal(x.required, true);
  fs.setXattr(b, POSIX_ACL_XATTR_ACCESS, x.access);
  const show = (p: string) => run('getfacl', ['-n', '-p', '--omit-header', p]);
  assert.equal(show(b), show(a));
  assert.deepEqual(fs.getXattr(b, POSIX_ACL_XATTR_ACCESS), fs.getXattr(a, POSIX_ACL_XATTR_ACCESS));
  assert.equal(lstatSync(b).mode, mode);

  // A directory with a default ACL; restoring over a directory with another one.
  const src = join(d, 'src');
  mkdirSync(src, 0o750);
  run('setfacl', ['-d', '-m', 'u::rwx,u:daemon:r-x,g::r-x,m::r-x,o::---', src]);
  const dAcl = aclFromXattrs(fs.getXattr(src, POSIX_ACL_XATTR_ACCESS), fs.getXattr(src, POSIX_ACL_XATTR_DEFAULT), fs);
  assert.deepEqual(dAcl, {
    user: [],
    group: [],
    groupObj: null,
    default: { userObj: 7, groupObj: 5, other: 0, mask: 5, user: [{ id: 1, name: 'daemon', perm: 5 }], group: [] },
  });
  const dst = join(d, 'dst');
  mkdirSync(dst);
  const dx = aclToXattrs(lstatSync(src).mode, dAcl, fs);
  fs.setXattr(dst, POSIX_ACL_XATTR_ACCESS, dx.access);
  fs.setXattr(dst, POSIX_ACL_XATTR_DEFAULT, dx.default!);
  assert.equal(show(dst), show(src));
  // An archived directory without ACLs: its header-only default value removes the one there.
  const none = aclToXattrs(0o40755, null, fs);
  assert.equal(none.default!.length, 4);
  assert.equal(none.required, false);
  fs.setXattr(dst, POSIX_ACL_XATTR_ACCESS, none.access);
  fs.setXattr(dst, POSIX_ACL_XATTR_DEFAULT, none.default!);
  assert.equal(fs.getXattr(dst, POSIX_ACL_XATTR_DEFAULT), null);
  assert.equal(fs.getXattr(dst, POSIX_ACL_XATTR_ACCESS), null, 'a minimal ACL is just the mode');
  assert.equal(lstatSync(dst).mode & 0o7777, 0o755);
});

test('ACL conversion rules (pure)', () => {
  const names = { userName: (u: number) => (u === 7 ? 'lp' : null), groupName: () => null };
  const ids = { userId: (n: string) => (n === 'lp' ? 70 : null), groupId: () => null };
  // Minimal ACLs add nothing to the mode.
  assert.equal(aclFromXattrs(aclToXattrs(0o100640, null).access, null, names), null);
  assert.equal(aclFromXattrs(null, null), null);
  // Owner and others come from the mode; with GROUP_OBJ recorded, the mode's group bits are the mask.
  const acl = { user: [{ id: 7, name: 'lp', perm: 6 }], group: [], groupObj: 1, default: null };
  const x = aclToXattrs(0o100750, acl, ids);
  assert.deepEqual(
    [...x.access],
    [2, 0, 0, 0, 1, 0, 7, 0, 255, 255, 255, 255, 2, 0, 6, 0, 70, 0, 0, 0, 4, 0, 1, 0, 255, 255, 255, 255,
      16, 0, 5, 0, 255, 255, 255, 255, 32, 0, 0, 0, 255, 255, 255, 255],
  );
  assert.equal(x.default, null, 'files get no default ACL');
  // Reading back: id 70 has no name here; id 0 is never named.
  assert.deepEqual(aclFromXattrs(x.access, null, names)!.user, [{ id: 70, name: null, perm: 6 }]);
  // Decimal names are ids; unknown names fail unless told to use the archived id.
  const named = (name: string) => ({ ...acl, user: [{ id: 9, name, perm: 4 }] });
  assert.equal(aclFromXattrs(aclToXattrs(0o100750, named('123'), ids).access, null)!.user[0].id, 123);
  assert.throws(() => aclToXattrs(0o100750, named('nobody-here'), ids), /ESRCH/);
  const kept = aclToXattrs(0o100750, named('nobody-here'), ids, { unknownNames: 'use-id' });
  assert.equal(aclFromXattrs(kept.access, null)!.user[0].id, 9);
  // Named entries need the mask; sorting is casync's (id, unnamed first, name, perm).
  assert.throws(() => aclToXattrs(0o100750, { ...acl, groupObj: null }), /EINVAL/);
  const many = aclFromXattrs(aclToXattrs(0o100770, {
    user: [{ id: 9, name: null, perm: 1 }, { id: 3, name: null, perm: 2 }], group: [], groupObj: 0, default: null,
  }).access, null);
  assert.deepEqual(many!.user.map((e) => e.id), [3, 9]);
  assert.throws(() => aclFromXattrs(Buffer.from([1, 0, 0, 0]), null), /EBADMSG/);
});
