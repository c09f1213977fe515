// How this run reaches remote indexes, archives and stores: --concurrency,
// --rate-limit-bps, --cache and the bearer token ($WASYNC_TOKEN or --token), as
// one HttpClient for this thread and a RemoteConfig for the worker threads, the
// rate limit's clock shared by all of them; and the run's ssh connections
// (ssh-remotes.ts), which worker threads reach through the main thread.

import type { RemoteConfig } from '../platform/node/pool/jobs.ts';
import { openIndexLocator, type IndexInput } from '../platform/node/io/index-input.ts';
import { HttpClient } from '../stores/http-client.ts';
import { RateLimiter } from '../stores/rate-limiter.ts';
import { usageError } from '../errors.ts';
import type { GlobalOptions } from './options.ts';
import { SshRemotes, isSsh } from './ssh-remotes.ts';

export const DEFAULT_CONCURRENCY = 16;

export interface RemoteOptions {
  concurrency?: string;
  rateLimitBps?: string;
  cache?: string;
  token?: string;
}

export class RemoteContext {
  readonly concurrency: number;
  readonly client: HttpClient;
  readonly ssh: SshRemotes;
  /** the --cache store, or null */
  readonly cache: string | null;
  private readonly limiter: RateLimiter | null;
  private readonly base: Omit<RemoteConfig, 'concurrency'>;

  constructor(opts: GlobalOptions) {
    this.concurrency = positive('concurrency', opts.concurrency, DEFAULT_CONCURRENCY);
    const bps = opts.rateLimitBps === undefined ? null : positive('rate-limit-bps', opts.rateLimitBps, 0);
    this.limiter = bps === null ? null : new RateLimiter(bps);
    const token = opts.token ?? process.env.WASYNC_TOKEN;
    this.base = {
      attempts: 6,
      timeoutMs: 30_000,
      token,
      rateLimit: this.limiter && { bytesPerSecond: this.limiter.bytesPerSecond, state: this.limiter.state },
      cache: opts.cache ?? null,
    };
    this.client = new HttpClient({ ...this.base, rateLimiter: this.limiter });
    this.cache = opts.cache ?? null;
    this.ssh = new SshRemotes({ rateLimitBps: bps, limiter: this.limiter, verbose: !!opts.verbose });
  }

  /** The configuration for jobs spread over `threads` threads. */
  config(threads: number): RemoteConfig {
    return {
      ...this.base,
      concurrency: Math.max(1, Math.ceil(this.concurrency / Math.max(1, threads))),
      ssh: this.ssh.relayConfig(),
    };
  }

  /**
   * An index from a path, standard input (null), a URL or an ssh host; also
   * prepares the ssh connections `stores` need (an ssh index shares its
   * connection with a store on the same host, as casync does).
   */
  async openIndex(loc: string | null, stores: readonly string[]): Promise<IndexInput> {
    if (isSsh(loc)) return this.ssh.openIndex(loc, stores);
    this.ssh.prepare(stores);
    return openIndexLocator(loc, this.client);
  }

  /** Ends the run's ssh sessions. */
  async close(): Promise<void> {
    await this.ssh.close();
  }
}

function positive(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = /^\d+$/.test(v) ? Number(v) : NaN;
  if (!(n >= 1 && Number.isSafeInteger(n))) throw usageError(`--${name}=${v}: expected a positive whole number`);
  return n;
}
