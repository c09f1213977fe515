// Chunk stores that are JavaScript objects (a library caller's store, an ssh
// session) reached from the chunk engine's jobs.  Jobs are plain data, run on
// worker threads (or inline on this one), and describe their stores as a
// StoreGraph; an object cannot travel with them.  So the calling thread keeps
// the objects in a StoreRelay and describes each as a relay entry
//   { kind: 'relay', channel, store: <number>, name }
// and a job's thread reaches the object through a RelayedStore: a request
// ({ op, store, id, data }) posted on the BroadcastChannel <channel>, the
// answer posted back on the asking thread's own reply channel, so each answer
// is copied to one thread only.  BroadcastChannel also delivers within a thread,
// so jobs run inline take the same path.
//
// A relayed store counts as remote: its requests share the operation's
// concurrency, and every chunk get() returns is checked as an HTTP one is.
// The relay's own channel stays referenced while it is open, so a process does
// not exit with a request in flight; close() ends it.

import { BroadcastChannel, threadId } from 'node:worker_threads';
import { randomBytes } from 'node:crypto';
import { WasyncError, unsupported, type ErrorCode } from '../../../errors.ts';
import type { Semaphore } from '../../../stores/semaphore.ts';
import type { StoreSpec } from '../../../stores/store-graph.ts';
import type { StoreObject, WriteStore } from '../../../stores/store.ts';
import { BROADCAST_NEEDS_ANCHOR } from '../io/runtime.ts';

/** What a relayed object offers: a store, or a caller's object (a store that only serves chunks lacks has and put). */
export type RelayTarget = Pick<StoreObject, 'get'> & Partial<Pick<StoreObject, 'has' | 'put'>>;

export type RelaySpec = Extract<StoreSpec, { kind: 'relay' }>;

type Op = 'get' | 'has' | 'put';

interface Request {
  op: Op;
  store: number;
  id: string;
  data?: Uint8Array;
  seq: number;
  reply: string;
}

interface Reply {
  seq: number;
  value?: Uint8Array | boolean | null;
  error?: { code: ErrorCode | null; message: string };
}

/** Deno: a channel that stays open so later relays still hear from workers (runtime.ts). */
let anchor: BroadcastChannel | undefined;

/** The calling thread's end: serves requests for the objects it holds. */
export class StoreRelay {
  readonly channel = `wr${process.pid}x${randomBytes(6).toString('hex')}`;
  private readonly requests: BroadcastChannel;
  private readonly replies = new Map<string, BroadcastChannel>();
  private readonly targets: RelayTarget[] = [];
  private closed = false;

  constructor() {
    if (BROADCAST_NEEDS_ANCHOR && !anchor) {
      anchor = new BroadcastChannel(`${this.channel}-anchor`);
      anchor.unref();
    }
    this.requests = new BroadcastChannel(this.channel);
    this.requests.onmessage = (e) => this.serve((e as { data: Request }).data);
  }

  /** The spec jobs use for `target`; `name` appears in messages. */
  add(target: RelayTarget, name: string): RelaySpec {
    const store = this.targets.push(target) - 1;
    return { kind: 'relay', channel: this.channel, store, name };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.requests.close();
    for (const c of this.replies.values()) c.close();
    this.replies.clear();
    dropEndpoint(this.channel);
  }

  private serve(r: Request) {
    if (this.closed) return;
    let out = this.replies.get(r.reply);
    if (!out) {
      out = new BroadcastChannel(r.reply);
      out.unref();
      this.replies.set(r.reply, out);
    }
    const to = (m: Reply) => {
      if (!this.closed) out.postMessage(m);
    };
    const t = this.targets[r.store];
    const run = async (): Promise<Reply['value']> => {
      if (!t) throw new Error(`relay ${this.channel}: no store ${r.store}`);
      if (r.op === 'get') return (await t.get(r.id)) ?? null;
      const f = t[r.op];
      if (!f) throw new WasyncError('EUNSUPPORTED', `${r.id}: this store only serves chunks (no ${r.op})`);
      return r.op === 'has' ? !!(await f.call(t, r.id, r.data!)) : (await f.call(t, r.id, r.data!)) !== false;
    };
    run().then(
      (value) => to({ seq: r.seq, value }),
      (e) => {
        const code = e instanceof WasyncError ? e.code : null;
        const err = e as Error;
        to({ seq: r.seq, error: { code, message: err?.message ?? String(e) } });
      },
    );
  }
}

interface Endpoint {
  out: BroadcastChannel;
  inbox: BroadcastChannel;
  reply: string;
  seq: number;
  waiting: Map<number, { resolve(v: Reply['value']): void; reject(e: Error): void }>;
}

/** This thread's connections to relays, by channel. */
const endpoints = new Map<string, Endpoint>();

function endpoint(channel: string): Endpoint {
  let ep = endpoints.get(channel);
  if (ep) return ep;
  const reply = `${channel}/${threadId}-${randomBytes(4).toString('hex')}`;
  const inbox = new BroadcastChannel(reply);
  inbox.unref();
  const out = new BroadcastChannel(channel);
  out.unref();
  const e: Endpoint = { out, inbox, reply, seq: 0, waiting: new Map() };
  inbox.onmessage = (m) => {
    const r = (m as { data: Reply }).data;
    const w = e.waiting.get(r.seq);
    if (!w) return;
    e.waiting.delete(r.seq);
    if (r.error) w.reject(r.error.code ? new WasyncError(r.error.code, r.error.message) : new Error(r.error.message));
    else w.resolve(r.value);
  };
  endpoints.set(channel, e);
  return e;
}

function dropEndpoint(channel: string) {
  const ep = endpoints.get(channel);
  if (!ep) return;
  endpoints.delete(channel);
  ep.out.close();
  ep.inbox.close();
  for (const w of ep.waiting.values()) w.reject(new WasyncError('EUNSUPPORTED', 'the store relay was closed'));
}

/** A relayed store as a job's thread sees it. */
export class RelayedStore implements WriteStore {
  readonly name: string;

  constructor(
    private readonly spec: RelaySpec,
    private readonly gate?: Semaphore,
  ) {
    this.name = spec.name;
  }

  where(id: string): string {
    return `${this.name} (chunk ${id})`;
  }

  async get(id: string): Promise<Uint8Array | null> {
    const v = await this.ask('get', id);
    return v instanceof Uint8Array ? v : null;
  }

  async has(id: string): Promise<boolean> {
    return (await this.ask('has', id)) === true;
  }

  async put(id: string, chunk: Uint8Array): Promise<boolean> {
    return (await this.ask('put', id, chunk)) === true;
  }

  async remove(): Promise<boolean> {
    throw unsupported(`${this.name}: chunks cannot be removed through the store relay`);
  }

  async *list(): AsyncIterable<string> {
    throw unsupported(`${this.name}: cannot be listed through the store relay`);
  }

  async close(): Promise<void> {}

  private ask(op: Op, id: string, data?: Uint8Array): Promise<Reply['value']> {
    const send = () => {
      const ep = endpoint(this.spec.channel);
      const seq = ep.seq++;
      return new Promise<Reply['value']>((resolve, reject) => {
        ep.waiting.set(seq, { resolve, reject });
        ep.out.postMessage({ op, store: this.spec.store, id, data, seq, reply: ep.reply } satisfies Request);
      });
    };
    return this.gate ? this.gate.run(send) : send();
  }
}
