// Verification in a browser against `wasync verify` on Node, side by side: a
// 256 MiB blob of random data (the worst case: nothing compresses, every byte
// is decompressed and hashed) made into a .caibx by casync, its store served
// by nginx on loopback as plain chunk files and, a hard-linked copy packed by
// `wasync pack`, as pack files read with Range requests.
//
// The browser is a bare headless Chromium with no automation attached:
// Playwright's network event reporting slows every page and worker it attaches
// to (to about a third, here), so a page driven by it measures Playwright.  The
// page is opened by URL on the command line and POSTs its report to a collector
// on the bench's own server (the page's ?report= parameter); its time is the
// page's own, from the index read to the last verdict.  Beside it: the same
// Chromium fetching every plain chunk file, and the pack files in 8 MiB ranges,
// 16 at a time, doing nothing with them (a small page of the bench's that
// reports the same way; past the HTTP cache, as the page fetches): the page's
// ceilings.  And `wasync verify` over the same nginx, plain and packed, timed
// from spawn to exit.
// Requests are counted from nginx's access log.  Runs alternate; medians.
// Beside each wall time, the CPU seconds it took (Chromium's processes, read
// from /proc just before they are killed; the CLI's own and its children's),
// which other work on the machine disturbs much less than the wall time.
//
// WASYNC_BENCH_WEB_CASES=1,3 runs only those cases (numbered from 0 as
// printed); WASYNC_BENCH_PAGE_QUERY=workers=3&concurrency=8 adds parameters to
// the page's URL, for tuning.
//
// benchWeb(work, runs) returns the lines to print; bench.ts wires it in.

import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { MiB, median, wasyncBin, writeRandom } from './measure.ts';
import { parseIndex } from '../src/format/index-file.ts';
import { chunkPathBase, toHex } from '../src/chunk/chunk-id.ts';

const SIZE = 256 * MiB;
const CHROMIUM = '/usr/bin/chromium';
const WEB_DIST = join(import.meta.dirname, '..', '..', 'dist', 'web');

/** What a bench page POSTs: the page's report, or the fetch page's count; `cpu`: added by inChromium. */
interface Posted {
  seconds: number | null;
  report?: { status: string; chunks: number; error?: string };
  cpu?: number;
}

const TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** CPU seconds (user + system) used so far by the processes of group `pgrp`. */
function groupCpu(pgrp: number): number {
  let ticks = 0;
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue;
    }
    // Fields after the command's closing parenthesis: state ppid pgrp ... utime(14) stime(15).
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(f[2]) === pgrp) ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks / TICKS;
}

/** A loopback server whose POSTs to /report/N resolve the waiter for N. */
async function collector(): Promise<{ url: string; next(): { id: string; posted: Promise<Posted> }; close(): void }> {
  const waiting = new Map<string, (p: Posted) => void>();
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (b) => (body += b));
    req.on('end', () => {
      res.writeHead(204, { 'access-control-allow-origin': '*' }).end();
      const id = req.url?.split('/')[2] ?? '';
      if (req.method === 'POST') waiting.get(id)?.(JSON.parse(body) as Posted);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let n = 0;
  return {
    url,
    next() {
      const id = String(++n);
      return { id, posted: new Promise<Posted>((r) => waiting.set(id, r)) };
    },
    close: () => server.close(),
  };
}

/** nginx serving `root`, the page at /_web/, its access log at `log`. */
async function nginx(root: string, dir: string): Promise<{ url: string; log: string; stop(): void }> {
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  const log = join(dir, 'access.log');
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `${t}_temp_path ${dir};`).join(' ');
  writeFileSync(
    join(dir, 'nginx.conf'),
    `daemon off; master_process off; pid ${dir}/nginx.pid; error_log ${dir}/error.log;
events {}
http {
  include /etc/nginx/mime.types; access_log ${log}; ${temp}
  server { listen 127.0.0.1:${port}; root ${root}; location /_web/ { alias ${WEB_DIST}/; } }
}
`,
  );
  const child = spawn('nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(`${url}/`);
      return { url, log, stop: () => child.kill('SIGTERM') };
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`nginx did not start: ${readFileSync(join(dir, 'error.log'), 'utf8')}`);
}

