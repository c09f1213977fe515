// The libc table of libc.ts on Node, through koffi (a prebuilt FFI: no compiler,
// no install script).  This is the only file that knows koffi's API.  koffi is
// required lazily (native-addons.ts) so that a missing or broken install makes
// linuxFs() return null with a reason instead of failing every module that
// imports the adapter.
//
// Every function is bound once, with fixed prototypes: koffi passes Buffers and
// typed arrays by reference (no copy), so the adapter's scratch buffers are read
// and written in place.  openat() and ioctl() are variadic in C; on the 64-bit
// Linux ABIs this adapter accepts, a variadic integer or pointer travels exactly
// like a fixed one, and the fixed form is about a third cheaper per call.

import { Worker } from 'node:worker_threads';
import type { Libc } from './libc.ts';
import { nativeAddons } from '../native-addons.ts';

type Koffi = typeof import('koffi');

export const koffiBackend = { name: 'koffi', load: loadKoffiLibc };

function loadKoffiLibc(): Libc {
  const koffi = nativeAddons.koffi();
  const koffiPath = nativeAddons.koffiPath();
  let lib: ReturnType<Koffi['load']>;
  try {
    lib = koffi.load('libc.so.6');
  } catch {
    // musl and other libcs: the symbols are already in the process.
    lib = koffi.load(null);
  }
  const P = 'void *';
  const fn = (name: string, ret: string, args: string[]) => {
    try {
      return lib.func(name, ret, args);
    } catch (e) {
      throw new Error(`libc lacks ${name}() (${(e as Error).message})`);
    }
  };
  const ssize = 'intptr_t';
  const table: Libc = {
    backend: `koffi ${koffi.version}`,
    errno: () => koffi.errno(),
    address: (buf) => koffi.address(buf) as bigint,
    strerror: fn('strerror', 'const char *', ['int']) as (n: number) => string,

    llistxattr: fn('llistxattr', ssize, [P, P, 'size_t']),
    lgetxattr: fn('lgetxattr', ssize, [P, P, P, 'size_t']),
    lsetxattr: fn('lsetxattr', 'int', [P, P, P, 'size_t', 'int']),
    lremovexattr: fn('lremovexattr', 'int', [P, P]),
    flistxattr: fn('flistxattr', ssize, ['int', P, 'size_t']),
    fgetxattr: fn('fgetxattr', ssize, ['int', P, P, 'size_t']),
    fsetxattr: fn('fsetxattr', 'int', ['int', P, P, 'size_t', 'int']),
    fremovexattr: fn('fremovexattr', 'int', ['int', P]),

    ioctl: fn('ioctl', 'int', ['int', 'unsigned long', P]),
    ioctlValue: fn('ioctl', 'int', ['int', 'unsigned long', 'unsigned long']),
    ioctlValueBlocking: (fd, request, arg) => blockingIoctl(koffiPath, fd, request, arg),
    socketpair: fn('socketpair', 'int', ['int', 'int', 'int', P]),
    socket: fn('socket', 'int', ['int', 'int', 'int']),
    sendto: fn('sendto', ssize, ['int', P, 'size_t', 'int', P, 'uint32_t']),
    fstatfs: fn('fstatfs', 'int', ['int', P]),
    statx: fn('statx', 'int', ['int', P, 'int', 'uint32_t', P]),

    openat: fn('openat', 'int', ['int', P, 'int', 'uint32_t']),
    openat2: openat2(fn('syscall', 'intptr_t', ['intptr_t', 'int', P, P, 'size_t'])),
    mkdirat: fn('mkdirat', 'int', ['int', P, 'uint32_t']),
    symlinkat: fn('symlinkat', 'int', [P, 'int', P]),
    unlinkat: fn('unlinkat', 'int', ['int', P, 'int']),
    renameat2: fn('renameat2', 'int', ['int', P, 'int', P, 'uint32_t']),
    linkat: fn('linkat', 'int', ['int', P, 'int', P, 'int']),
    fchownat: fn('fchownat', 'int', ['int', P, 'uint32_t', 'uint32_t', 'int']),
    fchmod: fn('fchmod', 'int', ['int', 'uint32_t']),
    utimensat: fn('utimensat', 'int', ['int', P, P, 'int']),
    futimens: fn('futimens', 'int', ['int', P]),
    mknodat: fn('mknodat', 'int', ['int', P, 'uint32_t', 'uint64_t']),
    getdents64: fn('getdents64', ssize, ['int', P, 'size_t']),
    lseek: fn('lseek', 'int64_t', ['int', 'int64_t', 'int']),
    fallocate: fn('fallocate', 'int', ['int', 'int', 'int64_t', 'int64_t']),
    pread: fn('pread', ssize, ['int', P, 'size_t', 'int64_t']),
    pwrite: fn('pwrite', ssize, ['int', P, 'size_t', 'int64_t']),
    ftruncate: fn('ftruncate', 'int', ['int', 'int64_t']),
    fchown: fn('fchown', 'int', ['int', 'uint32_t', 'uint32_t']),
    close: fn('close', 'int', ['int']),

    getpwuid_r: fn('getpwuid_r', 'int', ['uint32_t', P, P, 'size_t', P]),
    getgrgid_r: fn('getgrgid_r', 'int', ['uint32_t', P, P, 'size_t', P]),
    getpwnam_r: fn('getpwnam_r', 'int', [P, P, P, 'size_t', P]),
    getgrnam_r: fn('getgrnam_r', 'int', [P, P, P, 'size_t', P]),
  };
  return table;
}

// SYS_openat2 is 437 on every ABI libc.ts accepts (the numbers were unified from
// 424 on).  syscall() is variadic; its integer and pointer arguments travel as
// fixed ones do, as for openat() above.
const SYS_openat2 = 437;
const openat2 =
  (syscall: (...a: unknown[]) => number) =>
  (dirfd: number, path: Uint8Array | null, how: Uint8Array | null, size: number): number =>
    syscall(SYS_openat2, dirfd, path, how, size);

// A blocking ioctl (NBD_DO_IT waits until the device is disconnected) runs on a
// thread of its own that blocks every signal first: a signal landing on the
// thread would interrupt the call, and the nbd driver answers that by tearing
// the device down.  (The libuv pool, which koffi's .async() uses, leaves signals
// unblocked.)  SIG_BLOCK is 0 and sigset_t at most 128 bytes on every ABI
// libc.ts accepts.
const BLOCKING_IOCTL = `
const { workerData: w, parentPort } = require('node:worker_threads');
const koffi = require(w.koffi);
let lib;
try { lib = koffi.load('libc.so.6'); } catch { lib = koffi.load(null); }
const set = Buffer.alloc(128);
if (lib.func('sigfillset', 'int', ['void *'])(set) !== 0 || lib.func('pthread_sigmask', 'int', ['int', 'void *', 'void *'])(0, set, null) !== 0) {
  throw new Error('cannot block signals on the ioctl thread');
}
const result = lib.func('ioctl', 'int', ['int', 'unsigned long', 'unsigned long'])(w.fd, w.request, w.arg);
parentPort.postMessage({ result, errno: koffi.errno() });
`;

function blockingIoctl(koffi: string, fd: number, request: number, arg: number): Promise<{ result: number; errno: number }> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(BLOCKING_IOCTL, { eval: true, workerData: { koffi, fd, request, arg } });
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the ioctl thread exited (${code}) without an answer`)));
  });
}
