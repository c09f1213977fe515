// Inputs shared by the library API tests and the Bun/Deno smoke suite: a blob
// of a few MiB (random data, a repeated MiB and a run of zeros, so it has
// duplicate and zero chunks) and a small tree (files of several sizes, an
// executable, an empty file, a symlink, a subdirectory, fixed times), and a
// walk that finds temporary files left behind.

import { chmodSync, lutimesSync, mkdirSync, readdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rand } from './helpers.ts';

/** `mib` MiB: random, then a repeat of its first MiB, then zeros. */
export function smallBlob(seed: string, mib = 4): Buffer {
  const random = rand(seed, (mib - 2) << 20);
  return Buffer.concat([random, random.subarray(0, 1 << 20), Buffer.alloc(1 << 20)]);
}

/** The small tree at `dest` (created). */
export function smallTree(dest: string, seed = 'small-tree'): void {
  const p = (...parts: string[]) => join(dest, ...parts);
  mkdirSync(p('sub', 'deeper'), { recursive: true });
  writeFileSync(p('a.txt'), 'hello\n');
  writeFileSync(p('empty'), '');
  writeFileSync(p('run.sh'), '#!/bin/sh\necho run\n');
  chmodSync(p('run.sh'), 0o755);
  writeFileSync(p('sub', 'big.bin'), rand(`${seed}-big`, 700_000));
  writeFileSync(p('sub', 'deeper', 'note'), 'x'.repeat(5000));
  symlinkSync('../a.txt', p('sub', 'link'));
  const t = new Date('2024-02-29T12:34:56.789Z');
  lutimesSync(p('sub', 'link'), t, t);
  for (const f of ['a.txt', 'empty', 'run.sh', 'sub/big.bin', 'sub/deeper/note', 'sub/deeper', 'sub', '.']) utimesSync(p(f), t, t);
}

/** Paths under `dir` named as wasync's temporaries are (".#…" files, "*.tmp" chunks). */
export function temporaries(dir: string): string[] {
  const found: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.name.startsWith('.#') || e.name.endsWith('.tmp')) found.push(join(e.parentPath, e.name));
  }
  return found;
}
