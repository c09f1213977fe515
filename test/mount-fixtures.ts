// Fixtures for the FUSE mount tests: `wasync mount` as a child process (ready
// when it prints "Mounted:"), a tree with the metadata a mount must show, and a
// snapshot of a tree (every node's type, mode, owner, mtime in ns, size,
// content digest, symlink target, device numbers and xattrs) for comparing a
// mount with an extraction.  Mounts left behind by a failed test are stopped and
// unmounted after the file.

import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after } from 'node:test';
import { linuxFs } from '../src/platform/node/linux/index.ts';
import { WASYNC, rand } from './helpers.ts';

export const haveFuse = (() => {
  try {
    return lstatSync('/dev/fuse').isCharacterDevice() && spawnSync('mount', ['--version']).status === 0;
  } catch {
    return false;
  }
})();

/** Whether `path` is a mount point now. */
export function isMounted(path: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === path);
}

export interface Mounted {
  child: ChildProcess;
  mountpoint: string;
  stderr(): string;
  /** sends `signal` and waits for the exit (a dead mount stays until the file ends) */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const live = new Set<Mounted>();
const used = new Set<string>();
after(async () => {
  for (const m of live) await m.stop('SIGTERM');
  // A server killed on purpose leaves a dead mount behind.
  for (const path of used) if (isMounted(path)) spawnSync('umount', ['-l', path]);
});

/** Runs `wasync mount ARGS… INPUT MOUNTPOINT` and waits until it is mounted. */
export function startMount(args: string[], mountpoint: string, env: NodeJS.ProcessEnv = {}): Promise<Mounted> {
  const child = spawn(process.execPath, [WASYNC, 'mount', ...args, mountpoint], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once('exit', (code, signal) => r({ code, signal })),
  );
  const m: Mounted = {
    child,
    mountpoint,
    stderr: () => err,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const r = await exited;
      live.delete(m);
      return r;
    },
  };
  live.add(m);
  used.add(mountpoint);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`wasync mount not ready after 30 s: ${err}`)), 30_000);
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('Mounted: ')) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    exited.then(({ code }) => {
      clearTimeout(timer);
      live.delete(m);
      reject(new Error(`wasync mount exited (${code}) before mounting: ${err}`));
    });
  });
}

/**
 * A tree with what a mount must show: files of several sizes (one spanning many
 * chunks), unusual modes, several owners, ns and pre-1970 mtimes, symlinks, a
 * FIFO, a device, user and trusted xattrs, access and default ACLs, file
 * capabilities, odd names and a directory of 300 entries.
 */
export function metadataTree(dest: string, { acl = true, fcaps = true, pre1970 = true } = {}) {
  const p = (...parts: string[]) => join(dest, ...parts);
  mkdirSync(p('dir', 'nested', 'deeper'), { recursive: true });
  writeFileSync(p('empty'), '');
  writeFileSync(p('small.txt'), 'hello, mount\n');
  writeFileSync(p('random.bin'), rand('mount-random', 900_000));
  writeFileSync(p('dir', 'nested', 'deeper', 'leaf'), 'leaf\n');
  writeFileSync(p('\u00fcn\u00efc\u00f6d\u00e9 name'), 'unicode\n');
  writeFileSync(p('n'.repeat(200)), 'long name\n');
  mkdirSync(p('wide'));
  for (let i = 0; i < 300; i++) writeFileSync(p('wide', `entry-${String(i).padStart(3, '0')}`), `${i}\n`);
  for (const [name, mode] of [['setuid', 0o4755], ['group-only', 0o2750], ['private', 0o600]] as const) {
    writeFileSync(p(name), `${name}\n`);
    chmodSync(p(name), mode);
  }
  mkdirSync(p('sticky'));
  chmodSync(p('sticky'), 0o1777);
  writeFileSync(p('owned'), 'owned\n');
  chownSync(p('owned'), 2000, 2001);
  symlinkSync('small.txt', p('link'));
  symlinkSync('no/such/target', p('dangling'));
  execFileSync('mkfifo', [p('fifo')]);
  execFileSync('mknod', [p('null'), 'c', '1', '3']);
  const linux = linuxFs()!;
  linux.setXattr(p('small.txt'), 'user.comment', Buffer.from('a comment'));
  linux.setXattr(p('small.txt'), 'user.binary', Buffer.from([0, 1, 2, 255]));
  linux.setXattr(p('dir'), 'trusted.mark', Buffer.from('t'));
  if (acl) {
    execFileSync('setfacl', ['-m', 'u:1234:rx,g:4321:r', p('random.bin')]);
    execFileSync('setfacl', ['-d', '-m', 'u::rwx,g::rx,o::-,g:77:rwx', p('dir')]);
  }
  if (fcaps) execFileSync('setcap', ['cap_net_raw+ep', p('setuid')]);
  execFileSync('touch', ['-h', '-d', '@1600000000.123456789', p('small.txt')]);
  // casync 2 cannot extract a time before 1970 (utimes() would take it as "now").
  if (pre1970) execFileSync('touch', ['-h', '-d', '@-86400.25', p('owned')]);
  utimesSync(p('dir', 'nested'), 1_234_567_890.5, 1_234_567_890.5);
}

export interface NodeSnapshot {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  mtimeNs: bigint;
  size?: number;
  sha?: string;
  target?: string;
  rdev?: number;
  xattrs: string[];
}

/** Every node below `root` (and root itself, as ""), keyed by relative path. */
export function snapshot(root: string): Map<string, NodeSnapshot> {
  const linux = linuxFs()!;
  const out = new Map<string, NodeSnapshot>();
  const walk = (rel: string) => {
    const abs = rel ? join(root, rel) : root;
    const st = lstatSync(abs, { bigint: true });
    const xattrs = linux
      .listXattrs(abs)
      .map((n) => `${n.toString('latin1')}=${linux.getXattr(abs, n)?.toString('hex')}`)
      .sort();
    const s: NodeSnapshot = {
      type: st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : st.isFIFO() ? 'fifo' : st.isCharacterDevice() ? 'chr' : st.isBlockDevice() ? 'blk' : 'socket',
      mode: Number(st.mode),
      uid: Number(st.uid),
      gid: Number(st.gid),
      mtimeNs: st.mtimeNs,
      xattrs,
    };
    if (st.isFile()) {
      s.size = Number(st.size);
      s.sha = createHash('sha256').update(readFileSync(abs)).digest('hex');
    } else if (st.isSymbolicLink()) s.target = readlinkSync(abs);
    else if (st.isCharacterDevice() || st.isBlockDevice()) s.rdev = Number(st.rdev);
    out.set(rel, s);
    if (st.isDirectory()) for (const name of readdirSync(abs).sort()) walk(rel ? join(rel, name) : name);
  };
  walk('');
  return out;
}
