// `wasync serve DIR`: the indexes, archives and chunk stores under DIR over HTTP,
// laid out as casync's HTTP client expects them (casync-format.md §7.6), so that
// casync, desync and wasync all read from it.
//
// GET and HEAD serve regular files, with single byte ranges (a broken-off
// download resumes).  Paths are confined to DIR: no "..", NUL or backslash, no
// dot-file component, and the real path, after symlinks, must lie inside DIR.
// With --writable, PUT takes a chunk (<store>/<4hex>/<64hex>.cacnk, checked: it
// must decompress to bytes whose SHA-512/256 or SHA-256 digest is its name) or
// an index or archive (.caibx, .caidx, .catar; an index must parse), only with
// the bearer token, and always through a temporary name; a chunk already present
// is kept (200), a new one is created (201).  /_web/ serves the verification page.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createReadStream, realpathSync, statSync, type Stats } from 'node:fs';
import { timingSafeEqual } from 'node:crypto';
import { join, sep } from 'node:path';
import { acceptPut, PutRefused } from './put.ts';

export interface ServeOptions {
  root: string;
  writable: boolean;
  token: string | null;
  /** the built web page (dist/web), served under /_web/ when present */
  webRoot?: string | null;
  log?: (line: string) => void;
}

export function chunkServer(o: ServeOptions): Server {
  const root = realpathSync(o.root);
  const webRoot = o.webRoot && statSync(o.webRoot, { throwIfNoEntry: false })?.isDirectory() ? realpathSync(o.webRoot) : null;
  const server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      o.log?.(`${req.method} ${req.url}: ${(e as Error).message}`);
      if (!res.headersSent) reply(res, 500, 'internal error');
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 60_000;

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const path = confinedPath(req.url ?? '/');
    res.on('finish', () => o.log?.(`${req.method} ${req.url} ${res.statusCode}`));
    if (path === null) return reply(res, 400, 'bad path');
    if (req.method === 'GET' || req.method === 'HEAD') {
      if (path === '_web' || path.startsWith('_web/')) {
        if (!webRoot) return reply(res, 404, 'the web page is not built');
        const rest = path.slice('_web'.length).replace(/^\//, '');
        return sendFile(req, res, webRoot, rest === '' ? 'index.html' : rest);
      }
      return sendFile(req, res, root, path);
    }
    if (req.method === 'PUT') {
      if (!o.writable) return reply(res, 405, 'this server is read-only (start it with --writable)');
      if (!authorized(req, o.token)) return reply(res, 401, 'a valid bearer token is needed');
      try {
        const created = await acceptPut(root, path, req);
        return reply(res, created ? 201 : 200, created ? 'created' : 'already present');
      } catch (e) {
        if (e instanceof PutRefused) return reply(res, e.status, e.message);
        throw e;
      }
    }
    res.setHeader('allow', o.writable ? 'GET, HEAD, PUT' : 'GET, HEAD');
    return reply(res, 405, 'method not allowed');
  }
  return server;
}

/** The request path relative to the root, or null if it could leave it. */
export function confinedPath(url: string): string | null {
  let p: string;
  try {
    p = decodeURIComponent(url.replace(/[?#].*$/, ''));
  } catch {
    return null;
  }
  if (p.includes('\0') || p.includes('\\')) return null;
  const parts = p.split('/').filter((s) => s !== '');
  if (parts.some((s) => s.startsWith('.') && s !== '.well-known')) return null;
  return parts.join('/');
}

function authorized(req: IncomingMessage, token: string | null): boolean {
  if (token === null) return true;
  const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
  if (!m) return false;
  const given = Buffer.from(m[1]);
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

function reply(res: ServerResponse, status: number, text: string) {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) + 1 });
  res.end(`${text}\n`);
}

function sendFile(req: IncomingMessage, res: ServerResponse, root: string, rel: string) {
  let real: string;
  let st: Stats;
  try {
    real = realpathSync(join(root, rel));
    st = statSync(real);
  } catch {
    return reply(res, 404, 'not found');
  }
  if ((real !== root && !real.startsWith(root + sep)) || !st.isFile()) return reply(res, 404, 'not found');
  const headers: Record<string, string | number> = {
    'content-type': contentType(rel),
    'accept-ranges': 'bytes',
    'last-modified': st.mtime.toUTCString(),
    'access-control-allow-origin': '*',
  };
  let start = 0;
  let end = st.size; // exclusive
  let status = 200;
  const range = req.headers.range;
  if (range) {
    const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
    const a = m?.[1] ? Number(m[1]) : null;
    const b = m?.[2] ? Number(m[2]) : null;
    if (m && a !== null && a < st.size && (b === null || b >= a)) {
      start = a;
      end = b === null ? st.size : Math.min(st.size, b + 1);
    } else if (m && a === null && b !== null && b > 0) {
      start = Math.max(0, st.size - b);
    } else {
      res.writeHead(416, { 'content-range': `bytes */${st.size}` });
      return res.end();
    }
    status = 206;
    headers['content-range'] = `bytes ${start}-${end - 1}/${st.size}`;
  }
  headers['content-length'] = end - start;
  res.writeHead(status, headers);
  if (req.method === 'HEAD' || end === start) return res.end();
  createReadStream(real, { start, end: end - 1 })
    .on('error', () => res.destroy())
    .pipe(res);
}

function contentType(path: string): string {
  if (path.endsWith('.html')) return 'text/html; charset=utf-8';
  if (path.endsWith('.js')) return 'text/javascript; charset=utf-8';
  if (path.endsWith('.css')) return 'text/css; charset=utf-8';
  if (path.endsWith('.wasm')) return 'application/wasm';
  return 'application/octet-stream';
}
