// `make HOST:PATH.caidx|.caibx|.catar …`: the index or archive is made locally
// first, into a temporary file, and its chunks into a local staging store (the
// --cache store if there is one, else a temporary directory under $TMPDIR or
// /var/tmp, removed afterwards); committing the target then pushes it with
// `push - - PATH STORE` (or `push - PATH - -` for an archive) and answers the
// remote's requests from the staging store (push-session.ts).  casync pushes
// the same way, from a cache store, when the index and the store are on one
// host.  A store on another host is refused, as casync cannot push there
// either; a local store takes the chunks directly and only the index is pushed.

import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unsupported } from '../../../errors.ts';
import { AtomicFile } from '../io/atomic-file.ts';
import { LocalStore } from '../storage/local-store.ts';
import { pushSession, type PushResult } from './push-session.ts';
import { splitSshLocator } from './ssh-process.ts';
import type { SshOptions } from './ssh-remotes.ts';
import { isSsh } from './ssh-remotes.ts';

export interface SshPushTarget {
  /** where the index or archive is written before it is pushed */
  readonly staged: AtomicFile;
  /** the local store make puts the chunks in: a staging store when they are pushed too */
  readonly chunkStore: string | null;
  /** pushes the file (and the chunks the remote store asks for); null when no chunks were to go */
  push(): Promise<(PushResult & { store: string; staging: string }) | null>;
  /** removes the staged file and a temporary staging store */
  cleanup(): void;
}

/**
 * The target for `loc` (an ssh locator).  `store` is the make's store locator,
 * null for an archive; `cache` the --cache store, if any.
 */
export function sshPushTarget(loc: string, store: string | null, cache: string | null, o: SshOptions): SshPushTarget {
  const dest = splitSshLocator(loc);
  let remoteStore: string | null = null;
  let staging: string | null = store;
  let temporary: string | null = null;
  if (store !== null && isSsh(store)) {
    const s = splitSshLocator(store);
    if (s.host !== dest.host) {
      throw unsupported(`${store}: chunks can be pushed only to a store on the index's host (${dest.host}:), as with casync`);
    }
    remoteStore = s.path;
    if (cache !== null) staging = cache;
    else staging = temporary = mkdtempSync(join(process.env.TMPDIR || '/var/tmp', 'wasync-push-'));
  }
  const staged = new AtomicFile(join(tmpdir(), 'wasync-push'), 0o600);
  return {
    staged,
    chunkStore: staging,
    async push() {
      const r = await pushSession(
        {
          host: dest.host,
          index: store === null ? null : dest.path,
          archive: store === null ? dest.path : null,
          store: remoteStore,
          rateLimitBps: o.rateLimitBps,
          limiter: o.limiter,
          verbose: o.verbose,
        },
        createReadStream(staged.tmpPath, { highWaterMark: 1 << 20 }),
        remoteStore === null ? null : new LocalStore(staging!),
      );
      return remoteStore === null ? null : { ...r, store: store!, staging: staging! };
    },
    cleanup() {
      staged.abort();
      if (temporary) rmSync(temporary, { recursive: true, force: true });
      temporary = null;
    },
  };
}
