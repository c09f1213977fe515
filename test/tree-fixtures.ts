// Test trees: the reference trees of casync-format.md §8 (test/vectors/mk_tree*.sh)
// and a generated tree with the awkward cases (unicode and 255-byte names, deep
// nesting, empty directories, many small files, a large sparse file, dangling
// and absolute symlinks, setuid/setgid/sticky modes, several owners, a time
// before 1970, a FIFO and a device).

import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, closeSync, lutimesSync, mkdirSync, openSync, symlinkSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { VECTORS, rand } from './helpers.ts';

export function vectorTree(n: 0 | 1 | 2 | 3, dest: string): boolean {
  return spawnSync('sh', [join(VECTORS, `mk_tree${n}.sh`), dest], { env: { ...process.env, TZ: 'UTC' } }).status === 0;
}

/** The generated tree; `longNames` adds a 255-byte name (casync 2 cannot extract it). */
export function generatedTree(dest: string, { longNames = false, smallFiles = 2000 } = {}) {
  mkdirSync(dest);
  const p = (...parts: string[]) => join(dest, ...parts);
  writeFileSync(p('\u00fcn\u00efc\u00f6d\u00e9 \u2603.txt'), 'snow\n');
  writeFileSync(Buffer.concat([Buffer.from(dest + '/'), Buffer.from([0x6c, 0x61, 0x74, 0x69, 0x6e, 0xe9])]), 'not utf-8\n');
  if (longNames) writeFileSync(p('n'.repeat(255)), 'long name\n');
  let deep = p('deep');
  for (let i = 0; i < 40; i++) deep = join(deep, `d${i}`);
  mkdirSync(deep, { recursive: true });
  writeFileSync(join(deep, 'bottom'), 'deep\n');
  mkdirSync(p('empty'));
  mkdirSync(p('empty', 'inner'));
  mkdirSync(p('many'));
  for (let i = 0; i < smallFiles; i++) writeFileSync(p('many', `f${String(i).padStart(5, '0')}`), `file ${i}\n`.repeat(i % 7));
  // 24 MiB, data only at the start, middle and end.
  const fd = openSync(p('sparse.img'), 'w');
  writeSync(fd, rand('sparse-a', 70_000), 0, 70_000, 0);
  writeSync(fd, rand('sparse-b', 5000), 0, 5000, 12 << 20);
  writeSync(fd, rand('sparse-c', 3000), 0, 3000, (24 << 20) - 3000);
  closeSync(fd);
  writeFileSync(p('random.bin'), rand('generated', 700_000));
  symlinkSync('does/not/exist', p('dangling'));
  symlinkSync('/etc/passwd', p('absolute'));
  symlinkSync('many/f00001', p('relative'));
  for (const [name, mode] of [['setuid', 0o4755], ['setgid', 0o2750], ['sticky-file', 0o1644], ['plain', 0o640]] as const) {
    writeFileSync(p(name), `${name}\n`);
    chmodSync(p(name), mode);
  }
  mkdirSync(p('sticky-dir'));
  chmodSync(p('sticky-dir'), 0o1777);
  execFileSync('mkfifo', [p('fifo')]);
  execFileSync('mknod', [p('null'), 'c', '1', '3']);
  writeFileSync(p('owned-1'), 'daemon\n');
  chownSync(p('owned-1'), 1, 1);
  writeFileSync(p('owned-2000'), 'nobody known\n');
  chownSync(p('owned-2000'), 2000, 2001);
  writeFileSync(p('old'), 'before 1970\n');
  utimesSync(p('old'), -86400.25, -86400.25);
  lutimesSync(p('dangling'), 1e9, 1.5e9);
  utimesSync(p('empty'), 1234567890.123456, 1234567890.123456);
}
