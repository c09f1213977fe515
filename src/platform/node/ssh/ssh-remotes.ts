// The ssh connections one run reads through, opened the way casync opens them
// (casync-format.md §7.7): an index or archive on `host:` gets a session of its
// own, which also serves the first ssh store on the same host (`pull - - INDEX
// STORE`, one ssh process for both); every other ssh store gets a session that
// only serves chunks (`pull - - - STORE`), started when a chunk is first asked
// of it.  Each ssh store is a ChunkStore over its session (store()); worker
// threads reach it through the operation's store relay, since the session
// lives on this thread.

import { fromHex } from '../../../chunk/chunk-id.ts';
import { storedUncompressed } from '../../../chunk/compression.ts';
import { unsupported } from '../../../errors.ts';
import type { ChunkStore } from '../../../stores/store.ts';
import type { IndexInput } from '../io/index-input.ts';
import { PullSession } from './pull-session.ts';
import { splitSshLocator } from './ssh-process.ts';
import { classifyLocator } from '../../../stores/locator.ts';
import type { RateLimiter } from '../../../stores/rate-limiter.ts';

export const isSsh = (loc: string | null): loc is string => loc !== null && classifyLocator(loc) === 'ssh';

export interface SshOptions {
  rateLimitBps: number | null;
  limiter: RateLimiter | null;
  verbose: boolean;
}

export class SshRemotes {
  private readonly sessions: PullSession[] = [];
  private readonly byStore = new Map<string, PullSession>();

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

  /** The ssh store `loc` (its session is started when a chunk is first asked of it). */
  store(loc: string): ChunkStore {
    this.prepare([loc]);
    const session = this.byStore.get(loc)!;
    return {
      name: loc,
      where: (id) => `${loc} (chunk ${id})`,
      async get(id) {
        const a = await session.get(id, fromHex(id)!);
        return a && (a.compressed ? a.data : storedUncompressed(a.data));
      },
      has: async () => {
        throw unsupported(`${loc}: an ssh store only serves the chunks asked for`);
      },
      close: async () => {},
    };
  }

  /** Ends every session (GOODBYE, then waiting for the remote command to exit). */
  async close(): Promise<void> {
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
