// pull() and push(): the far side of an ssh locator, with casync's arguments
// (casync-format.md §7.7), speaking CA_PROTOCOL on the streams given (an ssh
// client's: standard input and output).  pull serves an index or archive and
// the chunks of the stores; push takes an index or archive and the chunks the
// write store lacks.  So casync and wasync clients alike can use wasync as
// their remote (CASYNC_REMOTE_PATH=wasync).

import type { Readable, Writable } from 'node:stream';
import { unsupported, usageError } from '../../../errors.ts';
import { RateLimiter } from '../../../stores/rate-limiter.ts';
import { servePull } from '../ssh/pull-server.ts';
import { servePush } from '../ssh/push-server.ts';

export interface PullPushOptions {
  /** casync's BASE ARCHIVE INDEX STORE [STORE…], each '-' (or empty) for none */
  args: string[];
  input: Readable;
  output: Writable;
  rateLimitBps?: number;
}

/** casync's empty_or_dash_to_null(). */
const path = (a: string | undefined) => (a === undefined || a === '' || a === '-' ? null : a);

function spec(verb: 'pull' | 'push', o: PullPushOptions) {
  if (o.args.length < 4) throw usageError(`${verb}: expected at least 4 arguments: BASE ARCHIVE INDEX STORE [STORE…] (each may be -)`);
  const [base, archive, index, store, ...extra] = o.args;
  if (path(base) !== null) throw unsupported(`${verb}: a base (${base}) is not supported, as with casync`);
  return {
    archive: path(archive),
    index: path(index),
    store: path(store),
    extra: extra.filter((s) => path(s) !== null),
    input: o.input,
    output: o.output,
    limiter: o.rateLimitBps === undefined ? null : new RateLimiter(o.rateLimitBps),
  };
}

export const pull = (o: PullPushOptions) => servePull(spec('pull', o));
export const push = (o: PullPushOptions) => servePush(spec('push', o));
