// Where `make` writes an index or archive: a local file, written under a temporary
// name and renamed into place (AtomicFile), or a URL, written to a temporary
// local file first and uploaded (PUT) only once complete, so a server never sees
// a partial index either.

import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { networkError } from '../errors.ts';
import { AtomicFile } from '../platform/node/atomic-file.ts';
import { classifyLocator } from '../stores/locator.ts';
import type { HttpClient } from '../stores/http-client.ts';

export interface OutputTarget {
  readonly fd: number;
  readonly tmpPath: string;
  chmod(mode: number): void;
  commit(): Promise<void>;
  abort(): void;
}

export function openOutputTarget(loc: string, client: HttpClient, mode = 0o666): OutputTarget {
  if (classifyLocator(loc) !== 'url') {
    const f = new AtomicFile(loc, mode);
    return { fd: f.fd, tmpPath: f.tmpPath, chmod: (m) => f.chmod(m), commit: async () => f.commit(), abort: () => f.abort() };
  }
  const staged = new AtomicFile(join(tmpdir(), 'wasync-upload'), 0o600);
  return {
    fd: staged.fd,
    tmpPath: staged.tmpPath,
    chmod: () => {},
    async commit() {
      try {
        const status = await client.send('PUT', loc, readFileSync(staged.tmpPath));
        if (status < 200 || status > 299) {
          const why = status === 401 || status === 403 ? ' (a writable server and the right --token are needed)' : '';
          throw networkError(`${loc}: PUT answered ${status}${why}`);
        }
      } finally {
        staged.abort();
      }
    },
    abort: () => staged.abort(),
  };
}
