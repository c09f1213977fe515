// Verification in a browser against `wasync verify` on Node, side by side: a
// 256 MiB blob of random data (the worst case: nothing compresses, every byte
// is decompressed and hashed) made into a .caibx by casync, served by `wasync
// serve` on loopback, and verified by the page in headless Chromium (Web Workers
// on every core, the wasm core's SHA-512/256, zstd in wasm) and by `wasync
// verify` over the same HTTP server (worker threads, node:crypto, native zstd).
// Each run is timed end to end: the page from navigation to its report, the CLI
// from spawn to exit.  Runs alternate; the median is reported.  A third line is
// the ceiling the page works under: the same Chromium fetching every chunk, 16
// at a time, doing nothing with them (each request costs Chromium far more than
// it costs Node's fetch).
//
// benchWeb(work, runs) returns the lines to print; bench.ts wires it in.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { MiB, median, wasyncBin, writeRandom } from './measure.ts';
import { parseIndex } from '../src/format/index-file.ts';
import { chunkPathBase, toHex } from '../src/chunk/chunk-id.ts';

const SIZE = 256 * MiB;
const CHROMIUM = '/usr/bin/chromium';

async function serve(dir: string): Promise<{ url: string; stop(): void }> {
  const child = spawn(process.execPath, [wasyncBin, 'serve', dir, '--listen=127.0.0.1:0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (b) => {
      err += b;
      const m = /on (http:\/\/[^/]+)\//.exec(err);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`wasync serve exited (${code}): ${err}`)));
  });
  return { url, stop: () => child.kill('SIGTERM') };
}

export async function benchWeb(work: string, runs: number): Promise<string[]> {
  if (!existsSync(CHROMIUM)) return ['web: skipped (needs chromium: apt-get install chromium)'];
  const img = join(work, 'web-blob.img');
  const index = join(work, 'web-blob.caibx');
  const store = join(work, 'web-blob.castr');
  if (statSync(img, { throwIfNoEntry: false })?.size !== SIZE) await writeRandom(img, SIZE);
  if (!existsSync(index)) {
    const r = spawnSync('casync', ['make', `--store=${store}`, index, img], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`casync make failed: ${r.stderr}`);
  }
  const { chromium } = await import('playwright-core');
  const server = await serve(work);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  const urls = [...new Set(parseIndex(readFileSync(index), index).entries.map((e) => `/web-blob.castr/${chunkPathBase(toHex(e.id))}.cacnk`))];
  const fetchOnly: number[] = [];
  const inPage: number[] = [];
  const onNode: number[] = [];
  let chunks = 0;
  try {
    const q = new URLSearchParams({ index: '/web-blob.caibx', store: '/web-blob.castr' });
    for (let i = 0; i < runs; i++) {
      const page = await browser.newPage();
      const t = performance.now();
      await page.goto(`${server.url}/_web/?${q}`);
      await page.waitForFunction(() => (window as { wasyncReport?: unknown }).wasyncReport, null, { timeout: 600_000 });
      inPage.push((performance.now() - t) / 1000);
      const report = await page.evaluate(() => (window as unknown as { wasyncReport: { status: string; chunks: number; error?: string } }).wasyncReport);
      await page.close();
      if (report.status !== 'ok') throw new Error(`the page found problems: ${JSON.stringify(report)}`);
      chunks = report.chunks;

      const bare = await browser.newPage();
      await bare.goto(`${server.url}/_web/`);
      fetchOnly.push(
        await bare.evaluate(async (paths) => {
          const t0 = performance.now();
          let next = 0;
          const fetcher = async () => {
            while (next < paths.length) await (await fetch(paths[next++])).arrayBuffer();
          };
          await Promise.all(Array.from({ length: 16 }, fetcher));
          return (performance.now() - t0) / 1000;
        }, urls),
      );
      await bare.close();

      const s = performance.now();
      const r = spawnSync(process.execPath, [wasyncBin, 'verify', '--progress=no', `--store=${server.url}/web-blob.castr`, `${server.url}/web-blob.caibx`], { encoding: 'utf8' });
      onNode.push((performance.now() - s) / 1000);
      if (r.status !== 0) throw new Error(`wasync verify failed: ${r.stderr}`);
    }
  } finally {
    await browser.close();
    server.stop();
  }
  const mbs = (s: number) => SIZE / 1e6 / s;
  const b = mbs(median(inPage));
  const n = mbs(median(onNode));
  const cores = (await import('node:os')).availableParallelism();
  return [
    `web: verify a ${SIZE / MiB} MiB blob index (casync-made, random data, ${chunks} chunks) over HTTP on loopback, ${cores} cores, median of ${runs}:`,
    `  page in Chromium (Web Workers)  ${b.toFixed(0).padStart(6)} MB/s (${median(inPage).toFixed(2)} s)`,
    `  wasync verify on Node           ${n.toFixed(0).padStart(6)} MB/s (${median(onNode).toFixed(2)} s)   (browser/Node ${(b / n).toFixed(2)})`,
    `  Chromium fetching the chunks    ${mbs(median(fetchOnly)).toFixed(0).padStart(6)} MB/s (${median(fetchOnly).toFixed(2)} s; every chunk, no checks: the page's ceiling here)`,
  ];
}
