// wasync [--rate-limit-bps=N] pull|push - ARCHIVE|- INDEX|- WSTORE|- [RSTORE…]
//
// The verbs an ssh client runs on the far side of a `host:path` locator, with
// casync's arguments (casync-format.md §7.7), speaking CA_PROTOCOL on stdin and
// stdout: `pull` serves an index or archive and the chunks of the stores,
// `push` takes an index or archive and the chunks the write store lacks.  So
// casync and wasync clients alike can use wasync as their remote
// (CASYNC_REMOTE_PATH=wasync).  Nothing else may be written to stdout.

import { unsupported, usageError } from '../errors.ts';
import { servePull } from '../platform/node/ssh/pull-server.ts';
import { servePush } from '../platform/node/ssh/push-server.ts';
import { RateLimiter } from '../stores/rate-limiter.ts';
import type { GlobalOptions } from './options.ts';

/** casync's empty_or_dash_to_null(). */
const path = (a: string | undefined) => (a === undefined || a === '' || a === '-' ? null : a);

export async function pullPush(verb: 'pull' | 'push', args: string[], opts: GlobalOptions): Promise<void> {
  if (args.length < 4) throw usageError(`${verb}: expected at least 4 arguments: BASE ARCHIVE INDEX STORE [STORE…] (each may be -)`);
  const [base, archive, index, store, ...extra] = args;
  if (path(base) !== null) throw unsupported(`${verb}: a base (${base}) is not supported, as with casync`);
  let limiter: RateLimiter | null = null;
  if (opts.rateLimitBps !== undefined) {
    const bps = /^\d+$/.test(opts.rateLimitBps) ? Number(opts.rateLimitBps) : NaN;
    if (!(bps >= 1 && Number.isSafeInteger(bps))) throw usageError(`--rate-limit-bps=${opts.rateLimitBps}: expected a positive whole number`);
    limiter = new RateLimiter(bps);
  }
  const spec = {
    archive: path(archive),
    index: path(index),
    store: path(store),
    extra: extra.filter((s) => path(s) !== null),
    input: process.stdin,
    output: process.stdout,
    limiter,
  };
  if (verb === 'pull') await servePull(spec);
  else await servePush(spec);
}
