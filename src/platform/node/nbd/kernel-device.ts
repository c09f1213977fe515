// Attaching an NBD export to a kernel block device (/dev/nbdN) through the nbd
// driver's ioctl interface, as casync's mkdev does.  The server end of a Unix
// socketpair stays in this process (served by an NbdSession that skips the
// handshake: the kernel starts in the transmission phase and reads simple
// replies); the other end is handed to the kernel:
//
//   open /dev/nbdN (O_RDWR|O_NONBLOCK); NBD_SET_SOCK(fd of our peer socket)
//     (EBUSY or EINVAL: the device is in use, try the next one, as casync does)
//   NBD_SET_BLKSIZE(4096, or 512 when the size is not a multiple of 4096)
//   NBD_SET_SIZE(bytes, a multiple of 512), NBD_SET_FLAGS(HAS_FLAGS|READ_ONLY),
//   BLKROSET(1)
//   NBD_DO_IT on a thread of its own with every signal blocked (a signal there
//     would make the driver tear the device down): it returns only when the
//     device is disconnected, and meanwhile the kernel sends its requests down
//     the socket to this thread's event loop; the device counts as attached
//     once /sys/block/nbdN/size is no longer 0
//   detach: NBD_DISCONNECT (off this thread too: the kernel writes NBD_CMD_DISC
//     into the socket, which must not block the thread that reads it), wait for
//     NBD_DO_IT to return (if it does not, close our end of the socket, which
//     ends the kernel's receiver, and NBD_CLEAR_SOCK), close everything, remove
//     the symlink.
//
// Every ioctl that does not block runs on this thread, so the driver sees one
// task setting the device up (it refuses NBD_SET_SOCK from a second task).
// Where the kernel has no nbd driver (no /dev/nbd*, not in /proc/devices and
// `modprobe nbd` unavailable or failing) kernelNbdDevices() says why, and mkdev
// suggests --listen instead.

import { closeSync, existsSync, fstatSync, lstatSync, openSync, readdirSync, readFileSync, symlinkSync, unlinkSync, constants } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { Socket } from 'node:net';
import { WasyncError, unsupported, usageError } from '../../../errors.ts';
import { NBD_FLAG_HAS_FLAGS, NBD_FLAG_READ_ONLY } from '../../../protocol/nbd-protocol.ts';
import { errnoCode, libcUnavailable, loadLibc, type Libc } from '../linux/libc.ts';
import { koffiBackend } from '../linux/libc-koffi.ts';

// <linux/nbd.h>: _IO(0xab, n); <linux/fs.h>: BLKROSET = _IO(0x12, 93).
export const NBD_SET_SOCK = 0xab00;
export const NBD_SET_BLKSIZE = 0xab01;
export const NBD_SET_SIZE = 0xab02;
export const NBD_DO_IT = 0xab03;
export const NBD_CLEAR_SOCK = 0xab04;
export const NBD_DISCONNECT = 0xab08;
export const NBD_SET_FLAGS = 0xab0a;
export const BLKROSET = 0x125d;
const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;
const EBUSY = 16;
const EINVAL = 22;

const NBD_NAME = /^nbd(\d+)$/;

