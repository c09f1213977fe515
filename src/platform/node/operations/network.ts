// How an operation reaches remote indexes, archives and stores: its share of
// requests in flight (--concurrency), a bandwidth shared by every request of
// every thread (--rate-limit-bps), the bearer token, and the retry policy of
// remote stores, the TLS settings.  The defaults live here and nowhere else.  One Network per
// operation: a client for this thread, and the NetSpec jobs carry to theirs.

import { usageError } from '../../../errors.ts';
import type { HttpClient, TlsOptions } from '../../../stores/http-client.ts';
import { RateLimiter } from '../../../stores/rate-limiter.ts';
import type { NetSpec } from '../../../stores/store-graph.ts';
import { SshRemotes } from '../ssh/ssh-remotes.ts';
import { httpClient } from '../storage/node-fetch.ts';

export const DEFAULT_CONCURRENCY = 16;
/** attempts per request, the first included, and how long a request may go without a byte */
const ATTEMPTS = 6;
const TIMEOUT_MS = 30_000;

export interface NetworkOptions {
  /** requests to remote stores in flight at once, over all threads (default 16) */
  concurrency?: number;
  /** bytes per second for remote indexes, archives and stores, shared by all requests */
  rateLimitBps?: number;
  /** sent to HTTP servers as "Authorization: Bearer …" (a writable `wasync serve` needs it) */
  token?: string;
  /** pass on what the far side of an ssh connection says on its standard error */
  verbose?: boolean;
  /** the CAs to trust instead of the platform's, and a client certificate, for https:// and s3+https:// (PEM text) */
  tls?: TlsOptions;
}

export class Network {
  readonly concurrency: number;
  readonly limiter: RateLimiter | null;
  readonly token: string | undefined;
  readonly verbose: boolean;
  /** requests made on this thread: indexes, archives, uploads */
  readonly client: HttpClient;
  /** the operation's ssh connections, opened when first used */
  readonly ssh: SshRemotes;

  constructor(o: NetworkOptions = {}) {
    this.concurrency = positive('concurrency', o.concurrency ?? DEFAULT_CONCURRENCY);
    this.limiter = o.rateLimitBps === undefined ? null : new RateLimiter(positive('rateLimitBps', o.rateLimitBps));
    this.token = o.token || undefined;
    this.verbose = !!o.verbose;
    const tls = o.tls && (o.tls.ca || o.tls.cert || o.tls.key) ? o.tls : undefined;
    this.client = httpClient({ attempts: ATTEMPTS, timeoutMs: TIMEOUT_MS, token: this.token, tls, rateLimiter: this.limiter });
    this.ssh = new SshRemotes({ rateLimitBps: this.limiter?.bytesPerSecond ?? null, limiter: this.limiter, verbose: this.verbose });
  }

  /** Ends the ssh sessions. */
  close(): Promise<void> {
    return this.ssh.close();
  }

  /** The settings for stores used on `threads` threads. */
  spec(threads: number): NetSpec {
    const limit = this.limiter;
    return {
      concurrency: this.concurrency,
      threads,
      attempts: ATTEMPTS,
      timeoutMs: TIMEOUT_MS,
      rateLimit: limit && { bytesPerSecond: limit.bytesPerSecond, state: limit.state },
    };
  }
}

function positive(name: string, n: number): number {
  if (!(Number.isSafeInteger(n) && n >= 1)) throw usageError(`${name} ${n}: expected a positive whole number`);
  return n;
}
