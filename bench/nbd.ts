// Sequential read throughput through `wasync mkdev`'s NBD export, against reading
// the extracted file directly: a 256 MiB random blob (incompressible, so every
// byte costs a chunk read, a zstd frame and a SHA-512/256 check) is made into a
// .caibx, extracted once, and served with --listen=unix:…; nbdcopy (libnbd) then
// copies the export and the extracted file to null:, alternating, and the median
// of `runs` is reported with the server's peak RSS.  Both sources are read warm
// (store and file in the page cache after a first pass), so the figures compare
// the serving, not the disk.  The first pass also checks the export's bytes.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { INDEX_ITEM_SIZE, INDEX_PREAMBLE_SIZE, INDEX_TAIL_SIZE } from '../src/format/index-file.ts';
import { MiB, median, wasyncBin, writeRandom } from './measure.ts';

const SIZE = 256 * MiB;

function run(cmd: string, args: string[]): number {
  const t = performance.now();
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.error?.message ?? r.stderr}`);
  return (performance.now() - t) / 1000;
}

/** Starts mkdev --listen on a Unix socket; resolves with its URI and process. */
function startMkdev(index: string, store: string, sock: string) {
  rmSync(sock, { force: true });
  const child = spawn(process.execPath, [wasyncBin, 'mkdev', `--store=${store}`, `--listen=unix:${sock}`, index], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (b) => (err += b));
  return new Promise<{ uri: string; pid: number; stop(): Promise<void> }>((resolve, reject) => {
    child.stdout.on('data', (b) => {
      out += b;
      const m = /^Listening on (\S+)$/m.exec(out);
      if (m) {
        resolve({
          uri: m[1],
          pid: child.pid!,
          stop: () => new Promise<void>((r) => (child.once('exit', () => r()), child.kill('SIGINT'))),
        });
      }
    });
    child.once('exit', (code) => reject(new Error(`wasync mkdev exited (${code}): ${err}`)));
  });
}

/** Peak resident set of a running process, from /proc. */
function peakRssMiB(pid: number): string {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? `${(Number(m[1]) / 1024).toFixed(0)} MiB` : '?';
}

export async function benchNbd(work: string, runs: number): Promise<string[]> {
  if (spawnSync('nbdcopy', ['--version']).status !== 0) return ['nbd: skipped (needs nbdcopy, from libnbd-bin)'];
  const p = (n: string) => join(work, `nbd-${n}`);
  if (!existsSync(p('blob.img')) || statSync(p('blob.img')).size !== SIZE) await writeRandom(p('blob.img'), SIZE);
  rmSync(p('store.castr'), { recursive: true, force: true });
  run(process.execPath, [wasyncBin, 'make', `--store=${p('store.castr')}`, p('blob.caibx'), p('blob.img')]);
  rmSync(p('extracted.img'), { force: true });
  run(process.execPath, [wasyncBin, 'extract', `--store=${p('store.castr')}`, p('blob.caibx'), p('extracted.img')]);
  const server = await startMkdev(p('blob.caibx'), p('store.castr'), p('blob.sock'));
  const nbd: number[] = [];
  const file: number[] = [];
  let rss = '?';
  try {
    // A first pass of each, checked: warms the page cache and proves the bytes.
    run('nbdcopy', [server.uri, p('copy.img')]);
    if (spawnSync('cmp', ['-s', p('copy.img'), p('blob.img')]).status !== 0) throw new Error('nbd: the export differs from the blob');
    rmSync(p('copy.img'), { force: true });
    run('nbdcopy', [p('extracted.img'), 'null:']);
    for (let i = 0; i < runs; i++) {
      nbd.push(run('nbdcopy', [server.uri, 'null:']));
      file.push(run('nbdcopy', [p('extracted.img'), 'null:']));
    }
    rss = peakRssMiB(server.pid);
  } finally {
    await server.stop();
  }
  const chunks = (statSync(p('blob.caibx')).size - INDEX_PREAMBLE_SIZE - INDEX_TAIL_SIZE) / INDEX_ITEM_SIZE;
  const rate = (s: number) => `${(SIZE / 1e6 / s).toFixed(0).padStart(5)} MB/s (${s.toFixed(2)} s)`;
  const sn = median(nbd);
  const sf = median(file);
  return [
    `nbd: ${SIZE / MiB} MiB random blob, ${chunks} chunks; nbdcopy to null:, warm page cache, median of ${runs}`,
    `${'mkdev --listen (NBD)'.padEnd(26)} ${rate(sn)}, server peak RSS ${rss}   extracted file ${rate(sf)}   ratio ${(sf / sn).toFixed(2)}x`,
  ];
}
