// The metadata of nodes of an archive read at offsets, decoding only their own
// records: what a mounted file system needs for a stat(), a readlink() or an
// xattr, without payloads and without the subtrees of directories.
//
// A node's records run from its ENTRY to its body record: PAYLOAD, SYMLINK or
// DEVICE, the first FILENAME or the GOODBYE of a directory, or the end of the
// node for a FIFO or socket (casync-format.md §4.3).  Their headers are walked
// here only to find where the metadata ends; the records themselves are checked
// and decoded by the catar decoder, fed a small archive framed around them:
//   * a directory alone: its ENTRY and metadata, then an empty GOODBYE, which is
//     a complete archive of an empty directory;
//   * children: their directory's ENTRY and metadata (the root's, for a lone
//     node whose parent is not at hand), then for each child in archive order
//     its FILENAME, its records and a body (a PAYLOAD header stating an empty
//     payload, an empty GOODBYE for a directory, the real SYMLINK or DEVICE
//     record), then a GOODBYE computed for that frame (items sorted by hash and
//     laid out as casync's binary search tree, §4.7).
// One decoder instance serves a whole directory listing this way, which
// matters: instantiating the wasm decoder costs more than decoding a node.
// The real payload offset and size are taken from the PAYLOAD header, checked
// to end exactly where the node does.  Errors name offsets in the real archive.

import { WasyncError, formatError } from '../errors.ts';
import { CatarDecoder } from './catar-decoder.ts';
import { goodbyeHash, type CatarLookup, type CatarNodeLocation } from './catar-lookup.ts';
import { S_IFDIR, S_IFMT, S_IFREG, type CatarNode } from './catar-node.ts';
import {
  CA_FORMAT_DEVICE,
  CA_FORMAT_ENTRY_SIZE,
  CA_FORMAT_FILENAME,
  CA_FORMAT_GOODBYE,
  CA_FORMAT_GOODBYE_ITEM_SIZE,
  CA_FORMAT_GOODBYE_TAIL_MARKER,
  CA_FORMAT_GOODBYE_TAIL_SIZE,
  CA_FORMAT_HEADER_SIZE,
  CA_FORMAT_PAYLOAD,
  CA_FORMAT_SYMLINK,
} from './catar-constants.ts';

const HDR = CA_FORMAT_HEADER_SIZE;
const BODY_TYPES = new Set([CA_FORMAT_PAYLOAD, CA_FORMAT_SYMLINK, CA_FORMAT_DEVICE, CA_FORMAT_FILENAME, CA_FORMAT_GOODBYE]);
/** children per decoder run: bounds the frame's memory for huge directories */
const SLICE = 1024;

export interface NodeRecords {
  /** as the decoder reports it: mtimeNs is the stored unsigned 64-bit value */
  node: CatarNode;
  /** regular files: archive offset of the first payload byte */
  payloadOffset: number | null;
}

/** A node's records cut out of the archive, with the body its frame gives it. */
interface NodeParts {
  loc: CatarNodeLocation;
  /** its FILENAME record (empty for the root) */
  filename: Uint8Array;
  /** ENTRY and metadata records, [entryOffset, metaEnd) */
  meta: Uint8Array;
  metaEnd: number;
  body: Uint8Array;
  /** whether body is the real bytes at metaEnd (SYMLINK, DEVICE) */
  realBody: boolean;
  payloadOffset: number | null;
  payloadSize: number;
}

const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
const isDir = (mode: number) => (mode & S_IFMT) === S_IFDIR;

function goodbyeRecord(items: { offset: number; size: number; hash: bigint }[], entryBack: number): Uint8Array {
  const size = HDR + items.length * CA_FORMAT_GOODBYE_ITEM_SIZE + CA_FORMAT_GOODBYE_TAIL_SIZE;
  const b = new Uint8Array(size);
  const v = view(b);
  v.setBigUint64(0, BigInt(size), true);
  v.setBigUint64(8, CA_FORMAT_GOODBYE, true);
  let at = HDR;
  for (const it of items) {
    v.setBigUint64(at, BigInt(it.offset), true);
    v.setBigUint64(at + 8, BigInt(it.size), true);
    v.setBigUint64(at + 16, it.hash, true);
    at += CA_FORMAT_GOODBYE_ITEM_SIZE;
  }
  v.setBigUint64(at, BigInt(entryBack), true);
  v.setBigUint64(at + 8, BigInt(size), true);
  v.setBigUint64(at + 16, CA_FORMAT_GOODBYE_TAIL_MARKER, true);
  return b;
}

