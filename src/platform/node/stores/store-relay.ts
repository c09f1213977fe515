// Chunk stores that are JavaScript objects (the library API's ChunkStore: get,
// has, put) reached from the chunk engine's jobs.  Jobs are plain data, run on
// worker threads (or inline on this one), and name their stores by locator;
// an object cannot travel with them.  So the calling thread keeps the objects
// in a StoreRelay and gives each a locator of its own,
//   wasync-relay://<channel>/<number>/<name>
// and a job's thread reaches the object through a RelayedStore: a request
// ({ op, store, hex, data }) posted on the BroadcastChannel <channel>, the
// answer posted back on the asking thread's own reply channel, so each answer
// is copied to one thread only.  BroadcastChannel also delivers within a thread,
// so jobs run inline take the same path.
//
// A relayed store counts as remote: the engine asks has() before compressing a
// new chunk and put()s only what is missing, and checks every chunk get()
// returns (decompression by magic, digest against the id) as it does for HTTP.
// The relay's own channel stays referenced while it is open, so a process does
// not exit with a request in flight; close() ends it.

import { BroadcastChannel, threadId } from 'node:worker_threads';
import { randomBytes } from 'node:crypto';
import { WasyncError, type ErrorCode } from '../../../errors.ts';
import type { ChunkStoreReader, StoredChunk } from '../../../engine/random-access.ts';
import { BROADCAST_NEEDS_ANCHOR } from '../io/runtime.ts';

const SCHEME = 'wasync-relay://';

/** A stored chunk whose bytes may be the chunk itself rather than a .cacnk (ssh's CA_PROTOCOL_CHUNK). */
export interface RelayedChunk {
  data: Uint8Array;
  compressed: boolean;
}

/**
 * What a relayed store object offers; bytes are a stored chunk (.cacnk contents).
 * A store that only serves chunks (an ssh session) has no has() or put().
 */
export interface RelayTarget {
  get(hex: string): Promise<Uint8Array | RelayedChunk | null | undefined> | Uint8Array | RelayedChunk | null | undefined;
  has?(hex: string): Promise<boolean> | boolean;
  /** false: the store already had it (anything else counts as stored) */
  put?(hex: string, chunk: Uint8Array): unknown;
}

type Op = 'get' | 'has' | 'put';

interface Request {
  op: Op;
  store: number;
  hex: string;
  data?: Uint8Array;
  seq: number;
  reply: string;
}

interface Reply {
  seq: number;
  value?: Uint8Array | RelayedChunk | boolean | null;
  error?: { code: ErrorCode | null; message: string };
}

export const isRelayLocator = (loc: string) => loc.startsWith(SCHEME);

/** How messages name a store: a relayed one by the name its caller gave, any other by its locator. */
export const storeDisplayName = (loc: string) =>
  isRelayLocator(loc) ? decodeURIComponent(loc.slice(loc.indexOf('/', loc.indexOf('/', SCHEME.length) + 1) + 1)) : loc;

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

  /** The locator jobs use for `target`; `name` appears in messages. */
  add(target: RelayTarget, name: string): string {
    const n = this.targets.push(target) - 1;
    return `${SCHEME}${this.channel}/${n}/${encodeURIComponent(name)}`;
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
      if (r.op === 'get') return (await t.get(r.hex)) ?? null;
      const f = t[r.op];
      if (!f) throw new WasyncError('EUNSUPPORTED', `${r.hex}: this store only serves chunks (no ${r.op})`);
      return r.op === 'has' ? !!(await f.call(t, r.hex, r.data!)) : (await f.call(t, r.hex, r.data!)) !== false;
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

/** A relayed store as a job's thread sees it: get, has, put over the relay. */
export class RelayedStore implements ChunkStoreReader {
  readonly name: string;
  private readonly channel: string;
  private readonly store: number;

  constructor(readonly locator: string) {
    const m = /^wasync-relay:\/\/([^/]+)\/(\d+)\/(.*)$/.exec(locator);
    if (!m) throw new WasyncError('EUSAGE', `${locator}: not a relayed store locator`);
    this.channel = m[1];
    this.store = Number(m[2]);
    this.name = decodeURIComponent(m[3]);
  }

  private ask(op: Op, hex: string, data?: Uint8Array): Promise<Reply['value']> {
    const ep = endpoint(this.channel);
    const seq = ep.seq++;
    return new Promise((resolve, reject) => {
      ep.waiting.set(seq, { resolve, reject });
      ep.out.postMessage({ op, store: this.store, hex, data, seq, reply: ep.reply } satisfies Request);
    });
  }

  async get(hex: string): Promise<StoredChunk | null> {
    const v = await this.ask('get', hex);
    const where = `${this.name} (chunk ${hex})`;
    if (v instanceof Uint8Array) return { data: v, compressed: true, where };
    return v && typeof v === 'object' ? { data: v.data, compressed: v.compressed, where } : null;
  }

  async has(hex: string): Promise<boolean> {
    return (await this.ask('has', hex)) === true;
  }

  async put(hex: string, chunk: Uint8Array): Promise<boolean> {
    return (await this.ask('put', hex, chunk)) === true;
  }
}
