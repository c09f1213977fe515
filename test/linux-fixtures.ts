// Fixtures for the Linux adapter tests: the adapter itself, a temporary directory
// per test file, and ext4, XFS and btrfs images loop-mounted under it (as root),
// because tmpfs and the host file system may lack ACLs, chattr flags, trusted.*
// xattrs, project ids, reflinks or subvolumes.  Everything is unmounted and
// removed after the file, immutable flags cleared first.

import { after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { linuxFs, linuxFsUnavailable, type LinuxFs } from '../src/platform/node/linux/index.ts';
import { isRoot, requires } from './helpers.ts';

const maybeFs = linuxFs();

/** The adapter, or null after skipping (failing under CI) with the reason it is missing. */
export function adapter(t: TestContext): LinuxFs | null {
  return requires(t, maybeFs !== null, `the Linux adapter (${linuxFsUnavailable()})`) ? maybeFs : null;
}

export const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const canMount = isRoot && has('mount') && has('losetup');

/** Runs a tool in the C locale and UTC, returning stdout. */
export const run = (cmd: string, args: string[]) =>
  execFileSync(cmd, args, { encoding: 'utf8', env: { ...process.env, TZ: 'UTC', LC_ALL: 'C' } });

export const base = mkdtempSync(join(process.env.WASYNC_TEST_TMP ?? tmpdir(), 'wasync-linux-'));
const cleanups: Array<() => void> = [];
after(() => {
  for (const f of cleanups.reverse()) {
    try {
      f();
    } catch {
      // best effort: the rest must still run
    }
  }
  rmSync(base, { recursive: true, force: true });
});

let serial = 0;
/** A fresh directory under `root` (the temp dir unless a mount is given). */
export function scratch(root = base): string {
  const d = join(root, `t${serial++}`);
  mkdirSync(d);
  return d;
}

const SIZES = { ext4: '64M', xfs: '320M', btrfs: '160M' };
const mounts = new Map<string, string | null>();

/** A loop-mounted file system of `kind`, made once per test file; null where impossible. */
export function mounted(kind: 'ext4' | 'xfs' | 'btrfs'): string | null {
  if (mounts.has(kind)) return mounts.get(kind)!;
  let dir: string | null = null;
  if (canMount && has(`mkfs.${kind}`)) {
    const img = join(base, `${kind}.img`);
    const mnt = join(base, kind);
    mkdirSync(mnt);
    run('truncate', ['-s', SIZES[kind], img]);
    // 4 KiB blocks: a small ext4 defaults to 1 KiB, too little for the xattr tests; XFS with
    // reflinks whatever the xfsprogs default.
    const args = { ext4: ['-q', '-F', '-b', '4096', img], xfs: ['-q', '-m', 'reflink=1', img], btrfs: ['-q', img] };
    run(`mkfs.${kind}`, args[kind]);
    if (spawnSync('mount', ['-o', 'loop', img, mnt]).status === 0) {
      dir = mnt;
      cleanups.push(() => {
        spawnSync('chattr', ['-R', '-i', '-a', mnt]);
        if (spawnSync('umount', [mnt]).status !== 0) spawnSync('umount', ['-l', mnt]);
      });
    }
  }
  mounts.set(kind, dir);
  return dir;
}

export const MOUNTS_NEED = 'root, mkfs.ext4 and loop mounts';

/** Bytes of `path` in extents FIEMAP marks shared (filefrag -v), after its file system is synced. */
export function sharedBytes(path: string): number {
  execFileSync('sync', ['-f', path]);
  const ff = execFileSync('filefrag', ['-v', path], { encoding: 'utf8' });
  const block = Number(/blocks of (\d+) bytes/.exec(ff)?.[1]);
  let shared = 0;
  for (const m of ff.matchAll(/^\s*\d+:\s+(\d+)\.\.\s*(\d+):.*$/gm)) if (/\bshared\b/.test(m[0])) shared += (Number(m[2]) - Number(m[1]) + 1) * block;
  return shared;
}

/** Opens `path` (read-only unless told), runs `f`, closes. */
export function withFd<T>(path: string, f: (fd: number) => T, flags = 'r'): T {
  const fd = openSync(path, flags);
  try {
    return f(fd);
  } finally {
    closeSync(fd);
  }
}

/** An assert.throws validator for a Node-style error with this code (and syscall). */
export const errCode = (code: string, syscall?: string) => (e: NodeJS.ErrnoException) => {
  assert.equal(e.code, code, e.message);
  if (syscall) assert.equal(e.syscall, syscall);
  return true;
};
