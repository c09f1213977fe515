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
import { unsupported } from '../errors.ts';
import { AtomicFile } from '../platform/node/io/atomic-file.ts';
import { LocalStore } from '../platform/node/stores/local-store.ts';
import { pushSession } from '../platform/node/ssh/push-session.ts';
import { splitSshLocator } from '../platform/node/ssh/ssh-process.ts';
import { formatBytes } from '../format/units.ts';
import { Log } from './log.ts';
import type { OutputTarget } from './output-target.ts';
import type { SshOptions } from './ssh-remotes.ts';
import { isSsh } from './ssh-remotes.ts';

/**
 * The target for `loc` (an ssh locator).  `store` is the make's store locator,
 * null for an archive; `cache` the --cache store, if any.
 */
export function sshPushTarget(loc: string, store: string | null, cache: string | null, o: SshOptions): OutputTarget {
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
  const cleanup = () => {
    staged.abort();
    if (temporary) rmSync(temporary, { recursive: true, force: true });
    temporary = null;
  };
  return {
    fd: staged.fd,
    tmpPath: staged.tmpPath,
    chunkStore: staging ?? undefined,
    chmod: () => {},
    async commit() {
      try {
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
        const log = new Log(o.verbose);
        if (remoteStore !== null) log.info(`Pushed ${r.sent} chunks (${formatBytes(r.sentBytes)}) to ${store}`);
        if (r.missing.length) log.warn(`${r.missing.length} chunks asked for by ${dest.host} were not in ${staging}, first ${r.missing[0]}`);
      } finally {
        cleanup();
      }
    },
    abort: cleanup,
  };
}
