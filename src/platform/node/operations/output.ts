// Where `make` writes an index or archive: a local file, written under a
// temporary name and renamed into place; a URL, written to a temporary local
// file first and uploaded (PUT) only once complete, so a server never sees a
// partial index either; an ssh location, made locally and pushed when
// complete (ssh/ssh-push-target.ts), its chunks into a local staging store
// first; standard output ('-'); or memory, when no output is given.

import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { networkError } from '../../../errors.ts';
import { classifyLocator } from '../../../stores/locator.ts';
import { AtomicFile } from '../io/atomic-file.ts';
import { BufferedOutput } from '../io/buffered-output.ts';
import { sshPushTarget } from '../ssh/ssh-push-target.ts';
import type { PushResult } from '../ssh/push-session.ts';
import type { Network } from './network.ts';

export interface Pushed extends PushResult {
  store: string;
  staging: string;
}

export class MadeOutput {
  private readonly file: AtomicFile | null = null;
  private readonly out: BufferedOutput | null = null;
  private readonly parts: Uint8Array[] = [];
  private readonly finishing: () => Promise<Pushed | null> = async () => null;
  private readonly cleanup: () => void = () => {};
  /** where make puts new chunks instead of its store (an ssh push's staging store) */
  readonly chunkStore: string | null = null;

  /**
   * `loc`: a path, URL, ssh location or '-'; undefined keeps the bytes in
   * memory.  `mode`: the file's permission bits.  `store`: the make's store
   * locator (null for an archive), `cache` the --cache store, for an ssh push.
   */
  constructor(
    readonly loc: string | undefined,
    net: Network,
    o: { mode: number; store?: string | null; cache?: string | null },
  ) {
    if (loc === undefined) return;
    if (loc === '-') {
      this.out = new BufferedOutput(null, 'standard output');
      return;
    }
    const kind = classifyLocator(loc);
    if (kind === 'ssh') {
      const t = sshPushTarget(loc, o.store ?? null, o.cache ?? null, { rateLimitBps: net.limiter?.bytesPerSecond ?? null, limiter: net.limiter, verbose: net.verbose });
      this.file = t.staged;
      this.chunkStore = t.chunkStore;
      this.finishing = () => t.push();
      this.cleanup = () => t.cleanup();
    } else if (kind === 'url') {
      const staged = (this.file = new AtomicFile(join(tmpdir(), 'wasync-upload'), 0o600));
      this.finishing = async () => {
        const status = await net.client.send('PUT', loc, readFileSync(staged.tmpPath));
        if (status < 200 || status > 299) {
          const why = status === 401 || status === 403 ? ' (a writable server and the right --token are needed)' : '';
          throw networkError(`${loc}: PUT answered ${status}${why}`);
        }
        return null;
      };
      this.cleanup = () => staged.abort();
    } else {
      this.file = new AtomicFile(loc, o.mode);
      this.cleanup = () => this.file!.abort();
    }
    this.out = new BufferedOutput(this.file.fd, loc);
  }

  /** Sets the exact permission bits of a local file (those of the file it replaces). */
  chmod(mode: number): void {
    if (this.file && classifyLocator(this.loc!) === 'path') this.file.chmod(mode);
  }

  /** Appends, in order; small writes are gathered into large ones. */
  write(bytes: Uint8Array): Promise<void> {
    if (this.out) return this.out.write(bytes);
    this.parts.push(Uint8Array.prototype.slice.call(bytes));
    return Promise.resolve();
  }

  /** Puts the output in place (renames, uploads, pushes); memory: its bytes. */
  async commit(): Promise<{ bytes?: Uint8Array; pushed: Pushed | null }> {
    await this.out?.flush();
    if (!this.file) return { bytes: this.out ? undefined : concat(this.parts), pushed: null };
    if (classifyLocator(this.loc!) === 'path') {
      this.file.commit();
      return { pushed: null };
    }
    try {
      return { pushed: await this.finishing() };
    } finally {
      this.cleanup();
    }
  }

  abort(): void {
    this.cleanup();
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return all;
}
