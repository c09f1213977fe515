// The encoder cache case (make --cache=DIR): a copy of a tree (/usr/share) made
// into a .caidx without a cache, with an empty one (the first make), and again
// after one file changed (the second make), by wasync and by casync side by
// side, alternating; medians.  wasync's cached index must equal its uncached
// one of the same tree (casync's need not: its cache changes the output).  Each
// uncached and first make writes a store, an index and a cache of its own; the
// second makes use the last first make's (measure.ts says why).

import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { median, timed, wasyncBin, type Timing } from './measure.ts';

export async function benchEncoderCache(work: string, tree: string, runs: number): Promise<string[]> {
  const dir = mkdtempSync(join(work, 'cache-'));
  const copy = join(dir, 'tree');
  const p = (n: string) => join(dir, n);
  try {
    if (spawnSync('cp', ['-a', tree, copy]).status !== 0) return [`(encoder cache case skipped: cannot copy ${tree})`];
    return await measure(copy, p, tree, runs);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function measure(copy: string, p: (n: string) => string, tree: string, runs: number): Promise<string[]> {
  // The file changed before each second make: the first of over 20 KiB.
  const changed = spawnSync('sh', ['-c', `find ${copy} -type f -size +20k | head -1`], { encoding: 'utf8' }).stdout.trim();
  // Let the copy age past what cached-make.ts refuses to remember (2 s).
  await new Promise((r) => setTimeout(r, 2500));
  const t: Record<string, Timing[]> = { wu: [], cu: [], wf: [], cf: [], ws: [], cs: [] };
  const w = (...a: string[]) => timed(['node', wasyncBin, 'make', ...a]);
  const c = (...a: string[]) => timed(['casync', 'make', ...a]);
  for (let i = 0; i < runs; i++) {
    t.wu.push(w(`--store=${p(`wu${i}.castr`)}`, p(`wu${i}.caidx`), copy));
    t.cu.push(c(`--store=${p(`cu${i}.castr`)}`, p(`cu${i}.caidx`), copy));
    t.wf.push(w(`--cache=${p(`wc${i}`)}`, `--store=${p(`w${i}.castr`)}`, p(`wf${i}.caidx`), copy));
    t.cf.push(c(`--cache=${p(`cc${i}`)}`, `--store=${p(`c${i}.castr`)}`, p(`cf${i}.caidx`), copy));
  }
  const last = runs - 1;
  const wCached = [`--cache=${p(`wc${last}`)}`, `--store=${p(`w${last}.castr`)}`];
  const cCached = [`--cache=${p(`cc${last}`)}`, `--store=${p(`c${last}.castr`)}`];
  for (let i = 0; i < runs; i++) {
    appendFileSync(changed, `changed ${i}\n`);
    t.ws.push(w(...wCached, p(`ws${i}.caidx`), copy));
    appendFileSync(changed, `changed ${i}.\n`);
    t.cs.push(c(...cCached, p(`cs${i}.caidx`), copy));
  }
  // The same tree (as it is now) without the cache: wasync's cached index must be that.
  appendFileSync(changed, 'last\n');
  w(...wCached, p('ws.caidx'), copy);
  w(`--store=${p('wu.castr')}`, p('wu.caidx'), copy);
  const same = readFileSync(p('ws.caidx')).equals(readFileSync(p('wu.caidx')));
  c(...cCached, p('cs.caidx'), copy);
  c(`--store=${p('cu.castr')}`, p('cu.caidx'), copy);
  const casyncSame = readFileSync(p('cs.caidx')).equals(readFileSync(p('cu.caidx')));
  const s = (k: string) => median(t[k].map((x) => x.seconds));
  const cpu = (k: string) => median(t[k].map((x) => x.cpuSeconds));
  // Wall time, and CPU (user + sys) beside it: on a shared machine the CPU is the steadier figure.
  const f = (k: string) => `${s(k).toFixed(2)} s (CPU ${cpu(k).toFixed(2)} s)`;
  if (!same) throw new Error('encoder cache: the cached index differs from the uncached one');
  return [
    `encoder cache, tree ${tree} (copy), median of ${runs}:`,
    `  uncached make             wasync ${f('wu')}   casync ${f('cu')}`,
    `  first make, empty cache   wasync ${f('wf')} (${(s('wf') / s('wu')).toFixed(2)}x its uncached)   casync ${f('cf')} (${(s('cf') / s('cu')).toFixed(2)}x)`,
    `  second make, 1 file new   wasync ${f('ws')} (${(s('wu') / s('ws')).toFixed(1)}x faster than its uncached, ${(s('ws') / s('cs')).toFixed(2)}x casync's)   casync ${f('cs')}`,
    `  by CPU: first make ${(cpu('wf') / cpu('wu')).toFixed(2)}x its uncached; second make ${(cpu('wu') / cpu('ws')).toFixed(1)}x less than its uncached, ${(cpu('ws') / cpu('cs')).toFixed(2)}x casync's`,
    `  cached index = uncached index: wasync ${same ? 'yes' : 'NO'}, casync ${casyncSame ? 'yes' : 'no'}`,
  ];
}
