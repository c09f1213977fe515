// From catar decoder events to the entries `list`, `mtree` and `stat` print.
//
// Two small state machines, both fed one CatarEvent at a time:
//   * PathFilter cuts a stream that starts at the archive's root down to one node
//     and what lies below it, renumbering depths from that node (0).  Directory
//     inputs need it: their stream can only be produced from the top.
//   * EntryCollector turns the events of a node (and its subtree) into
//     InspectEntry objects with paths, payload digests for regular files and
//     ENTRY offsets, and hands each one on once it is complete (a regular file
//     after its payload, since mtree and stat print its digest).

import { createHash, type Hash } from 'node:crypto';
import type { CatarEvent } from '../../../format/catar-decoder.ts';
import type { CatarNode } from '../../../format/catar-node.ts';
import { S_IFMT, S_IFREG } from '../../../format/catar-node.ts';
import type { DigestName } from '../../../chunk/digest.ts';
import type { InspectEntry } from '../../../inspect/inspect-format.ts';

const SLASH = 0x2f;

/** Path components joined with '/'. */
export function joinPath(parts: readonly Uint8Array[]): Uint8Array {
  const len = parts.reduce((n, p) => n + p.length, 0) + Math.max(0, parts.length - 1);
  const out = new Uint8Array(len);
  let o = 0;
  parts.forEach((p, i) => {
    if (i) out[o++] = SLASH;
    out.set(p, o);
    o += p.length;
  });
  return out;
}

const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * Passes on the events of the node at `target` (components below the root) and
 * of its subtree, with depths counted from it; `done` once the node is over.
 */
export class PathFilter {
  /** names of the open nodes along the current path, by depth (index 0: the root, unnamed) */
  private readonly names: (Uint8Array | null)[] = [];
  private base = -1;
  /** the target was seen */
  found = false;
  /** the target and its subtree have been passed on */
  done = false;

  constructor(private readonly target: readonly Uint8Array[]) {}

  /** The event as the target's subtree sees it, or null if it lies outside. */
  filter(e: CatarEvent): CatarEvent | null {
    if (this.done) return null;
    if (e.type === 'node') {
      this.names.length = e.depth;
      this.names[e.depth] = e.name;
      if (this.base >= 0) {
        if (e.depth > this.base) return { ...e, depth: e.depth - this.base };
        this.done = true;
        return null;
      }
      if (e.depth === this.target.length && this.target.every((t, i) => same(t, this.names[i + 1]!))) {
        this.found = true;
        this.base = e.depth;
        return { ...e, depth: 0 };
      }
      return null;
    }
    if (this.base < 0) return null;
    if (e.type === 'directory-end') {
      if (e.depth < this.base) {
        this.done = true;
        return null;
      }
      if (e.depth === this.base) this.done = true;
      return { ...e, depth: e.depth - this.base };
    }
    if (e.type === 'end') {
      this.done = true;
      return null;
    }
    return e;
  }
}

export interface CollectorOptions {
  /** the path of the node at depth 0 */
  base: readonly Uint8Array[];
  /** digest regular files' payloads with this algorithm (mtree, stat), or not (list) */
  payloadDigest: DigestName | null;
  /** each complete entry with its depth (0: the first node); return true to stop */
  onEntry(entry: InspectEntry, depth: number): boolean | void;
}

/**
 * Collects InspectEntry objects from the events of one node and its subtree.
 * The current path is kept as bytes with the length it had at each depth, so
 * that a node costs its own name and one copy of its path, not a join of every
 * component above it (10,000 of them in a tree that deep).
 */
export class EntryCollector {
  private path: Uint8Array;
  /** the path's length with the node at depth d open: ends[d] */
  private readonly ends: number[];
  private pending: { entry: InspectEntry; depth: number; hash: Hash } | null = null;

  constructor(private readonly o: CollectorOptions) {
    const base = joinPath(o.base);
    this.path = new Uint8Array(Math.max(256, 2 * base.length));
    this.path.set(base);
    this.ends = [base.length];
  }

  /** The path of the node at `depth` named `name` (depth 0: the base). */
  private pathAt(depth: number, name: Uint8Array | null): Uint8Array {
    if (depth === 0) return this.path.slice(0, this.ends[0]);
    const at = this.ends[depth - 1];
    const sep = at > 0 ? 1 : 0;
    const end = at + sep + name!.length;
    if (end > this.path.length) {
      const bigger = new Uint8Array(2 * end);
      bigger.set(this.path.subarray(0, at));
      this.path = bigger;
    }
    if (sep) this.path[at] = SLASH;
    this.path.set(name!, at + sep);
    this.ends.length = depth;
    this.ends.push(end);
    return this.path.slice(0, end);
  }

  /** Feeds one event (depths counted from the first node); true: stop reading. */
  event(e: CatarEvent): boolean {
    switch (e.type) {
      case 'node': {
        const entry = toEntry(this.pathAt(e.depth, e.name), e.offset, e.node);
        if ((e.node.mode & S_IFMT) === S_IFREG && this.o.payloadDigest) {
          this.pending = { entry, depth: e.depth, hash: createHash(this.o.payloadDigest) };
          return false;
        }
        return this.o.onEntry(entry, e.depth) === true;
      }
      case 'payload':
        this.pending?.hash.update(e.data);
        return false;
      case 'payload-end': {
        const p = this.pending;
        if (!p) return false;
        this.pending = null;
        p.entry.digest = p.hash.digest();
        return this.o.onEntry(p.entry, p.depth) === true;
      }
      default:
        return false;
    }
  }
}

/** The InspectEntry of a decoded node (its stored values; the formatter applies the flags). */
export function toEntry(path: Uint8Array, offset: number, n: CatarNode): InspectEntry {
  const e: InspectEntry = {
    path,
    mode: n.mode,
    flags: n.flags,
    uid: n.uid,
    gid: n.gid,
    mtimeNs: n.mtimeNs,
    userName: n.userName,
    groupName: n.groupName,
    xattrs: n.xattrs,
    offset,
  };
  if (n.size !== undefined) e.size = n.size;
  if (n.target !== undefined) e.target = n.target;
  if (n.rdev !== undefined) e.rdev = n.rdev;
  // The decoder only knows a project id from a QUOTA_PROJID record, never 0.
  if (n.projid) e.projid = n.projid;
  return e;
}
