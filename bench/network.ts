// Network cases of `npm run bench`: a 256 MiB image extracted over loopback from
// a server that answers each request after 20 ms (a distant server; casync
// fetches one chunk at a time, wasync --concurrency=16 at once), and a seeded
// update v1 → v2 (5 % changed) over the same server, where wasync's seed index
// is warm and casync chunks the seed again.  casync's runs take minutes, so this
// case runs at most three times.

import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, openSync, rmSync, writeSync, closeSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { MiB, compare, sameFile, timed, wasyncBin, writeRandom } from './measure.ts';

const SIZE = 256 * MiB;
const DELAY_MS = 20;

export async function benchNetwork(work: string, runs: number) {
  const dir = join(work, 'net');
  const srv = join(dir, 'srv');
  mkdirSync(srv, { recursive: true });
  const v1 = join(dir, 'v1.img');
  const v2 = join(dir, 'v2.img');
  await writeRandom(v1, SIZE);
  copyFileSync(v1, v2);
  // 5 % changed: 64 KiB pieces spread evenly over the image.
  const fd = openSync(v2, 'r+');
  const pieces = Math.round((SIZE * 0.05) / (64 << 10));
  for (let i = 0; i < pieces; i++) writeSync(fd, randomBytes(64 << 10), 0, 64 << 10, Math.floor((i * SIZE) / pieces));
  closeSync(fd);
  const made = spawnSync('node', [wasyncBin, 'make', join(srv, 'v2.caibx'), v2]);
  if (made.status !== 0) throw new Error(`make failed: ${made.stderr}`);

  const server = spawn('node', [join(import.meta.dirname, 'latency-server.js'), srv, String(DELAY_MS)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((r) => server.stdout.once('data', (b) => r(String(b).trim())));
  const url = `http://127.0.0.1:${port}/v2.caibx`;
  const env = { ...process.env, XDG_CACHE_HOME: join(dir, 'cache') };
  const n = Math.min(runs, 3);
  const out = (x: string) => join(dir, `${x}.out`);
  try {
    console.log(`\nnetwork: ${SIZE / MiB} MiB image, HTTP on loopback, ${DELAY_MS} ms per request (median of ${n})`);
    compare(
      'extract over HTTP',
      SIZE,
      (i) => timed(['node', wasyncBin, 'extract', url, out(`a${i}`)]),
      (i) => timed(['casync', 'extract', url, out(`b${i}`)]),
      n,
    );
    sameFile(out('a0'), v2, 'wasync extract');
    sameFile(out('b0'), v2, 'casync extract');
    // Warm wasync's seed index once; casync has none.
    spawnSync('node', [wasyncBin, 'extract', `--seed=${v1}`, url, out('warm')], { env });
    compare(
      'seeded update v1 → v2',
      SIZE,
      (i) => timed(['node', wasyncBin, 'extract', `--seed=${v1}`, url, out(`as${i}`)], { env }),
      (i) => timed(['casync', 'extract', `--seed=${v1}`, url, out(`bs${i}`)]),
      n,
    );
    sameFile(out('as0'), v2, 'wasync seeded extract');
    sameFile(out('bs0'), v2, 'casync seeded extract');
  } finally {
    server.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}