function listDevices(): string[] {
  let names: string[];
  try {
    names = readdirSync('/dev');
  } catch {
    return [];
  }
  return names
    .filter((n) => NBD_NAME.test(n))
    .sort((a, b) => Number(NBD_NAME.exec(a)![1]) - Number(NBD_NAME.exec(b)![1]))
    .map((n) => `/dev/${n}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Whether p settles within ms (the timer does not outlive it). */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)));
  try {
    return await Promise.race([p.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The /dev/nbdN devices, loading the driver if it is a module; or why there are none. */
export async function kernelNbdDevices(): Promise<{ devices: string[] } | { why: string }> {
  let devices = listDevices();
  if (devices.length) return { devices };
  let why = '/dev/nbd0 does not exist';
  let loaded = existsSync('/sys/module/nbd') || /^\s*\d+\s+nbd$/m.test(readText('/proc/devices'));
  if (!loaded) {
    const r = spawnSync('modprobe', ['nbd'], { encoding: 'utf8' });
    if (r.error) why += ' and modprobe is not installed';
    else if (r.status !== 0) why += ` and "modprobe nbd" failed (${(r.stderr || `exit ${r.status}`).trim().split('\n')[0]})`;
    else loaded = true;
  }
  if (loaded) why += ' although the nbd driver is loaded';
  // devtmpfs creates the nodes shortly after the driver registers them.
  for (let i = 0; loaded && i < 40 && !devices.length; i++) {
    await sleep(50);
    devices = listDevices();
  }
  return devices.length ? { devices } : { why: `no kernel NBD driver here: ${why}` };
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function needLibc(): Libc {
  const libc = loadLibc([koffiBackend]);
  if (!libc) throw unsupported(`cannot reach the kernel's NBD ioctls: ${libcUnavailable()}`);
  return libc;
}

const failure = (libc: Libc, what: string, errno: number) =>
  new WasyncError('EOUTPUT', `${what}: ${errnoCode(errno)} ${libc.strerror(errno)}`);

/** A connected pair of Unix stream sockets (close-on-exec), as file descriptors. */
export function socketPair(libc: Libc = needLibc()): [number, number] {
  const sv = new Int32Array(2);
  if (libc.socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, new Uint8Array(sv.buffer)) < 0) {
    throw failure(libc, 'socketpair(AF_UNIX)', libc.errno());
  }
  return [sv[0], sv[1]];
}

export interface KernelAttachOptions {
  /** bytes, a positive multiple of 512 */
  size: number;
  /** the candidates from kernelNbdDevices() */
  devices: string[];
  /** a /dev/nbdN to use, or the path of a symlink to create to the device picked */
  node?: string;
  /** serves our end of the socketpair (an NbdSession without handshake) */
  serve(socket: Socket, device: string): void;
}

export interface KernelAttachment {
  device: string;
  /** the symlink created, if any */
  link: string | null;
  /** settles when NBD_DO_IT returns (the device was disconnected), with why if it failed */
  released: Promise<string | null>;
  /** disconnects the device and releases everything (idempotent) */
  detach(): Promise<void>;
}

