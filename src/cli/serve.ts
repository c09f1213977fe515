// wasync serve DIR [--listen=HOST:PORT] [--writable [--token=SECRET]]

import { statSync } from 'node:fs';
import { packageFile } from './package-root.ts';
import { usageError } from '../errors.ts';
import { chunkServer } from '../platform/node/serve/chunk-server.ts';
import type { GlobalOptions } from './options.ts';

export interface ServeCliOptions extends GlobalOptions {
  listen?: string;
  writable?: boolean;
}

export async function serve(dir: string, opts: ServeCliOptions): Promise<void> {
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw usageError(`${dir}: not a directory`);
  const { host, port } = parseListen(opts.listen ?? '127.0.0.1:8080');
  const token = opts.token ?? process.env.WASYNC_TOKEN ?? null;
  if (opts.writable && token === null) throw usageError('--writable needs --token=SECRET (or $WASYNC_TOKEN): uploads must be authenticated');
  const server = chunkServer({
    root: dir,
    writable: !!opts.writable,
    token,
    webRoot: packageFile('dist/web'),
    log: opts.verbose ? (line) => process.stderr.write(`${line}\n`) : undefined,
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(usageError(`--listen=${host}:${port}: ${(e as Error).message}`)));
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  const where = typeof addr === 'object' && addr ? `${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}` : `${host}:${port}`;
  process.stderr.write(`Serving ${dir} on http://${where}/${opts.writable ? ' (writable)' : ''}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => server.close(() => resolve());
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

function parseListen(v: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(v) ?? /^()()(\d+)$/.exec(v);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) throw usageError(`--listen=${v}: expected HOST:PORT`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}
