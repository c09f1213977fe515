// The ssh connections one run reads through, opened the way casync opens them
// (casync-format.md §7.7): an index or archive on `host:` gets a session of its
// own, which also serves the first ssh store on the same host (`pull - - INDEX
// STORE`, one ssh process for both); every other ssh store gets a session that
// only serves chunks (`pull - - - STORE`), started when a chunk is first asked
// of it.  Worker threads reach the stores' sessions through one StoreRelay,
// their relay locators in the RemoteConfig every job carries.

import { fromHex } from '../chunk/chunk-id.ts';
import type { IndexInput } from '../platform/node/io/index-input.ts';
import { StoreRelay } from '../platform/node/stores/store-relay.ts';
import { PullSession } from '../platform/node/ssh/pull-session.ts';
import { splitSshLocator } from '../platform/node/ssh/ssh-process.ts';
import { classifyLocator } from '../stores/locator.ts';
import type { RateLimiter } from '../stores/rate-limiter.ts';

export const isSsh = (loc: string | null): loc is string => loc !== null && classifyLocator(loc) === 'ssh';

export interface SshOptions {
  rateLimitBps: number | null;
  limiter: RateLimiter | null;
  verbose: boolean;
}

export class SshRemotes {
  private readonly sessions: PullSession[] = [];
  private readonly byStore = new Map<string, PullSession>();
  private relay: StoreRelay | null = null;
  /** ssh store → its locator on the relay */
  private readonly relayed = new Map<string, string>();

  constructor(readonly options: SshOptions) {}

  /**
   * Prepares the sessions for reading `stores` (all locators; only ssh ones
   * matter) and, if given, an index or archive on an ssh host; returns the
   * session that carries the index or archive.
   */
  prepare(stores: readonly string[], file: { index?: string | null; archive?: string | null } = {}): PullSession | null {
    let main: PullSession | null = null;
    const loc = isSsh(file.index ?? null) ? file.index! : isSsh(file.archive ?? null) ? file.archive! : null;
    if (loc !== null) {
      const { host, path } = splitSshLocator(loc);
      const shared = stores.find((s) => isSsh(s) && !this.byStore.has(s) && splitSshLocator(s).host === host) ?? null;
      main = this.session({
        host,
        index: loc === file.index ? path : null,
        archive: loc === file.archive ? path : null,
        store: shared === null ? null : splitSshLocator(shared).path,
      });
      if (shared !== null) this.byStore.set(shared, main);
    }
    for (const s of stores) {
      if (!isSsh(s) || this.byStore.has(s)) continue;
      const { host, path } = splitSshLocator(s);
      this.byStore.set(s, this.session({ host, index: null, archive: null, store: path }));
    }
    return main;
  }

  /** An ssh index as an IndexInput (its size is not known before it is read). */
  openIndex(loc: string, stores: readonly string[]): IndexInput {
    const session = this.prepare(stores, { index: loc })!;
    return { name: loc, bytes: session.index(), blobSize: null };
  }

  /** The bytes of an archive on an ssh host. */
  openArchive(loc: string): AsyncIterable<Uint8Array> {
    return this.prepare([], { archive: loc })!.archive();
  }

  /** What worker threads need to reach the ssh stores: their relay locators, or null without ssh stores. */
  relayConfig(): Record<string, string> | null {
    if (!this.byStore.size) return null;
    this.relay ??= new StoreRelay();
    for (const [store, session] of this.byStore) {
      if (this.relayed.has(store)) continue;
      this.relayed.set(store, this.relay.add({ get: (hex) => session.get(hex, fromHex(hex)!) }, store));
    }
    return Object.fromEntries(this.relayed);
  }

  /** Ends every session (GOODBYE, then waiting for the remote command to exit). */
  async close(): Promise<void> {
    this.relay?.close();
    this.relay = null;
    this.relayed.clear();
    await Promise.all(this.sessions.map((s) => s.close()));
  }

  private session(spec: { host: string; index: string | null; archive: string | null; store: string | null }): PullSession {
    const s = new PullSession({
      ...spec,
      rateLimitBps: this.options.rateLimitBps,
      limiter: this.options.limiter,
      verbose: this.options.verbose,
    });
    this.sessions.push(s);
    return s;
  }
}