/** Connects a free /dev/nbdN (or the one given) to a socketpair served in this process. */
export async function attachKernelNbd(o: KernelAttachOptions): Promise<KernelAttachment> {
  if (!(o.size > 0) || o.size % 512) throw usageError(`cannot attach ${o.size} bytes: the size must be a positive multiple of 512`);
  const explicit = o.node !== undefined && /^\/dev\/nbd\d+$/.test(o.node) ? o.node : null;
  const link = o.node !== undefined && explicit === null ? o.node : null;
  if (link !== null && lstatSync(link, { throwIfNoEntry: false })) throw usageError(`${link}: already exists; refusing to replace it with a symlink to the device`);
  const libc = needLibc();
  const [ours, theirs] = socketPair(libc);
  let fd = -1;
  let device = '';
  const closeAll = () => {
    if (fd >= 0) closeSync(fd);
    libc.close(ours);
    libc.close(theirs);
  };
  try {
    for (const path of explicit ? [explicit] : o.devices) {
      fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK | constants.O_NOCTTY);
      if (!fstatSync(fd).isBlockDevice()) throw usageError(`${path}: not a block device`);
      if (libc.ioctlValue(fd, NBD_SET_SOCK, theirs) >= 0) {
        device = path;
        break;
      }
      const errno = libc.errno();
      closeSync(fd);
      fd = -1;
      if (explicit || (errno !== EBUSY && errno !== EINVAL)) throw failure(libc, `NBD_SET_SOCK on ${path}`, errno);
    }
    if (!device) {
      const tried = o.devices.length === 1 ? o.devices[0] : `${o.devices[0]} to ${o.devices[o.devices.length - 1]}`;
      throw new WasyncError('EOUTPUT', `every NBD device is in use (${tried}); free one (nbd-client -d) or use --listen`);
    }
    const blockSize = o.size % 4096 === 0 ? 4096 : 512;
    const set = (request: number, arg: number, what: string) => {
      if (libc.ioctlValue(fd, request, arg) < 0) throw failure(libc, `${what} on ${device}`, libc.errno());
    };
    set(NBD_SET_BLKSIZE, blockSize, `NBD_SET_BLKSIZE(${blockSize})`);
    set(NBD_SET_SIZE, o.size, `NBD_SET_SIZE(${o.size})`);
    set(NBD_SET_FLAGS, NBD_FLAG_HAS_FLAGS | NBD_FLAG_READ_ONLY, 'NBD_SET_FLAGS');
    if (libc.ioctl(fd, BLKROSET, new Uint8Array(new Int32Array([1]).buffer)) < 0) throw failure(libc, `BLKROSET on ${device}`, libc.errno());
  } catch (e) {
    if (device) libc.ioctlValue(fd, NBD_CLEAR_SOCK, 0);
    closeAll();
    if (e instanceof WasyncError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const hint = code === 'EACCES' || code === 'EPERM' ? ' (attaching a device needs root; --listen does not)' : '';
    throw new WasyncError('EOUTPUT', `${(e as Error).message}${hint}`, { cause: e });
  }

  // Node owns our end from here on (and closes it with the socket).
  const socket = new Socket({ fd: ours, readable: true, writable: true });
  o.serve(socket, device);
  let disconnecting = false;
  let returned = false;
  const released = libc.ioctlValueBlocking(fd, NBD_DO_IT, 0).then(
    ({ result, errno }) => (result < 0 && !disconnecting ? `NBD_DO_IT on ${device}: ${errnoCode(errno)} ${libc.strerror(errno)}` : null),
    (e: Error) => `NBD_DO_IT on ${device}: ${e.message}`,
  );
  void released.then(() => (returned = true));
  let linked: string | null = null;
  let detached: Promise<void> | null = null;
  const detach = () =>
    (detached ??= (async () => {
      disconnecting = true;
      let problem: string | null = null;
      if (!returned) {
        const r = await libc.ioctlValueBlocking(fd, NBD_DISCONNECT, 0);
        if (r.result < 0) problem = `NBD_DISCONNECT on ${device}: ${errnoCode(r.errno)} ${libc.strerror(r.errno)}`;
        if (!(await within(released, 10_000))) {
          socket.destroy();
          libc.ioctlValue(fd, NBD_CLEAR_SOCK, 0);
          if (!(await within(released, 5_000))) problem ??= `${device} is still attached: NBD_DO_IT did not return after NBD_DISCONNECT and NBD_CLEAR_SOCK`;
        }
      }
      libc.ioctlValue(fd, NBD_CLEAR_SOCK, 0);
      socket.destroy();
      closeSync(fd);
      libc.close(theirs);
      if (linked !== null) unlinkSync(linked);
      if (problem !== null) throw new WasyncError('EOUTPUT', problem);
    })());
  // The device has no size until NBD_DO_IT has started it: "Attached" must not
  // come earlier.
  const sysSize = `/sys/block/${device.slice('/dev/'.length)}/size`;
  for (let waited = 0; !returned && existsSync(sysSize) && !(Number(readText(sysSize).trim()) > 0); waited += 20) {
    if (waited >= 10_000) {
      await detach().catch(() => {});
      throw new WasyncError('EOUTPUT', `${device} did not come up within 10 s of NBD_DO_IT`);
    }
    await sleep(20);
  }
  if (returned) {
    const why = await released;
    await detach().catch(() => {});
    throw new WasyncError('EOUTPUT', why ?? `${device} was disconnected as soon as it was attached`);
  }
  if (link !== null) {
    try {
      symlinkSync(device, link);
      linked = link;
    } catch (e) {
      await detach();
      throw new WasyncError('EOUTPUT', `${link}: cannot create the symlink to ${device}: ${(e as Error).message}`);
    }
  }
  return { device, link: linked, released, detach };
}
