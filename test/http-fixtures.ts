// HTTP servers for the network tests, all on loopback: `wasync serve` as a child
// process, and an in-process file server that misbehaves on request (latency,
// 500s, connections dropped mid-body, corrupted bodies) and counts requests.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer as createNetServer } from 'node:net';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { after } from 'node:test';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { WASYNC } from './helpers.ts';

export interface Served {
  url: string;
  /** the server process (for its memory in /proc) */
  pid: number;
  stop(): Promise<void>;
  stderr(): string;
}

/** Starts `wasync serve [DIR] --listen=127.0.0.1:0 …` and waits until it listens (over http or https). */
export function startServe(dir: string | null, extra: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<Served> {
  const child: ChildProcess = spawn(process.execPath, [WASYNC, 'serve', ...(dir === null ? [] : [dir]), '--listen=127.0.0.1:0', ...extra], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  const stop = () =>
    new Promise<void>((r) => {
      if (child.exitCode !== null || child.signalCode !== null) return r();
      child.once('exit', () => r());
      child.kill('SIGTERM');
    });
  after(stop);
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (b: Buffer) => {
      err += b.toString();
      const m = /on (https?:\/\/[^/]+)\//.exec(err);
      if (m) resolve({ url: m[1], pid: child.pid!, stop, stderr: () => err });
    });
    child.once('exit', (code) => reject(new Error(`wasync serve exited (${code}): ${err}`)));
  });
}

export interface Faults {
  /** added before every answer */
  latencyMs?: number;
  /** answer 500 to the n-th request (1-based) for a path */
  fail?: (path: string, n: number) => boolean;
  /** send half the body, then cut the connection */
  drop?: (path: string, n: number) => boolean;
  /** flip a byte of the body */
  corrupt?: (path: string, n: number) => boolean;
  /** answer 404 */
  hide?: (path: string) => boolean;
}

export interface FaultyServer {
  url: string;
  /** requests per path */
  requests: Map<string, number>;
  total(): number;
  /** the most requests ever open at once */
  maxActive(): number;
  close(): Promise<void>;
}

/** Serves the files under `root` (GET, Range), misbehaving as `faults` says. */
export async function faultyServer(root: string, faults: Faults = {}): Promise<FaultyServer> {
  const requests = new Map<string, number>();
  let active = 0;
  let maxActive = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = decodeURIComponent(new URL(req.url!, 'http://x').pathname);
    const n = (requests.get(path) ?? 0) + 1;
    requests.set(path, n);
    maxActive = Math.max(maxActive, ++active);
    res.on('close', () => active--);
    setTimeout(() => answer(path, n, req, res), faults.latencyMs ?? 0);
  });
  const answer = (path: string, n: number, req: IncomingMessage, res: ServerResponse) => {
    const file = join(root, path.endsWith('/') ? `${path}index.html` : path);
    if (path.includes('..') || faults.hide?.(path) || !statSync(file, { throwIfNoEntry: false })?.isFile()) {
      res.writeHead(404).end();
      return;
    }
    if (faults.fail?.(path, n)) {
      res.writeHead(500).end('injected failure');
      return;
    }
    let body = readFileSync(file);
    if (faults.corrupt?.(path, n)) {
      body = Buffer.from(body);
      body[body.length >> 1] ^= 0x55;
    }
    let status = 200;
    // Enough for a page and its module scripts to load from it, from any origin.
    const type = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm' }[/\.[a-z]+$/.exec(path)?.[0] ?? ''];
    const headers: Record<string, string | number> = { 'access-control-allow-origin': '*', ...(type ? { 'content-type': type } : {}) };
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (m) {
      const from = Number(m[1]);
      headers['content-range'] = `bytes ${from}-${body.length - 1}/${body.length}`;
      body = body.subarray(from);
      status = 206;
    }
    headers['content-length'] = body.length;
    res.writeHead(status, headers);
    if (faults.drop?.(path, n) && body.length > 1) {
      res.write(body.subarray(0, body.length >> 1), () => res.destroy());
      return;
    }
    res.end(body);
  };
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  const close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  after(close);
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    total: () => [...requests.values()].reduce((a, b) => a + b, 0),
    maxActive: () => maxActive,
    close,
  };
}

/** A chunk as a store holds it: its SHA-512/256 id and zstd-compressed bytes. */
export function zstdChunk(data: Uint8Array): { id: string; body: Uint8Array } {
  const z = createRequire(import.meta.url)('zstd-napi') as { compress(d: Uint8Array): Buffer };
  return { id: createHash('sha512-256').update(data).digest('hex'), body: z.compress(data) };
}

/** A request with the path sent exactly as given (fetch would resolve "..", even encoded). */
export function rawRequest(
  base: string,
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: u.hostname, port: u.port, method, path, headers }, (res) => {
      let text = '';
      res.on('data', (b) => (text += b));
      res.on('end', () => resolve({ status: res.statusCode!, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

export const haveNginx = spawnSync('nginx', ['-v']).status === 0;

/**
 * nginx serving `root` as static files on a free loopback port (one process, no
 * daemon); `log`: its access log there (a line per request), `web`: a directory
 * served under /_web/ (dist/web, the page).
 */
export async function startNginx(root: string, workDir: string, o: { log?: string; web?: string } = {}): Promise<{ url: string; stop(): void }> {
  const port = await new Promise<number>((resolve) => {
    const s = createNetServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  const conf = join(workDir, 'nginx.conf');
  writeFileSync(
    conf,
    `daemon off; master_process off; pid ${workDir}/nginx.pid; error_log ${workDir}/error.log;
events {}
http {
  include /etc/nginx/mime.types; access_log ${o.log ?? 'off'};
  client_body_temp_path ${workDir}; proxy_temp_path ${workDir}; fastcgi_temp_path ${workDir};
  uwsgi_temp_path ${workDir}; scgi_temp_path ${workDir};
  server { listen 127.0.0.1:${port}; root ${root};${o.web ? ` location /_web/ { alias ${o.web}/; }` : ''} }
}
`,
  );
  const child = spawn('nginx', ['-c', conf, '-p', workDir], { stdio: 'ignore' });
  const stop = () => {
    if (child.exitCode === null) child.kill('SIGTERM');
  };
  after(stop);
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(`${url}/`);
      return { url, stop };
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`nginx did not start: ${readFileSync(join(workDir, 'error.log'), 'utf8')}`);
}
