// serve(): the indexes, archives and chunk stores under a directory over HTTP
// (serve/chunk-server.ts), until the signal is aborted.  With `writable` it
// takes uploads, and then only with the bearer token, each checked as it arrives.

import { statSync } from 'node:fs';
import { usageError } from '../../../errors.ts';
import { chunkServer } from '../serve/chunk-server.ts';
import type { ChunkSizes } from '../../../chunker/sizes.ts';
import { chunkSizes } from './common.ts';

export interface ServeOptions {
  dir: string;
  /** HOST:PORT or PORT (default 127.0.0.1:8080; port 0 picks a free one) */
  listen?: string;
  /** accept uploads (PUT) of verified chunks, indexes and archives; needs `token` */
  writable?: boolean;
  token?: string;
  /** `[MIN:]AVG[:MAX]`: an uploaded chunk may decompress to MAX bytes at most (default 16 MiB) */
  chunkSize?: string | ChunkSizes;
  /** the built verification page, served under /_web/ */
  webRoot?: string | null;
  /** stops serving when aborted */
  signal?: AbortSignal;
  /** the server listens, at this URL */
  onListening?(url: string): void;
  /** a line per request */
  onLog?(line: string): void;
}

export async function serve(o: ServeOptions): Promise<void> {
  if (!statSync(o.dir, { throwIfNoEntry: false })?.isDirectory()) throw usageError(`${o.dir}: not a directory`);
  const { host, port } = parseListen(o.listen ?? '127.0.0.1:8080');
  if (o.writable && !o.token) throw usageError('--writable needs --token=SECRET (or $WASYNC_TOKEN): uploads must be authenticated');
  const chunkMax = o.chunkSize === undefined ? undefined : chunkSizes(o.chunkSize).max;
  const server = chunkServer({ root: o.dir, writable: !!o.writable, token: o.token ?? null, webRoot: o.webRoot ?? null, chunkMax, log: o.onLog });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(usageError(`--listen=${host}:${port}: ${(e as Error).message}`)));
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  const where = typeof addr === 'object' && addr ? `${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}` : `${host}:${port}`;
  o.onListening?.(`http://${where}/`);
  await new Promise<void>((resolve) => {
    const stop = () => server.close(() => resolve());
    if (o.signal?.aborted) stop();
    else o.signal?.addEventListener('abort', stop, { once: true });
  });
}

function parseListen(v: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(v) ?? /^()()(\d+)$/.exec(v);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) throw usageError(`--listen=${v}: expected HOST:PORT`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}
