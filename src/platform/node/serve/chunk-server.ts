// `wasync serve DIR`: the indexes, archives and chunk stores under DIR over HTTP,
// laid out as casync's HTTP client expects them (casync-format.md §7.6), so that
// casync, desync and wasync all read from it.
//
// GET and HEAD serve regular files, with single byte ranges (a broken-off
// download resumes).  Paths are confined to DIR: no "..", NUL or backslash, no
// dot-file component, and every file is opened beneath DIR's descriptor
// (served-dir.ts), so a symlink may lead elsewhere inside DIR, never out.  With
// --writable, PUT takes a chunk (<store>/<4hex>/<64hex>.cacnk, checked: it must
// decompress to bytes whose SHA-512/256 or SHA-256 digest is its name), an index
// (.caibx, .caidx) or an archive (.catar), both checked as they stream (put.ts),
// only with the bearer token, and always through a temporary name; a chunk
// already present is kept (200), a new one is created (201).  /_web/ serves the
// verification page.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createReadStream, closeSync, statSync } from 'node:fs';
import { pipeline } from 'node:stream';
import { timingSafeEqual } from 'node:crypto';
import { acceptPut, DEFAULT_CHUNK_MAX } from './put.ts';
import { PutRefused, ServedDir } from './served-dir.ts';
import { SINGLE_EXECUTABLE } from '../io/runtime.ts';

export interface ServeOptions {
  root: string;
  writable: boolean;
  token: string | null;
  /** the built web page (dist/web), served under /_web/ when present */
  webRoot?: string | null;
  /** the largest chunk (decompressed) an upload may be; default DEFAULT_CHUNK_MAX */
  chunkMax?: number;
  log?: (line: string) => void;
}

export function chunkServer(o: ServeOptions): Server {
  if (o.writable) ServedDir.checkWritable();
  const root = new ServedDir(o.root);
  const webRoot = o.webRoot && statSync(o.webRoot, { throwIfNoEntry: false })?.isDirectory() ? new ServedDir(o.webRoot) : null;
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((e) => {
      o.log?.(`${req.method} ${req.url}: ${(e as Error).message}`);
      if (!res.headersSent) reply(res, 500, 'internal error');
      else res.destroy();
    });
  };
  const server = createServer(onRequest);
  // "Expect: 100-continue" (curl's large uploads): the body is asked for only
  // once the path, the token and the declared size have passed.
  server.on('checkContinue', onRequest);
  server.keepAliveTimeout = 60_000;
  // An upload of many gigabytes may take longer than Node's 5 minutes for a whole
  // request; a connection that stalls is cut after 2 idle minutes instead.
  server.requestTimeout = 0;
  server.timeout = 120_000;
  server.on('close', () => {
    root.close();
    webRoot?.close();
  });

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const path = confinedPath(req.url ?? '/');
    res.on('finish', () => o.log?.(`${req.method} ${req.url} ${res.statusCode}`));
    if (path === null) return reply(res, 400, 'bad path');
    if (req.method === 'GET' || req.method === 'HEAD') {
      if (path === '_web' || path.startsWith('_web/')) {
        if (!webRoot) return reply(res, 404, SINGLE_EXECUTABLE ? 'the web page is not in this single executable' : 'the web page is not built');
        const rest = path.slice('_web'.length).replace(/^\//, '');
        return sendFile(req, res, webRoot, rest === '' ? 'index.html' : rest);
      }
      return sendFile(req, res, root, path);
    }
    if (req.method === 'PUT') {
      // A client that sent "Expect: 100-continue" sends the body only when asked.
      let asked = !expectsContinue(req);
      const refuse = (status: number, text: string) => {
        // Unasked, there is no body: the connection closes.  Otherwise the rest
        // of the body is read and dropped: closing while the client is still
        // sending resets the connection, and the client loses the answer.
        if (!asked) res.setHeader('connection', 'close');
        reply(res, status, text);
        if (asked && !req.complete) req.resume();
      };
      if (!o.writable) return refuse(405, 'this server is read-only (start it with --writable)');
      if (!authorized(req, o.token)) return refuse(401, 'a valid bearer token is needed');
      try {
        const created = await acceptPut(root, path, req, o.chunkMax ?? DEFAULT_CHUNK_MAX, () => {
          if (!asked) res.writeContinue();
          asked = true;
        });
        return reply(res, created ? 201 : 200, created ? 'created' : 'already present');
      } catch (e) {
        // A client that went away mid-body gets no answer; its temporary file is gone already.
        if (req.destroyed && !req.complete) {
          o.log?.(`${req.method} ${req.url}: the client went away before the end of the body; nothing stored`);
          return res.destroy();
        }
        if (e instanceof PutRefused) return refuse(e.status, e.message);
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

const expectsContinue = (req: IncomingMessage) => /^100-continue$/i.test(req.headers.expect ?? '');

function sendFile(req: IncomingMessage, res: ServerResponse, dir: ServedDir, rel: string) {
  const file = dir.openFile(rel);
  if (!file) return reply(res, 404, 'not found');
  const { fd, st } = file;
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
      closeSync(fd);
      res.writeHead(416, { 'content-range': `bytes */${st.size}` });
      return res.end();
    }
    status = 206;
    headers['content-range'] = `bytes ${start}-${end - 1}/${st.size}`;
  }
  headers['content-length'] = end - start;
  res.writeHead(status, headers);
  if (req.method === 'HEAD' || end === start) {
    closeSync(fd);
    return res.end();
  }
  // pipeline: a client that goes away also ends the read (and closes the descriptor).
  pipeline(createReadStream('', { fd, start, end: end - 1 }), res, () => {});
}

function contentType(path: string): string {
  if (path.endsWith('.html')) return 'text/html; charset=utf-8';
  if (path.endsWith('.js')) return 'text/javascript; charset=utf-8';
  if (path.endsWith('.css')) return 'text/css; charset=utf-8';
  if (path.endsWith('.wasm')) return 'application/wasm';
  return 'application/octet-stream';
}