/** The items in casync's table order: sorted by (hash, offset), then in implicit-BST positions. */
function bstItems<T extends { hash: bigint; start: number }>(items: T[]): T[] {
  const sorted = [...items].sort((a, b) => (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : a.start - b.start));
  const out = new Array<T>(sorted.length);
  let next = 0;
  const walk = (i: number) => {
    if (i >= sorted.length) return;
    walk(2 * i + 1);
    out[i] = sorted[next++];
    walk(2 * i + 2);
  };
  walk(0);
  return out;
}

/** The small archive handed to the decoder, and where its bytes came from. */
class Frame {
  readonly parts: Uint8Array[] = [];
  length = 0;
  /** frame offset, real offset (or where a synthetic piece stands in), length, synthetic */
  private readonly segs: { at: number; real: number; len: number; synthetic: boolean }[] = [];

  add(bytes: Uint8Array, real: number, synthetic = false): number {
    const at = this.length;
    this.parts.push(bytes);
    this.segs.push({ at, real, len: bytes.length, synthetic });
    this.length += bytes.length;
    return at;
  }

  real(f: number): number {
    for (const s of this.segs) if (f >= s.at && f < s.at + s.len) return s.synthetic ? s.real : s.real + (f - s.at);
    return this.segs.length ? this.segs[this.segs.length - 1].real : 0;
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

export class CatarNodeReader {
  #rootMeta: Promise<Uint8Array> | null = null;

  constructor(readonly lookup: CatarLookup) {}

  /** Decodes the records of one node. */
  async read(loc: CatarNodeLocation): Promise<NodeRecords> {
    const p = await this.#parts(loc);
    if (isDir(loc.mode)) {
      const frame = new Frame();
      frame.add(p.meta, loc.entryOffset);
      frame.add(p.body, loc.goodbye!.offset, true);
      const [node] = await this.#decode(frame, 0);
      return { node, payloadOffset: null };
    }
    this.#rootMeta ??= this.#parts(await this.lookup.root()).then((root) => root.meta);
    return (await this.#children(await this.#rootMeta, [p]))[0];
  }

  /** Decodes the records of children of `dir` (CatarLookup.children() order), one decoder per slice. */
  async readChildren(dir: CatarNodeLocation, children: readonly CatarNodeLocation[]): Promise<NodeRecords[]> {
    const own = (await this.#parts(dir)).meta;
    const out: NodeRecords[] = [];
    for (let i = 0; i < children.length; i += SLICE) {
      const parts: NodeParts[] = [];
      for (const c of children.slice(i, i + SLICE)) parts.push(await this.#parts(c));
      out.push(...(await this.#children(own, parts)));
    }
    return out;
  }

  /** Frames children (in archive order) under their directory's metadata `prefix` and decodes them. */
  async #children(prefix: Uint8Array, parts: NodeParts[]): Promise<NodeRecords[]> {
    const frame = new Frame();
    frame.add(prefix, 0);
    const items: { offset: number; size: number; hash: bigint; start: number }[] = [];
    for (const p of parts) {
      const { loc } = p;
      const start = frame.add(p.filename, loc.filenameOffset!);
      frame.add(p.meta, loc.entryOffset);
      frame.add(p.body, p.metaEnd, !p.realBody);
      items.push({ start, offset: 0, size: frame.length - start, hash: goodbyeHash(loc.name!) });
    }
    const g = frame.length;
    for (const it of items) it.offset = g - it.start;
    frame.add(goodbyeRecord(bstItems(items), g), parts.length ? parts[parts.length - 1].loc.end : 0, true);
    const nodes = await this.#decode(frame, 1);
    if (nodes.length !== parts.length) throw new Error(`${this.lookup.file}: decoded ${nodes.length} nodes of ${parts.length}`);
    return nodes.map((node, k) => {
      const p = parts[k];
      if (p.payloadOffset !== null) node.size = p.payloadSize;
      return { node, payloadOffset: p.payloadOffset };
    });
  }

  /** Cuts a node's records out of the archive (one read for the usual few hundred bytes). */
  async #parts(loc: CatarNodeLocation): Promise<NodeParts> {
    const { r, file } = this.lookup;
    const dir = isDir(loc.mode);
    const limit = dir ? loc.goodbye!.offset : loc.end;
    const from = loc.filenameOffset ?? loc.entryOffset;
    let win = await r.read(from, Math.min(limit - from, 4096));
    const ensure = async (end: number) => {
      if (end - from > win.length) win = await r.read(from, Math.min(limit - from, Math.max(end - from, 2 * win.length)));
    };
    let at = loc.entryOffset + CA_FORMAT_ENTRY_SIZE;
    let body: { type: bigint; size: number } | null = null;
    while (at < limit) {
      if (at + HDR > limit) throw formatError(file, at, 'truncated record header inside a node');
      await ensure(at + HDR);
      const h = view(win.subarray(at - from, at - from + HDR));
      const size = h.getBigUint64(0, true);
      const type = h.getBigUint64(8, true);
      if (size < BigInt(HDR) || size > BigInt(limit - at)) {
        throw formatError(file, at, `record of ${size} bytes does not fit in its node (which ends at byte ${limit})`);
      }
      if (BODY_TYPES.has(type)) {
        body = { type, size: Number(size) };
        break;
      }
      at += Number(size);
    }
    const metaEnd = at;
    await ensure(metaEnd);
    const parts: NodeParts = {
      loc,
      filename: win.slice(0, loc.entryOffset - from),
      meta: win.slice(loc.entryOffset - from, metaEnd - from),
      metaEnd,
      body: new Uint8Array(0),
      realBody: false,
      payloadOffset: null,
      payloadSize: 0,
    };
    if (dir) {
      if (body && body.type !== CA_FORMAT_FILENAME && body.type !== CA_FORMAT_GOODBYE) {
        throw formatError(file, metaEnd, 'a directory holds a PAYLOAD, SYMLINK or DEVICE record');
      }
      parts.body = goodbyeRecord([], parts.meta.length);
    } else if (body?.type === CA_FORMAT_PAYLOAD) {
      if ((loc.mode & S_IFMT) !== S_IFREG) throw formatError(file, metaEnd, 'PAYLOAD record in a node that is not a regular file');
      if (metaEnd + body.size !== loc.end) {
        throw formatError(file, metaEnd, `PAYLOAD of ${body.size} bytes does not end where its node does (byte ${loc.end})`);
      }
      parts.payloadOffset = metaEnd + HDR;
      parts.payloadSize = body.size - HDR;
      parts.body = new Uint8Array(HDR);
      view(parts.body).setBigUint64(0, BigInt(HDR), true);
      view(parts.body).setBigUint64(8, CA_FORMAT_PAYLOAD, true);
    } else {
      await ensure(loc.end);
      parts.body = win.slice(metaEnd - from, loc.end - from);
      parts.realBody = true;
    }
    return parts;
  }

  /** The node events at `depth` of a frame, in order; errors told at real offsets. */
  async #decode(frame: Frame, depth: number): Promise<CatarNode[]> {
    const file = this.lookup.file;
    const decoder = new CatarDecoder(file, { expectFlags: this.lookup.featureFlags });
    const found: CatarNode[] = [];
    try {
      decoder.push(frame.bytes());
      decoder.end();
      for (let e = decoder.next(); e && e.type !== 'end'; e = decoder.next()) {
        if (e.type === 'node' && e.depth === depth) found.push(e.node);
      }
    } catch (e) {
      const m = e instanceof WasyncError && e.code === 'EFORMAT' ? /^(.*) \(at byte (\d+)\)$/s.exec(e.message) : null;
      if (!m || !m[1].startsWith(`${file}: `)) throw e;
      throw formatError(file, frame.real(Number(m[2])), m[1].slice(file.length + 2));
    }
    return found;
  }
}
