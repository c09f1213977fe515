// The client side of `casync pull` over ssh (casync-format.md §7.7): one
// connection that may carry an index or an archive and serve one store's
// chunks.  We send HELLO with PULL_INDEX, PULL_ARCHIVE and PULL_CHUNKS as
// needed; the server answers with its HELLO, streams the index (or archive) in
// INDEX frames up to INDEX_EOF, and answers our REQUESTs with CHUNK (the
// .cacnk bytes) or MISSING.  We end with GOODBYE.
//
// Chunk requests are pipelined: every id asked for in one turn of the event
// loop goes out in one REQUEST frame (up to 2040 ids), high priority, without
// waiting for earlier answers; answers are matched by id, so their order does
// not matter.  An id is requested at most once per session (casync's server
// would not answer it twice), and answers are kept for readers who ask again
// (ReplayCache).  ABORT, a malformed frame or the end of the child fails every
// waiting reader with one error naming the host and the remote command.

import { toHex } from '../../../chunk/chunk-id.ts';
import { WasyncError, networkError } from '../../../errors.ts';
import {
  CA_PROTOCOL_GOODBYE,
  CA_PROTOCOL_PULL_ARCHIVE,
  CA_PROTOCOL_PULL_CHUNKS,
  CA_PROTOCOL_PULL_INDEX,
  REQUEST_IDS_MAX,
  encodeEmpty,
  encodeHello,
  encodeRequest,
} from '../../../protocol/ca-protocol.ts';
import { CaProtocolPeer } from '../../../protocol/ca-protocol-peer.ts';
import { CHUNK_ID_SIZE } from '../../../format/constants.ts';
import { StreamQueue } from './stream-queue.ts';
import { ReplayCache, type Answer } from './replay-cache.ts';
import { SshProcess, type SessionSpec } from './ssh-process.ts';

/** Archive bytes read ahead of the extractor before the session stops reading. */
const ARCHIVE_AHEAD = 16 << 20;

interface Waiter {
  resolve(a: Answer | null): void;
  reject(e: unknown): void;
  promise: Promise<Answer | null>;
}

export class PullSession {
  readonly flags: bigint;
  private proc: SshProcess | null = null;
  private peer: CaProtocolPeer | null = null;
  private failure: WasyncError | null = null;
  private closing = false;
  private ready!: Promise<void>;
  private readonly indexBytes = new StreamQueue();
  private readonly archiveBytes = new StreamQueue(ARCHIVE_AHEAD);
  private readonly pending = new Map<string, Waiter>();
  private readonly missing = new Set<string>();
  private readonly answers = new ReplayCache();
  private outgoing: Uint8Array[] = [];
  private flushing = false;

  constructor(readonly spec: SessionSpec) {
    this.flags =
      (spec.index !== null ? CA_PROTOCOL_PULL_INDEX : 0n) |
      (spec.archive !== null ? CA_PROTOCOL_PULL_ARCHIVE : 0n) |
      (spec.store !== null ? CA_PROTOCOL_PULL_CHUNKS : 0n);
  }

  get name(): string {
    return this.proc?.name ?? `ssh ${this.spec.host}`;
  }

  /** Starts the child and the handshake once; everything else calls it. */
  start(): void {
    if (this.proc) return;
    const s = this.spec;
    this.proc = new SshProcess(
      s.host,
      { verb: 'pull', archive: s.archive, index: s.index, store: s.store, rateLimitBps: s.rateLimitBps },
      { limiter: s.limiter, verbose: s.verbose },
    );
    this.peer = new CaProtocolPeer(this.proc.name, this.flags);
    let helloIn!: () => void;
    this.ready = new Promise((resolve) => (helloIn = resolve));
    // A send fails only when the child's end is gone; receive() then reports
    // why, which says more than EPIPE.
    this.proc.channel.send(encodeHello(this.flags)).catch(() => {});
    this.receive(helloIn).catch((e) => this.fail(e));
  }

