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
//
// As a caching proxy (upstream.ts), a request for a chunk (any path ending in
// <4hex>/<64hex>.cacnk) that DIR lacks is answered from the cache directory,
// else from the upstream stores, checked (502 when every copy was corrupt or
// every store failed, 404 when none has it).  With `tls` it speaks HTTPS, and
// with a client CA asks every client for a certificate signed by it.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createReadStream, closeSync, statSync, type Stats } from 'node:fs';
import { pipeline } from 'node:stream';
import { timingSafeEqual } from 'node:crypto';
import { acceptPut, DEFAULT_CHUNK_MAX } from './put.ts';
import { PutRefused, ServedDir } from './served-dir.ts';
import type { Upstream } from './upstream.ts';
import { SINGLE_EXECUTABLE } from '../io/runtime.ts';

export interface ServeOptions {
  /** the directory served; null: only chunks, from the cache and the upstream stores */
  root: string | null;
  /** a directory of chunks the upstream stores sent (<4hex>/<id>.cacnk), read before them */
  cache?: string | null;
  upstream?: Upstream | null;
  /** HTTPS with this certificate and key (PEM); clients must show a certificate signed by `clientCa` */
  tls?: { cert: string; key: string; clientCa?: string } | null;
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
  const root = o.root === null ? null : new ServedDir(o.root);
  const cache = o.cache ? new ServedDir(o.cache) : null;
  const webRoot = o.webRoot && statSync(o.webRoot, { throwIfNoEntry: false })?.isDirectory() ? new ServedDir(o.webRoot) : null;
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((e) => {
      o.log?.(`${req.method} ${req.url}: ${(e as Error).message}`);
      if (!res.headersSent) reply(res, 500, 'internal error');
      else res.destroy();
    });
  };
  const tls = o.tls;
  const server: Server = tls
    ? createHttpsServer({ cert: tls.cert, key: tls.key, ca: tls.clientCa, requestCert: !!tls.clientCa, rejectUnauthorized: !!tls.clientCa }, onRequest)
    : createServer(onRequest);
  // A client refused its certificate (or the handshake) never reaches a request: say so here.
  server.on('tlsClientError', (e: Error & { code?: string }, socket: { remoteAddress?: string }) =>
    o.log?.(`TLS handshake with ${socket.remoteAddress ?? 'a client'} failed: ${e.code ?? e.message}`),
  );
  // "Expect: 100-continue" (curl's large uploads): the body is asked for only
  // once the path, the token and the declared size have passed.
  server.on('checkContinue', onRequest);
  server.keepAliveTimeout = 60_000;
  // An upload of many gigabytes may take longer than Node's 5 minutes for a whole
  // request; a connection that stalls is cut after 2 idle minutes instead.
  server.requestTimeout = 0;
  server.timeout = 120_000;
  server.on('close', () => {
    root?.close();
    cache?.close();
    webRoot?.close();
    void o.upstream?.close();
  });

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const path = confinedPath(req.url ?? '/');
    res.on('finish', () => o.log?.(`${req.method} ${req.url} ${res.statusCode}`));
    if (path === null) return reply(res, 400, 'bad path');
    if (req.method === 'GET' || req.method === 'HEAD') {
      if (path === '_web' || path.startsWith('_web/')) {
        if (!webRoot) return reply(res, 404, SINGLE_EXECUTABLE ? 'the web page is not in this single executable' : 'the web page is not built');
        const rest = path.slice('_web'.length).replace(/^\//, '');
        const name = rest === '' ? 'index.html' : rest;
        const file = webRoot.openFile(name);
        return file ? sendFile(req, res, file, name) : reply(res, 404, 'not found');
      }
      const file = root?.openFile(path) ?? null;
      if (file || !o.upstream) return file ? sendFile(req, res, file, path) : reply(res, 404, 'not found');
      const chunk = CHUNK_REQUEST.exec(path);
      if (!chunk) return reply(res, 404, 'not found');
      const cached = cache?.openFile(`${chunk[1]}/${chunk[2]}.cacnk`);
      if (cached) return sendFile(req, res, cached, path);
      const got = await o.upstream.fetch(chunk[2]);
      if ('status' in got) return reply(res, got.status, got.text);
      return sendBytes(req, res, got.body);
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
      if (!root) return refuse(405, 'this server has no directory to write to');
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

/** A chunk request: the chunk's directory and id. */
const CHUNK_REQUEST = /(?:^|\/)([0-9a-f]{4})\/(\1[0-9a-f]{60})\.cacnk$/;

/** The range of `size` bytes a request asks for: [start, end) and the status, or null when unsatisfiable. */
function byteRange(req: IncomingMessage, size: number): { start: number; end: number; status: number } | null {
  const range = req.headers.range;
  if (!range) return { start: 0, end: size, status: 200 };
  const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
  const a = m?.[1] ? Number(m[1]) : null;
  const b = m?.[2] ? Number(m[2]) : null;
  if (m && a !== null && a < size && (b === null || b >= a)) return { start: a, end: b === null ? size : Math.min(size, b + 1), status: 206 };
  if (m && a === null && b !== null && b > 0) return { start: Math.max(0, size - b), end: size, status: 206 };
  return null;
}

/** Answers with headers for `size` bytes, or 416; the range to send, or null when nothing follows. */
function head(req: IncomingMessage, res: ServerResponse, size: number, headers: Record<string, string | number>): { start: number; end: number } | null {
  const r = byteRange(req, size);
  if (!r) {
    res.writeHead(416, { 'content-range': `bytes */${size}` });
    res.end();
    return null;
  }
  headers['accept-ranges'] = 'bytes';
  headers['access-control-allow-origin'] = '*';
  if (r.status === 206) headers['content-range'] = `bytes ${r.start}-${r.end - 1}/${size}`;
  headers['content-length'] = r.end - r.start;
  res.writeHead(r.status, headers);
  if (req.method === 'HEAD' || r.end === r.start) {
    res.end();
    return null;
  }
  return r;
}

function sendFile(req: IncomingMessage, res: ServerResponse, file: { fd: number; st: Stats }, rel: string) {
  const { fd, st } = file;
  const r = head(req, res, st.size, { 'content-type': contentType(rel), 'last-modified': st.mtime.toUTCString() });
  if (!r) return closeSync(fd);
  // pipeline: a client that goes away also ends the read (and closes the descriptor).
  pipeline(createReadStream('', { fd, start: r.start, end: r.end - 1 }), res, () => {});
}

/** A chunk an upstream store sent, from memory. */
function sendBytes(req: IncomingMessage, res: ServerResponse, body: Uint8Array) {
  const r = head(req, res, body.length, { 'content-type': 'application/octet-stream' });
  if (r) res.end(body.subarray(r.start, r.end));
}

function contentType(path: string): string {
  if (path.endsWith('.html')) return 'text/html; charset=utf-8';
  if (path.endsWith('.js')) return 'text/javascript; charset=utf-8';
  if (path.endsWith('.css')) return 'text/css; charset=utf-8';
  if (path.endsWith('.wasm')) return 'application/wasm';
  return 'application/octet-stream';
}
