// Where `make` writes an index or archive: a local file, written under a temporary
// name and renamed into place (AtomicFile), or a URL, written to a temporary
// local file first and uploaded (PUT) only once complete, so a server never sees
// a partial index either.  An ssh location ([user@]host:path) is made locally
// and pushed when complete (ssh-push-target.ts), its chunks made into a local
// staging store first.

import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { networkError, unsupported } from '../errors.ts';
import { AtomicFile } from '../platform/node/io/atomic-file.ts';
import { classifyLocator } from '../stores/locator.ts';
import type { RemoteContext } from './remote.ts';
import { sshPushTarget } from './ssh-push-target.ts';

export interface OutputTarget {
  readonly fd: number;
  readonly tmpPath: string;
  /** where `make` puts the chunks instead of its store: a staging store for an ssh push */
  readonly chunkStore?: string;
  chmod(mode: number): void;
  commit(): Promise<void>;
  abort(): void;
}

/** `store`: the store locator of the index being made (null for an archive), for an ssh push. */
export function openOutputTarget(loc: string, remote: RemoteContext, mode = 0o666, store: string | null = null): OutputTarget {
  const client = remote.client;
  if (classifyLocator(loc) === 'ssh') return sshPushTarget(loc, store, remote.cache, remote.ssh.options);
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

/** The local store `make` writes chunks to: the target's staging store when pushing over ssh, else `store`. */
export function chunkStoreFor(target: OutputTarget | null, store: string | null): string | null {
  if (target?.chunkStore !== undefined) return target.chunkStore;
  if (store !== null && classifyLocator(store) === 'ssh') {
    throw unsupported(`${store}: chunks can be pushed to an ssh store only with the index on the same host (make HOST:PATH.caidx), as with casync`);
  }
  return store;
}
