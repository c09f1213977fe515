// How worker threads reach the ssh connections, which live on the main thread
// (one child process per connection, and a CA_PROTOCOL session that must see
// every request to avoid asking for an id twice).  A worker's store reader
// (SshStoreReader, what StoreSet.remote() returns for an ssh locator) posts
// { store, hex } on a BroadcastChannel named in the job's RemoteConfig; the
// main thread's ChunkRelay passes it to that store's PullSession and posts the
// answer (the stored bytes, null for MISSING, or the session's error) back on
// the asking thread's own reply channel, so each answer is copied to one
// thread only.  BroadcastChannel also delivers within a thread, so the same
// path serves jobs run on the main thread.  Channels are unref'd: they never
// keep a process alive on their own.

import { BroadcastChannel, threadId } from 'node:worker_threads';
import { randomBytes } from 'node:crypto';
import { fromHex } from '../../../chunk-id.ts';
import { WasyncError, networkError, type ErrorCode } from '../../../errors.ts';
import type { ChunkStoreReader, StoredChunk } from '../../../engine/random-access.ts';
import type { Answer } from './replay-cache.ts';

interface RelayRequest {
  store: string;
  hex: string;
  seq: number;
  reply: string;
}

interface RelayReply {
  seq: number;
  answer?: Answer | null;
  error?: { code: ErrorCode | null; message: string };
}

/** The main thread's end: answers chunk requests from any thread. */
export class ChunkRelay {
  readonly channel = `wasync-ssh-${process.pid}-${randomBytes(6).toString('hex')}`;
  private readonly requests: BroadcastChannel;
  private readonly replies = new Map<string, BroadcastChannel>();
  private closed = false;

  /** `get` fetches one chunk from the session serving `store`. */
  constructor(private readonly get: (store: string, hex: string, id: Uint8Array) => Promise<Answer | null>) {
    this.requests = new BroadcastChannel(this.channel);
    this.requests.unref();
    this.requests.onmessage = (e) => this.serve((e as { data: RelayRequest }).data);
  }

  /** Stops answering; answers still on their way are dropped (the run is over). */
  close(): void {
    this.closed = true;
    this.requests.close();
    for (const c of this.replies.values()) c.close();
    this.replies.clear();
  }

  private serve(r: RelayRequest) {
    if (this.closed) return;
    let out = this.replies.get(r.reply);
    if (!out) {
      out = new BroadcastChannel(r.reply);
      out.unref();
      this.replies.set(r.reply, out);
    }
    const to = (m: RelayReply) => {
      if (!this.closed) out.postMessage(m);
    };
    const id = fromHex(r.hex);
    const asked = id ? this.get(r.store, r.hex, id) : Promise.reject(networkError(`${r.store}: bad chunk id ${r.hex}`));
    asked.then(
      (answer) => to({ seq: r.seq, answer }),
      (e) => {
        const err = e as Error;
        const code = e instanceof WasyncError ? e.code : null;
        to({ seq: r.seq, error: { code, message: code ? err.message : (err?.stack ?? String(e)) } });
      },
    );
  }
}

interface Endpoint {
  out: BroadcastChannel;
  reply: string;
  seq: number;
  waiting: Map<number, { resolve(a: Answer | null): void; reject(e: Error): void }>;
}

const endpoints = new Map<string, Endpoint>();

/** This thread's connection to the relay named `channel`. */
function endpoint(channel: string): Endpoint {
  let ep = endpoints.get(channel);
  if (ep) return ep;
  const reply = `${channel}/${threadId}-${randomBytes(4).toString('hex')}`;
  const inbox = new BroadcastChannel(reply);
  inbox.unref();
  const out = new BroadcastChannel(channel);
  out.unref();
  ep = { out, reply, seq: 0, waiting: new Map() };
  const e = ep;
  inbox.onmessage = (m) => {
    const r = (m as { data: RelayReply }).data;
    const w = e.waiting.get(r.seq);
    if (!w) return;
    e.waiting.delete(r.seq);
    if (r.error) w.reject(r.error.code ? new WasyncError(r.error.code, r.error.message) : new Error(r.error.message));
    else w.resolve(r.answer ?? null);
  };
  endpoints.set(channel, ep);
  return ep;
}

/** A chunk store behind an ssh connection, read through the main thread's ChunkRelay. */
export class SshStoreReader implements ChunkStoreReader {
  constructor(
    readonly name: string,
    private readonly channel: string,
  ) {}

  get(hex: string): Promise<StoredChunk | null> {
    const ep = endpoint(this.channel);
    const seq = ep.seq++;
    return new Promise<Answer | null>((resolve, reject) => {
      ep.waiting.set(seq, { resolve, reject });
      ep.out.postMessage({ store: this.name, hex, seq, reply: ep.reply } satisfies RelayRequest);
    }).then((a) => a && { data: a.data, compressed: a.compressed, where: this.name });
  }
}
