// Attaching a FUSE connection to a mount point and detaching it again, with the
// util-linux tools rather than a setuid helper or a native addon:
//
//   mount -i -t fuse.wasync -o ro,nosuid,nodev,fd=3,rootmode=40000,user_id=…,
//         group_id=…,default_permissions,allow_other SOURCE MOUNTPOINT
//
// with the /dev/fuse descriptor handed to the child as its fd 3 (the kernel looks
// the number up in the caller of mount(2)).  -i skips /sbin/mount.fuse*; the
// "fuse.wasync" type gives the subtype /proc/mounts shows.  default_permissions
// has the kernel check modes (and ACLs) itself; nosuid and nodev keep an archive's
// setuid files and device nodes visible in stat() but harmless.
//
// Every tool runs as an asynchronous child: the serving process must never touch
// its own mount point synchronously (its event loop answers the kernel, so a
// stat() from this thread would wait for itself).  Mounting needs root.

import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { WasyncError } from '../../../errors.ts';

export interface FuseMountOptions {
  /** shown as the file system's source in /proc/mounts */
  source: string;
  /** an absolute path, resolved before mounting */
  mountpoint: string;
  /** S_IFDIR, or S_IFREG to mount a single file onto a file */
  rootMode: number;
  /** the kernel refuses to execute files from it */
  noexec?: boolean;
}

interface ToolRun {
  status: number | null;
  stderr: string;
}

function tool(cmd: string, args: string[], fd?: number): Promise<ToolRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe', ...(fd === undefined ? [] : [fd])] });
    let stderr = '';
    child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stderr: stderr.trim().replace(/\s*\n\s*/g, '; ') }));
  });
}

/** Mounts the connection on `fd` (which the kernel must already be able to serve). */
export async function fuseMount(fd: number, o: FuseMountOptions): Promise<void> {
  const options = [
    'ro', 'nosuid', 'nodev',
    ...(o.noexec ? ['noexec'] : []),
    'fd=3',
    `rootmode=${o.rootMode.toString(8)}`,
    `user_id=${process.getuid?.() ?? 0}`,
    `group_id=${process.getgid?.() ?? 0}`,
    'default_permissions',
    'allow_other',
  ].join(',');
  let r: ToolRun;
  try {
    r = await tool('mount', ['-i', '-t', 'fuse.wasync', '-o', options, o.source, o.mountpoint], fd);
  } catch (e) {
    throw new WasyncError('EUNSUPPORTED', `${o.mountpoint}: cannot run mount(8): ${(e as Error).message}`);
  }
  if (r.status !== 0) {
    const hint = process.getuid?.() !== 0 ? ' (mounting needs root)' : '';
    throw new WasyncError('EOUTPUT', `${o.mountpoint}: mount failed: ${r.stderr || `mount exited with ${r.status}`}${hint}`);
  }
}

/**
 * Unmounts; when the mount is busy (a process has a file open or its working
 * directory there) it is detached instead, and the connection ends when this
 * process closes /dev/fuse.
 */
export async function fuseUnmount(mountpoint: string): Promise<'unmounted' | 'detached'> {
  const r = await tool('umount', [mountpoint]);
  if (r.status === 0) return 'unmounted';
  const lazy = await tool('umount', ['-l', mountpoint]);
  if (lazy.status === 0) return 'detached';
  throw new WasyncError('EOUTPUT', `${mountpoint}: cannot unmount: ${lazy.stderr || r.stderr}`);
}

/**
 * Detaches a dead FUSE mount left on `mountpoint` by a server that died (its
 * stat fails with ENOTCONN).  True if there was one.
 */
export async function cleanStaleMount(mountpoint: string): Promise<boolean> {
  try {
    await stat(mountpoint);
    return false;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOTCONN') return false;
  }
  await fuseUnmount(mountpoint);
  return true;
}
