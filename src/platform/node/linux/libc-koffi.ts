// The libc table of libc.ts on Node, through koffi (a prebuilt FFI: no compiler,
// no install script).  This is the only file that knows koffi.  koffi is required
// lazily so that a missing or broken install makes linuxFs() return null with a
// reason instead of failing every module that imports the adapter.
//
// Every function is bound once, with fixed prototypes: koffi passes Buffers and
// typed arrays by reference (no copy), so the adapter's scratch buffers are read
// and written in place.  openat() and ioctl() are variadic in C; on the 64-bit
// Linux ABIs this adapter accepts, a variadic integer or pointer travels exactly
// like a fixed one, and the fixed form is about a third cheaper per call.

import { createRequire } from 'node:module';
import type { Libc } from './libc.ts';

type Koffi = typeof import('koffi');

export const koffiBackend = { name: 'koffi', load: loadKoffiLibc };

function loadKoffiLibc(): Libc {
  const koffi = createRequire(import.meta.url)('koffi') as Koffi;
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
    fstatfs: fn('fstatfs', 'int', ['int', P]),
    statx: fn('statx', 'int', ['int', P, 'int', 'uint32_t', P]),

    openat: fn('openat', 'int', ['int', P, 'int', 'uint32_t']),
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
    close: fn('close', 'int', ['int']),

    getpwuid_r: fn('getpwuid_r', 'int', ['uint32_t', P, P, 'size_t', P]),
    getgrgid_r: fn('getgrgid_r', 'int', ['uint32_t', P, P, 'size_t', P]),
    getpwnam_r: fn('getpwnam_r', 'int', [P, P, P, 'size_t', P]),
    getgrnam_r: fn('getgrnam_r', 'int', [P, P, P, 'size_t', P]),
  };
  return table;
}