  /** The index file's bytes, as the server sends them. */
  index(): AsyncIterable<Uint8Array> {
    this.start();
    return this.indexBytes;
  }

  archive(): AsyncIterable<Uint8Array> {
    this.start();
    return this.archiveBytes;
  }

  /** The stored copy of chunk `hex` (id bytes `id`), or null if the server's stores lack it. */
  get(hex: string, id: Uint8Array): Promise<Answer | null> {
    this.start();
    if (this.failure) return Promise.reject(this.failure);
    const kept = this.answers.get(hex);
    if (kept) return Promise.resolve(kept);
    if (this.missing.has(hex)) return Promise.resolve(null);
    let w = this.pending.get(hex);
    if (!w) {
      let resolve!: Waiter['resolve'];
      let reject!: Waiter['reject'];
      const promise = new Promise<Answer | null>((res, rej) => ((resolve = res), (reject = rej)));
      w = { resolve, reject, promise };
      this.pending.set(hex, w);
      this.outgoing.push(id.slice());
      if (!this.flushing) {
        this.flushing = true;
        setImmediate(() => this.flush().catch(() => {}));
      }
    }
    return w.promise;
  }

  /** Says GOODBYE (unless the session failed) and waits for the child to exit. */
  async close(): Promise<void> {
    if (!this.proc || this.closing) return;
    this.closing = true;
    if (!this.failure) await this.proc.channel.send(encodeEmpty(CA_PROTOCOL_GOODBYE)).catch(() => {});
    else this.proc.kill();
    await this.proc.finish();
    this.answers.dispose();
  }

  private async flush(): Promise<void> {
    await this.ready;
    while (this.outgoing.length && !this.failure) {
      const ids = this.outgoing.splice(0, REQUEST_IDS_MAX);
      const packed = new Uint8Array(ids.length * CHUNK_ID_SIZE);
      ids.forEach((id, i) => packed.set(id, i * CHUNK_ID_SIZE));
      await this.proc!.channel.send(encodeRequest(packed, true));
    }
    this.flushing = false;
  }

  private async receive(helloIn: () => void): Promise<void> {
    const proc = this.proc!;
    const peer = this.peer!;
    for await (const f of proc.channel.frames()) {
      peer.accept(f);
      switch (f.kind) {
        case 'hello':
          helloIn();
          break;
        case 'index':
          void this.indexBytes.push(f.data);
          break;
        case 'index-eof':
          this.indexBytes.end();
          break;
        case 'archive':
          await this.archiveBytes.push(f.data);
          break;
        case 'archive-eof':
          this.archiveBytes.end();
          break;
        case 'chunk': {
          const hex = toHex(f.id);
          const a = { data: f.data.slice(), compressed: f.compressed };
          this.answers.put(hex, a);
          this.settle(hex, a);
          break;
        }
        case 'missing': {
          const hex = toHex(f.id);
          this.missing.add(hex);
          this.settle(hex, null);
          break;
        }
        case 'abort':
          throw networkError(`${proc.name}: the remote aborted: ${f.reason || 'no reason given'}${f.error ? ` (error ${f.error})` : ''}`);
        case 'goodbye':
          break;
      }
    }
    if (this.closing) return;
    const { code, signal } = await proc.exited;
    if (!code && !signal) proc.channel.parser.end();
    throw await proc.failure(peer.remote === null ? 'before its HELLO' : 'the session early');
  }

  private settle(hex: string, a: Answer | null) {
    const w = this.pending.get(hex);
    if (!w) return;
    this.pending.delete(hex);
    w.resolve(a);
  }

  private fail(e: unknown) {
    if (this.closing && !this.pending.size) return;
    const err = e instanceof WasyncError ? e : networkError(`${this.name}: ${(e as Error)?.message ?? String(e)}`, e);
    if (this.failure) return;
    this.failure = err;
    for (const w of this.pending.values()) w.reject(err);
    this.pending.clear();
    this.indexBytes.fail(err);
    this.archiveBytes.fail(err);
    this.proc?.kill();
  }
}
