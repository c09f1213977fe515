// Sequential reading through `wasync mount`: a 256 MiB blob (random data, the
// worst case: nothing compresses, every byte is hashed and copied) made into a
// .caibx, mounted, and read front to back in 1 MiB reads by this process; against
// reading the extracted file directly.  Each run mounts afresh, so the kernel's
// page cache of the mounted file is empty; the chunk store and the extracted
// file are warm in the page cache (both read paths start from memory), so the
// figures compare the FUSE path with a plain read, not the disks.
//
// benchMount(work, runs) returns the lines to print; bench.ts wires it in.

import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { MiB, median, wasyncBin, writeRandom } from './measure.ts';

const SIZE = 256 * MiB;

function wasync(args: string[]) {
  const r = spawnSync(process.execPath, [wasyncBin, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`wasync ${args.join(' ')} failed: ${r.stderr}`);
}

/** Seconds to read `path` front to back in 1 MiB reads; checks the size. */
function readAll(path: string): number {
  const buf = Buffer.allocUnsafe(MiB);
  const fd = openSync(path, 'r');
  const t = performance.now();
  let total = 0;
  try {
    for (let n; (n = readSync(fd, buf, 0, MiB, null)) > 0; ) total += n;
  } finally {
    closeSync(fd);
  }
  const s = (performance.now() - t) / 1000;
  if (total !== SIZE) throw new Error(`${path}: read ${total} bytes, expected ${SIZE}`);
  return s;
}

/** Mounts the index on `mnt`, runs f, unmounts. */
async function mounted<T>(index: string, store: string, mnt: string, f: () => T): Promise<T> {
  const child = spawn(process.execPath, [wasyncBin, 'mount', `--store=${store}`, index, mnt], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (b) => (err += b));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (b) => {
      out += b;
      if (out.includes('Mounted: ')) resolve();
    });
    exited.then((code) => reject(new Error(`wasync mount exited (${code}): ${err}`)));
  });
  try {
    return f();
  } finally {
    child.kill('SIGTERM');
    const code = await exited;
    if (code !== 0) throw new Error(`wasync mount exited with ${code}: ${err}`);
  }
}

export async function benchMount(work: string, runs: number): Promise<string[]> {
  if (process.getuid?.() !== 0 || !existsSync('/dev/fuse')) return ['mount: skipped (needs root and /dev/fuse)'];
  const img = join(work, 'mount-blob.img');
  const index = join(work, 'mount-blob.caibx');
  const store = join(work, 'mount-blob.castr');
  const extracted = join(work, 'mount-blob-extracted.img');
  const mnt = join(work, 'mount-point');
  if (statSync(img, { throwIfNoEntry: false })?.size !== SIZE) await writeRandom(img, SIZE);
  if (!existsSync(index)) wasync(['make', `--store=${store}`, index, img]);
  if (!existsSync(extracted)) wasync(['extract', `--store=${store}`, '--seed-output=no', index, extracted]);
  mkdirSync(mnt, { recursive: true });
  const where = realpathSync(mnt);
  const viaFuse: number[] = [];
  const direct: number[] = [];
  readAll(extracted); // warm the page cache, as the store is after `make`
  for (let i = 0; i < runs; i++) {
    viaFuse.push(await mounted(index, store, where, () => readAll(join(where, 'mount-blob'))));
    direct.push(readAll(extracted));
  }
  const mbs = (s: number) => SIZE / 1e6 / s;
  const f = mbs(median(viaFuse));
  const d = mbs(median(direct));
  return [
    `mount: sequential read of a ${SIZE / MiB} MiB blob (.caibx, random data), 1 MiB reads, median of ${runs}:`,
    `  through the FUSE mount  ${f.toFixed(0).padStart(6)} MB/s`,
    `  extracted file, direct  ${d.toFixed(0).padStart(6)} MB/s   (mount/direct ${(f / d).toFixed(2)})`,
  ];
}