/** Opens `url` in a fresh headless Chromium, nothing attached, until `posted` settles. */
async function inChromium(url: string, posted: Promise<Posted>): Promise<Posted> {
  const profile = mkdtempSync('/tmp/wasync-bench-chromium-');
  // Headless Chromium 156 still builds its omnibox popup (a WebUI renderer of its own), on launch and on
  // for seconds, so during the page's run: about a fifth of the page's CPU time here, none of it the page's.
  const flags = [
    ...['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    '--disable-features=WebUIOmniboxPopup,WebUIOmniboxAimPopup,WebUIOmniboxFullPopup',
  ];
  const child = spawn(CHROMIUM, [...flags, `--user-data-dir=${profile}`, url], { stdio: 'ignore', detached: true });
  try {
    const exited = new Promise<never>((_, reject) => child.once('exit', (c) => reject(new Error(`chromium exited (${c}) before the page reported`))));
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no report from ${url} in 10 minutes`)), 600_000).unref());
    const p = await Promise.race([posted, exited, timeout]);
    return { ...p, cpu: groupCpu(child.pid!) };
  } finally {
    // Its renderers and helpers are in the group it leads.
    if (child.exitCode === null) process.kill(-child.pid!, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    rmSync(profile, { recursive: true, force: true });
  }
}

/** The bench's fetch-only page: every URL of ?list= (or [URL, Range]), 16 at a time, bodies read and dropped. */
const FETCH_PAGE = `<!doctype html><meta charset="utf-8"><script type="module">
const q = new URLSearchParams(location.search);
const paths = await (await fetch(q.get('list'))).json();
const t0 = performance.now();
let next = 0;
const get = (p) => (typeof p === 'string' ? fetch(p, { cache: 'no-store' }) : fetch(p[0], { cache: 'no-store', headers: { range: p[1] } }));
const fetcher = async () => { while (next < paths.length) await (await get(paths[next++])).arrayBuffer(); };
await Promise.all(Array.from({ length: 16 }, fetcher));
const seconds = (performance.now() - t0) / 1000;
await fetch(q.get('report'), { method: 'POST', mode: 'no-cors', body: JSON.stringify({ seconds }) });
</script>`;

const lines = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').length - 1 : 0);

export async function benchWeb(work: string, runs: number): Promise<string[]> {
  if (!existsSync(CHROMIUM)) return ['web: skipped (needs chromium: apt-get install chromium)'];
  if (spawnSync('nginx', ['-v']).status !== 0) return ['web: skipped (needs nginx: apt-get install nginx-light)'];
  if (!existsSync(join(WEB_DIST, 'page.js'))) throw new Error(`${WEB_DIST}: no page (npm run build)`);
  const img = join(work, 'web-blob.img');
  const index = join(work, 'web-blob.caibx');
  const store = join(work, 'web-blob.castr');
  const packed = join(work, 'web-pack.castr');
  if (statSync(img, { throwIfNoEntry: false })?.size !== SIZE) await writeRandom(img, SIZE);
  if (!existsSync(index)) {
    const r = spawnSync('casync', ['make', `--store=${store}`, index, img], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`casync make failed: ${r.stderr}`);
  }
  if (!existsSync(join(packed, 'pack', 'index'))) {
    rmSync(packed, { recursive: true, force: true });
    spawnSync('cp', ['-al', store, packed]);
    const r = spawnSync(process.execPath, [wasyncBin, 'pack', packed, index], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`wasync pack failed: ${r.stderr}`);
  }
  const urls = [...new Set(parseIndex(readFileSync(index), index).entries.map((e) => `/web-blob.castr/${chunkPathBase(toHex(e.id))}.cacnk`))];
  writeFileSync(join(work, 'web-list.json'), JSON.stringify(urls));
  // The pack files in the 8 MiB ranges the page's requests take at most.
  const ranges: [string, string][] = [];
  for (const f of readdirSync(join(packed, 'pack')).filter((n) => n.endsWith('.pack'))) {
    const size = statSync(join(packed, 'pack', f)).size;
    for (let at = 0; at < size; at += 8 * MiB) ranges.push([`/web-pack.castr/pack/${f}`, `bytes=${at}-${Math.min(size, at + 8 * MiB) - 1}`]);
  }
  writeFileSync(join(work, 'web-ranges.json'), JSON.stringify(ranges));
  writeFileSync(join(work, 'web-fetch.html'), FETCH_PAGE);
  const logs = join(work, 'web-nginx');
  mkdirSync(logs, { recursive: true });
  const server = await nginx(work, logs);
  const reports = await collector();

  const cases = [
    'page, plain chunk files',
    'page, pack files',
    'Chromium fetching the chunk files',
    'Chromium fetching the packs (8 MiB)',
    'wasync verify, plain chunk files',
    'wasync verify, pack files',
  ];
  const times: number[][] = cases.map(() => []);
  const cpus: number[][] = cases.map(() => []);
  const chosen = process.env.WASYNC_BENCH_WEB_CASES?.split(',').map(Number) ?? cases.map((_, k) => k);
  const extra = new URLSearchParams(process.env.WASYNC_BENCH_PAGE_QUERY ?? '');
  const requests: number[] = cases.map(() => 0);
  let chunks = 0;
  const page = async (storePath: string) => {
    const { id, posted } = reports.next();
    const q = new URLSearchParams({ index: '/web-blob.caibx', store: storePath, report: `${reports.url}/report/${id}`, ...Object.fromEntries(extra) });
    const p = await inChromium(`${server.url}/_web/?${q}`, posted);
    if (p.report?.status !== 'ok' || p.seconds === null) throw new Error(`the page found problems: ${JSON.stringify(p.report)}`);
    chunks = p.report.chunks;
    return { seconds: p.seconds, cpu: p.cpu! };
  };
  const fetchOnly = async (list: string) => {
    const { id, posted } = reports.next();
    const q = new URLSearchParams({ list, report: `${reports.url}/report/${id}` });
    const p = await inChromium(`${server.url}/web-fetch.html?${q}`, posted);
    return { seconds: p.seconds!, cpu: p.cpu! };
  };
  const cli = async (storePath: string) => {
    const s = performance.now();
    // /usr/bin/time's user and system seconds, on the last line of its stderr.
    const r = spawnSync('/usr/bin/time', ['-f', '%U %S', process.execPath, wasyncBin, 'verify', '--progress=no', `--store=${server.url}${storePath}`, `${server.url}/web-blob.caibx`], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`wasync verify failed: ${r.stderr}`);
    const seconds = (performance.now() - s) / 1000;
    const [user, sys] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
    return { seconds, cpu: user + sys };
  };
  const steps = [
    () => page('/web-blob.castr'),
    () => page('/web-pack.castr'),
    () => fetchOnly('/web-list.json'),
    () => fetchOnly('/web-ranges.json'),
    () => cli('/web-blob.castr'),
    () => cli('/web-pack.castr'),
  ];
  try {
    for (let i = 0; i < runs; i++) {
      for (const [k, step] of steps.entries()) {
        if (!chosen.includes(k)) continue;
        const before = lines(server.log);
        const { seconds, cpu } = await step();
        times[k].push(seconds);
        cpus[k].push(cpu);
        // nginx writes a request's line once it is answered: the last ones are in by the next step.
        await new Promise((r) => setTimeout(r, 100));
        requests[k] = lines(server.log) - before;
      }
    }
  } finally {
    server.stop();
    reports.close();
  }
  const mbs = (s: number) => SIZE / 1e6 / s;
  const row = (k: number) => {
    const s = median(times[k]);
    const cpu = median(cpus[k]);
    return `  ${cases[k].padEnd(34)} ${mbs(s).toFixed(0).padStart(5)} MB/s (${s.toFixed(2)} s, ${requests[k]} requests; ${cpu.toFixed(2)} CPU s, ${(cpu / (SIZE / 1e9)).toFixed(1)} CPU s/GB)`;
  };
  return [
    `web: verify a ${SIZE / MiB} MiB blob index (casync-made, random data, ${chunks} chunks) from nginx on loopback, ${availableParallelism()} cores, median of ${runs}:`,
    `  (the browser: bare headless Chromium, nothing attached; its times are the page's, from the index read to the last verdict;`,
    `   CPU: all of Chromium's processes from launch to the report, or the CLI's from spawn to exit)`,
    ...chosen.map((k) => row(k)),
  ];
}
