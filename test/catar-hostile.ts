// Test helpers for the catar decoder: decoding into a trace, and a small,
// deliberately permissive catar writer: it writes
// whatever records it is told, in the order given, and computes correct GOODBYE
// tables from what it wrote (independently of the wasm core, with the reference
// SipHash and BST layout of catar-encoder-dump.ts), so each hostile
// archive breaks exactly the rule a test aims at.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { CatarDecoder, type CatarEvent } from '../src/format/catar-decoder.ts';
import * as C from '../src/format/catar-constants.ts';
import { type CatarNode, S_IFDIR, S_IFMT, S_IFREG } from '../src/format/catar-node.ts';
import { WasyncError } from '../src/errors.ts';
import { refBstPermutation as bstPermutation, refSiphash as siphash24 } from './catar-encoder-dump.ts';

export const DEFAULT_FLAGS = 0xb0000001ffeffe26n;

export const u64 = (...v: (bigint | number)[]) => {
  const b = new Uint8Array(8 * v.length);
  const d = new DataView(b.buffer);
  v.forEach((x, i) => d.setBigUint64(8 * i, BigInt.asUintN(64, BigInt(x)), true));
  return b;
};

export const bytes = (s: string | Uint8Array) => (typeof s === 'string' ? new TextEncoder().encode(s) : s);
export const concat = (parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) out.set(p, (o += p.length) - p.length);
  return out;
};
export const cat = (...parts: Uint8Array[]) => concat(parts);
const z = new Uint8Array([0]);

/** A record with the right size field, or `size` to lie about it. */
export const record = (type: bigint, body: Uint8Array, size?: bigint | number) =>
  cat(u64(size ?? 16 + body.length, type), body);

export const user = (name: string) => record(C.CA_FORMAT_USER, cat(bytes(name), z));
export const group = (name: string) => record(C.CA_FORMAT_GROUP, cat(bytes(name), z));
export const xattr = (name: string, value: string | Uint8Array) =>
  record(C.CA_FORMAT_XATTR, cat(bytes(name), z, bytes(value)));
export const aclEntry = (type: bigint, id: number, perm: number, name?: string) =>
  record(type, cat(u64(id, perm), name === undefined ? new Uint8Array(0) : cat(bytes(name), z)));
export const aclGroupObj = (perm: number) => record(C.CA_FORMAT_ACL_GROUP_OBJ, u64(perm));
export const aclDefault = (u: bigint, g: bigint, o: bigint, m: bigint) => record(C.CA_FORMAT_ACL_DEFAULT, u64(u, g, o, m));
export const selinux = (label: string) => record(C.CA_FORMAT_SELINUX, cat(bytes(label), z));
export const fcaps = (data: Uint8Array) => record(C.CA_FORMAT_FCAPS, data);
export const projid = (id: bigint | number) => record(C.CA_FORMAT_QUOTA_PROJID, u64(id));
export const symlink = (target: string | Uint8Array) => record(C.CA_FORMAT_SYMLINK, cat(bytes(target), z));
export const device = (major: number, minor: number) => record(C.CA_FORMAT_DEVICE, u64(major, minor));
export const payload = (data: string | Uint8Array) => record(C.CA_FORMAT_PAYLOAD, bytes(data));
export const filename = (name: string | Uint8Array) => record(C.CA_FORMAT_FILENAME, cat(bytes(name), z));

export interface GoodbyeItem { offset: bigint; size: bigint; hash: bigint }
export interface GoodbyeTail { entryOffset: bigint; size: bigint; marker: bigint }

export interface HNode {
  /** children only: the FILENAME's name (default: no FILENAME, for the root) */
  name?: string | Uint8Array;
  /** a raw FILENAME record instead of one made from `name` */
  rawFilename?: Uint8Array;
  mode: number;
  featureFlags?: bigint;
  flags?: bigint;
  uid?: bigint | number;
  gid?: bigint | number;
  mtime?: bigint;
  /** a raw ENTRY record instead of one made from the fields above */
  rawEntry?: Uint8Array;
  /** records after ENTRY (USER … QUOTA_PROJID), written as given */
  meta?: Uint8Array[];
  /** the body: records written after `meta` (PAYLOAD, SYMLINK, DEVICE); default from `payload` */
  body?: Uint8Array[];
  payload?: string | Uint8Array;
  children?: HNode[];
  /** bytes written after the children, before the GOODBYE */
  beforeGoodbye?: Uint8Array;
  /** edits the GOODBYE items (in table order) and tail before they are written */
  goodbye?: (items: GoodbyeItem[], tail: GoodbyeTail) => GoodbyeItem[] | void;
}

export const dir = (name: string | undefined, children: HNode[], more: Partial<HNode> = {}): HNode => ({
  name, mode: S_IFDIR | 0o755, children, ...more,
});
export const file = (name: string, data = '', more: Partial<HNode> = {}): HNode => ({
  name, mode: S_IFREG | 0o644, payload: data, ...more,
});

/**
 * The archive bytes and the offset of each record, keyed "PATH:KIND" (PATH is
 * "." for the root, else "a/b"; KIND is ENTRY, FILENAME, PAYLOAD, GOODBYE, BODY
 * or meta0, meta1, …).
 */
