// How an operation reaches remote indexes, archives and stores: its share of
// requests in flight (--concurrency), a bandwidth shared by every request of
// every thread (--rate-limit-bps), the bearer token, and the retry policy of
// remote stores, the client's TLS settings.  The defaults live here and nowhere else.  One Network per
// operation: a client for this thread, and the NetSpec jobs carry to theirs.
// The configuration file's per-store options (config-match.ts) refine them
// store by store, except where the caller gave a value: that wins.

import { resolve } from 'node:path';
import { usageError } from '../../../errors.ts';
import { leafSettings, locationKey, storeOptionsFor, withoutKeys } from '../../../stores/config-match.ts';
import type { HttpClient, TlsOptions } from '../../../stores/http-client.ts';
import { RateLimiter } from '../../../stores/rate-limiter.ts';
import { Semaphore } from '../../../stores/semaphore.ts';
import { EMPTY_CONFIG, type StoreOptions, type WasyncConfig } from '../../../stores/store-config.ts';
import type { NetSpec } from '../../../stores/store-graph.ts';
import { SshRemotes } from '../ssh/ssh-remotes.ts';
import { httpClient } from '../storage/node-fetch.ts';

export const DEFAULT_CONCURRENCY = 16;
/** attempts per request, the first included, and how long a request may go without a byte */
const ATTEMPTS = 6;
const TIMEOUT_MS = 30_000;

/** What a store gets that neither the configuration nor the caller sets (the client's first backoff is 200 ms). */
export const DEFAULT_STORE_OPTIONS: StoreOptions = { timeoutMs: TIMEOUT_MS, retries: ATTEMPTS - 1, retryBaseMs: 200, concurrency: DEFAULT_CONCURRENCY };

export interface NetworkOptions {
  /** requests to remote stores in flight at once, over all threads (default 16) */
  concurrency?: number;
  /** bytes per second for remote indexes, archives and stores, shared by all requests */
  rateLimitBps?: number;
  /** sent to HTTP servers as "Authorization: Bearer …" (a writable `wasync serve` needs it) */
  token?: string;
  /** pass on what the far side of an ssh connection says on its standard error */
  verbose?: boolean;
  /** per-store options and S3 credentials (loadConfig(), or plain data); what is given above wins */
  config?: WasyncConfig;
  /** the CAs to trust instead of the platform's, and a client certificate, for https:// and s3+https:// (PEM text) */
  tls?: TlsOptions;
}

/** A store location as the configuration's keys are matched against it. */
export const configKey = (loc: string) => locationKey(loc, (p) => resolve(p));

export class Network {
  readonly concurrency: number;
  readonly limiter: RateLimiter | null;
  readonly token: string | undefined;
  readonly verbose: boolean;
  /** requests made on this thread: indexes, archives, uploads */
  readonly client: HttpClient;
  /** the operation's ssh connections, opened when first used */
  readonly ssh: SshRemotes;
  /** the configuration, less what the caller gave */
  readonly config: WasyncConfig;
  /** the caller's TLS settings (--ca-cert …), which win over the configuration's files */
  private readonly tls: TlsOptions | undefined;
  private readonly stores = new Map<string, { client: HttpClient; gate?: Semaphore }>();
  private readonly limits = new Map<string, RateLimiter>();

  constructor(o: NetworkOptions = {}) {
    this.concurrency = positive('concurrency', o.concurrency ?? DEFAULT_CONCURRENCY);
    this.limiter = o.rateLimitBps === undefined ? null : new RateLimiter(positive('rateLimitBps', o.rateLimitBps));
    this.token = o.token || undefined;
    this.verbose = !!o.verbose;
    this.tls = o.tls && (o.tls.ca || o.tls.cert || o.tls.key) ? o.tls : undefined;
    this.ssh = new SshRemotes({ rateLimitBps: this.limiter?.bytesPerSecond ?? null, limiter: this.limiter, verbose: this.verbose });
    const given: (keyof StoreOptions)[] = [];
    if (o.concurrency !== undefined) given.push('concurrency');
    if (o.rateLimitBps !== undefined) given.push('rateLimitBps');
    this.config = withoutKeys(o.config ?? EMPTY_CONFIG, given);
    this.client = httpClient({ attempts: ATTEMPTS, timeoutMs: TIMEOUT_MS, token: this.token, tls: this.tls, rateLimiter: this.limiter, config: this.config });
  }

  /**
   * The client (and gate, if the store has its own concurrency) for the
   * remote store at `loc` on this thread: the operation's, unless the
   * configuration gives the store options of its own.
   */
  store(loc: string): { client: HttpClient; gate?: Semaphore } {
    const key = configKey(loc);
    let s = this.stores.get(key);
    if (s) return s;
    const own = storeOptionsFor(this.config, key);
    if (!Object.keys(own).length) s = { client: this.client };
    else {
      if (own.rateLimitBps !== undefined && !this.limits.has(key)) this.limits.set(key, new RateLimiter(own.rateLimitBps));
      const l = leafSettings(this.spec(1), key);
      s = {
        client: httpClient({
          attempts: l.attempts,
          timeoutMs: l.timeoutMs,
          backoffMs: l.backoffMs,
          token: this.token,
          rateLimiter: l.rateLimit ? new RateLimiter(l.rateLimit.bytesPerSecond, l.rateLimit.state) : this.limiter,
          config: this.config,
          tls: this.tls,
          tlsFiles: l.tls,
        }),
        gate: l.concurrency ? new Semaphore(l.concurrency) : undefined,
      };
    }
    this.stores.set(key, s);
    return s;
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
      config: this.config,
      limits: Object.fromEntries([...this.limits].map(([k, l]) => [k, { bytesPerSecond: l.bytesPerSecond, state: l.state }])),
    };
  }
}

function positive(name: string, n: number): number {
  if (!(Number.isSafeInteger(n) && n >= 1)) throw usageError(`${name} ${n}: expected a positive whole number`);
  return n;
}