export function buildCatar(root: HNode, flags = DEFAULT_FLAGS) {
  const parts: Uint8Array[] = [];
  const at: Record<string, number> = {};
  let pos = 0;
  const emit = (key: string | null, b: Uint8Array) => {
    if (key) at[key] = pos;
    parts.push(b);
    pos += b.length;
  };
  const node = (n: HNode, path: string) => {
    const start = pos;
    if (n.rawFilename) emit(`${path}:FILENAME`, n.rawFilename);
    else if (n.name !== undefined) emit(`${path}:FILENAME`, filename(n.name));
    const entryOffset = pos;
    emit(`${path}:ENTRY`, n.rawEntry ?? record(C.CA_FORMAT_ENTRY, u64(
      n.featureFlags ?? flags, n.mode, n.flags ?? 0n, n.uid ?? 0n, n.gid ?? 0n, n.mtime ?? 0n)));
    (n.meta ?? []).forEach((m, i) => emit(`${path}:meta${i}`, m));
    const body = n.body ?? (n.payload !== undefined ? [payload(n.payload)] : []);
    body.forEach((b, i) => emit(`${path}:${i ? `body${i}` : 'BODY'}`, b));
    if (n.children) {
      const kids: { hash: bigint; start: number; end: number }[] = [];
      for (const c of n.children) {
        const s = pos;
        const name = bytes(c.name ?? '');
        node(c, path === '.' ? new TextDecoder().decode(name) : `${path}/${new TextDecoder().decode(name)}`);
        kids.push({ hash: siphash24(name), start: s, end: pos });
      }
      if (n.beforeGoodbye) emit(null, n.beforeGoodbye);
      const g = pos;
      const sorted = [...kids].sort((a, b) => (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : a.start - b.start));
      let items: GoodbyeItem[] = bstPermutation(sorted.length).map((j) => ({
        offset: BigInt(g - sorted[j].start), size: BigInt(sorted[j].end - sorted[j].start), hash: sorted[j].hash,
      }));
      const size = BigInt(16 + 24 * (items.length + 1));
      const tail: GoodbyeTail = { entryOffset: BigInt(g - entryOffset), size, marker: C.CA_FORMAT_GOODBYE_TAIL_MARKER };
      items = n.goodbye?.(items, tail) ?? items;
      emit(`${path}:GOODBYE`, record(C.CA_FORMAT_GOODBYE, cat(
        ...items.map((it) => u64(it.offset, it.size, it.hash)), u64(tail.entryOffset, tail.size, tail.marker),
      )));
    }
    return start;
  };
  node(root, '.');
  return { bytes: concat(parts), at };
}

export interface Decoded {
  path: string;
  offset: number;
  featureFlags: bigint;
  node: CatarNode;
  data: Buffer | null;
}

/** Decodes `parts` fed one by one; returns the nodes and a trace of every event. */
export function decodeParts(parts: Iterable<Uint8Array>, expectFlags?: bigint) {
  const d = new CatarDecoder('x.catar', { expectFlags });
  const nodes: Decoded[] = [];
  const trace: string[] = [];
  const names: string[] = [];
  let chunks: Buffer[] | null = null;
  const take = (e: CatarEvent) => {
    if (e.type === 'node') {
      names.length = e.depth;
      if (e.name) names[e.depth - 1] = Buffer.from(e.name).toString('latin1');
      const path = e.depth ? names.join('/') : '.';
      nodes.push({ path, offset: e.offset, featureFlags: e.featureFlags, node: e.node, data: null });
      trace.push(`node ${e.offset} ${e.depth} ${path} ${JSON.stringify(e.node, (_k, v) =>
        typeof v === 'bigint' ? v.toString() : v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v)}`);
      if ((e.node.mode & S_IFMT) === 0o100000) chunks = [];
    } else if (e.type === 'payload') {
      chunks!.push(Buffer.from(e.data));
    } else if (e.type === 'payload-end') {
      nodes[nodes.length - 1].data = Buffer.concat(chunks!);
      trace.push(`payload ${createHash('sha256').update(nodes[nodes.length - 1].data!).digest('hex')}`);
      chunks = null;
    } else trace.push(JSON.stringify(e));
  };
  for (const p of parts) {
    d.push(p);
    for (let e; (e = d.next()); ) take(e);
  }
  d.end();
  for (let e; (e = d.next()); ) take(e);
  assert.equal(trace[trace.length - 1], '{"type":"end"}');
  return { nodes, trace };
}

/** `b` in pieces of `size` bytes. */
export function* split(b: Uint8Array, size: number) {
  for (let o = 0; o < b.length; o += size) yield b.subarray(o, o + size);
}

/** The WasyncError the decoder throws for these pieces (fails if it accepts them). */
export function refusal(parts: Iterable<Uint8Array>, expectFlags?: bigint): WasyncError {
  try {
    decodeParts(parts, expectFlags);
  } catch (e) {
    if (e instanceof WasyncError) return e;
    throw e;
  }
  assert.fail('the archive was accepted');
}

/** Refused with a message matching `re` at `offset`, fed whole and one byte at a time. */
export function refused(b: Uint8Array, re: RegExp, offset: number | undefined, expectFlags?: bigint): void {
  assert.equal(typeof offset, 'number', 'no such record');
  const whole = refusal([b], expectFlags);
  assert.equal(whole.code, 'EFORMAT');
  assert.match(whole.message, re);
  assert.ok(whole.message.startsWith('x.catar: '), whole.message);
  assert.ok(whole.message.endsWith(` (at byte ${offset})`), `${whole.message}: expected byte ${offset}`);
  assert.equal(refusal(split(b, 1), expectFlags).message, whole.message, 'byte by byte');
}
