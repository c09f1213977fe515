// Finding a path in a catar archive without decoding it (casync-format.md §4.7),
// over any ReadAt (a .catar file, the stream of a .caidx, bytes in memory).
//
// How an archive is entered: the root directory's ENTRY sits at offset 0 and its
// GOODBYE ends the archive, so the GOODBYE tail is the archive's last 24 bytes:
// { entry_offset, size, marker }.  A directory's GOODBYE starts at end − size and
// holds one item { offset back from the GOODBYE, size, SipHash-2-4 of the name }
// per child, laid out as an implicit binary search tree (children of i at 2i+1 and
// 2i+2).  A lookup hashes the name, walks the tree (following both sides on equal
// hashes, as casync does), checks that the item's FILENAME record carries exactly
// the name, then reads the child's ENTRY.  A child directory's own GOODBYE tail
// sits at the end of its item's range, which is all a further step needs.
//
// Everything read is checked before it is used: a record's header, every offset
// and size against the range of the directory that contains it (a child range lies
// strictly inside its parent's, so a lying table can neither loop nor reach outside
// the archive), names against their hashes, every ENTRY's feature flags against
// the root's.  Violations are format errors naming the file and byte offset.
//
// A located node can then be decoded on its own (subtreeEvents): a directory's
// bytes from its ENTRY to the end of its GOODBYE form a valid archive by
// themselves (goodbye offsets are relative), and any other node is wrapped in the
// archive's root metadata, its own FILENAME and a one-item GOODBYE.

import { WasyncError, formatError } from '../errors.ts';
import type { ReadAt } from '../engine/random-access.ts';
import { instantiateCore } from '../wasm/core.ts';
import { CatarDecoder, type CatarEvent } from './catar-decoder.ts';
import { S_IFDIR, S_IFMT } from './catar-node.ts';
import {
  CA_FORMAT_ENTRY,
  CA_FORMAT_ENTRY_SIZE,
  CA_FORMAT_FILENAME,
  CA_FORMAT_FILENAME_MAX,
  CA_FORMAT_GOODBYE,
  CA_FORMAT_GOODBYE_ITEM_SIZE,
  CA_FORMAT_GOODBYE_TAIL_MARKER,
  CA_FORMAT_GOODBYE_TAIL_SIZE,
  CA_FORMAT_HEADER_SIZE,
  DEPTH_MAX,
} from './catar-constants.ts';
import { featureFlagsProblem, hex64 } from './feature-flags.ts';
import { FoundLocation, depthOf, type CatarNodeLocation } from './catar-location.ts';

export type { CatarNodeLocation } from './catar-location.ts';

const HDR = CA_FORMAT_HEADER_SIZE;
const ITEM = CA_FORMAT_GOODBYE_ITEM_SIZE;
const GOODBYE_MIN = HDR + CA_FORMAT_GOODBYE_TAIL_SIZE;
const FILENAME_MIN = HDR + 2;
const FILENAME_MAXSIZE = HDR + CA_FORMAT_FILENAME_MAX + 1;

/** casync's seek-path rule: components split on '/', empty ones dropped. */
export function splitSeekPath(path: string | Uint8Array): Uint8Array[] {
  const b = typeof path === 'string' ? new TextEncoder().encode(path) : path;
  const out: Uint8Array[] = [];
  let from = 0;
  for (let i = 0; i <= b.length; i++) {
    if (i === b.length || b[i] === 0x2f) {
      if (i > from) out.push(b.slice(from, i));
      from = i + 1;
    }
  }
  return out;
}

interface HashCore {
  memory: WebAssembly.Memory;
  allocate(size: number): number;
  siphash24(ptr: number, len: number): bigint;
}
let hashCore: { core: HashCore; buf: number; cap: number } | undefined;

/** SipHash-2-4 of a name under casync's goodbye key (the wasm core computes it). */
export function goodbyeHash(name: Uint8Array): bigint {
  if (!hashCore || hashCore.cap < name.length) {
    const core = (hashCore?.core ?? instantiateCore()) as unknown as HashCore;
    const cap = Math.max(256, name.length);
    hashCore = { core, buf: core.allocate(cap), cap };
  }
  const { core, buf } = hashCore;
  new Uint8Array(core.memory.buffer, buf, name.length).set(name);
  return BigInt.asUintN(64, core.siphash24(buf, name.length));
}

/**
 * The items of an n-item GOODBYE table whose hash is h, in casync's search order:
 * pre-order over the implicit tree, into both subtrees when the hashes are equal.
 * Indices at least double at each level, so the walk ends whatever the table says.
 */
export async function* goodbyeSearch(n: number, h: bigint, hashAt: (i: number) => Promise<bigint> | bigint): AsyncGenerator<number> {
  const stack = n > 0 ? [0] : [];
  while (stack.length) {
    const i = stack.pop()!;
    const p = await hashAt(i);
    if (h >= p && 2 * i + 2 < n) stack.push(2 * i + 2);
    if (h <= p && 2 * i + 1 < n) stack.push(2 * i + 1);
    if (p === h) yield i;
  }
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);
const isDir = (mode: number) => (mode & S_IFMT) === S_IFDIR;

/** Path lookups in one archive. */
export class CatarLookup {
  #root: CatarNodeLocation | null = null;
  /** the archive's feature flags (its root ENTRY's; every ENTRY must carry them) */
  featureFlags = 0n;

  constructor(
    readonly r: ReadAt,
    readonly file: string,
  ) {}

  /** The root directory, its ENTRY and GOODBYE tail checked. */
  async root(): Promise<CatarNodeLocation> {
    if (this.#root) return this.#root;
    const size = this.r.size;
    if (size < CA_FORMAT_ENTRY_SIZE + GOODBYE_MIN) {
      throw formatError(this.file, 0, `${size} bytes are too few for a catar archive`);
    }
    const head = await this.r.read(0, CA_FORMAT_ENTRY_SIZE);
    const flags = new DataView(head.buffer, head.byteOffset, head.byteLength).getBigUint64(16, true);
    const problem = featureFlagsProblem(flags);
    if (problem) throw formatError(this.file, 16, problem);
    this.featureFlags = flags;
    const mode = this.#entry(head, 0);
    if (!isDir(mode)) throw formatError(this.file, 0, 'the archive does not start with a directory');
    const goodbye = await this.#goodbyeOf(0, size);
    this.#root = new FoundLocation(null, null, null, 0, size, mode, goodbye);
    return this.#root;
  }

  /** The node at `path` (components, or a string split like casync), null if there is none. */
  async lookup(path: readonly Uint8Array[] | string): Promise<CatarNodeLocation | null> {
    let node = await this.root();
    for (const name of typeof path === 'string' ? splitSeekPath(path) : path) {
      const next = await this.child(node, name);
      if (!next) return null;
      node = next;
    }
    return node;
  }

  /** The child of a directory called `name`, null if it has none (or is no directory). */
  async child(dir: CatarNodeLocation, name: Uint8Array): Promise<CatarNodeLocation | null> {
    if (!dir.goodbye || name.length === 0 || name.length > CA_FORMAT_FILENAME_MAX) return null;
    if (depthOf(dir) >= DEPTH_MAX && dir.goodbye.size > GOODBYE_MIN) throw tooDeep(this.file, dir);
    const h = goodbyeHash(name);
    const n = (dir.goodbye.size - GOODBYE_MIN) / ITEM;
    const items = new Map<number, { offset: bigint; size: bigint; hash: bigint }>();
    const hashAt = async (i: number) => {
      const item = await this.#item(dir, i);
      items.set(i, item);
      return item.hash;
    };
    for await (const i of goodbyeSearch(n, h, hashAt)) {
      const child = await this.#childAt(dir, i, items.get(i)!);
      if (sameBytes(child.name!, name)) return child;
    }
    return null;
  }

  /** A directory's children in archive order, their ranges checked to tile its contents. */
  async children(dir: CatarNodeLocation): Promise<CatarNodeLocation[]> {
    if (!dir.goodbye) return [];
    if (depthOf(dir) >= DEPTH_MAX && dir.goodbye.size > GOODBYE_MIN) throw tooDeep(this.file, dir);
    const n = (dir.goodbye.size - GOODBYE_MIN) / ITEM;
    const out: CatarNodeLocation[] = [];
    for (let i = 0; i < n; i++) out.push(await this.#childAt(dir, i, await this.#item(dir, i)));
    out.sort((a, b) => a.filenameOffset! - b.filenameOffset!);
    for (let k = 1; k < out.length; k++) {
      const prev = out[k - 1];
      if (prev.end !== out[k].filenameOffset) {
        throw formatError(this.file, dir.goodbye.offset, `GOODBYE items of the directory at byte ${dir.entryOffset} do not tile its contents (a child ends at ${prev.end}, the next starts at ${out[k].filenameOffset})`);
      }
      if (compareBytes(prev.name!, out[k].name!) >= 0) {
        throw formatError(this.file, out[k].filenameOffset!, 'directory children are not in strictly increasing name order');
      }
    }
    if (out.length && out[out.length - 1].end !== dir.goodbye.offset) {
      throw formatError(this.file, dir.goodbye.offset, `the last child of the directory at byte ${dir.entryOffset} does not end at its GOODBYE`);
    }
    return out;
  }

  /** Checks an ENTRY record's header and flags; returns its mode. */
  #entry(b: Uint8Array, at: number): number {
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    if (v.getBigUint64(0, true) !== BigInt(CA_FORMAT_ENTRY_SIZE) || v.getBigUint64(8, true) !== CA_FORMAT_ENTRY) {
      throw formatError(this.file, at, 'expected an ENTRY record');
    }
    const flags = v.getBigUint64(16, true);
    if (flags !== this.featureFlags) {
      throw formatError(this.file, at + 16, `ENTRY feature flags ${hex64(flags)} differ from the archive's ${hex64(this.featureFlags)}`);
    }
    const mode = v.getBigUint64(24, true);
    if (mode > 0xffffffffn) throw formatError(this.file, at + 24, `bad mode ${mode}`);
    return Number(mode);
  }

  /** The GOODBYE of the directory whose ENTRY is at `entry` and whose range ends at `end`. */
  async #goodbyeOf(entry: number, end: number): Promise<{ offset: number; size: number }> {
    const f = this.file;
    const tailAt = end - CA_FORMAT_GOODBYE_TAIL_SIZE;
    if (tailAt < entry + CA_FORMAT_ENTRY_SIZE + HDR) {
      throw formatError(f, entry, `the directory's range [${entry}, ${end}) has no room for a GOODBYE`);
    }
    const t = view(await this.r.read(tailAt, CA_FORMAT_GOODBYE_TAIL_SIZE));
    if (t.getBigUint64(16, true) !== CA_FORMAT_GOODBYE_TAIL_MARKER) {
      throw formatError(f, tailAt + 16, `no GOODBYE tail marker at the end of the directory at byte ${entry}`);
    }
    const size = t.getBigUint64(8, true);
    const room = BigInt(end - entry - CA_FORMAT_ENTRY_SIZE);
    if (size < BigInt(GOODBYE_MIN) || size > room || (size - BigInt(GOODBYE_MIN)) % BigInt(ITEM) !== 0n) {
      throw formatError(f, tailAt + 8, `bad GOODBYE size ${size} in the tail of the directory at byte ${entry}`);
    }
    const offset = end - Number(size);
    const back = t.getBigUint64(0, true);
    if (back !== BigInt(offset - entry)) {
      throw formatError(f, tailAt, `GOODBYE tail points ${back} bytes back to its ENTRY, but the directory's ENTRY is ${offset - entry} bytes back`);
    }
    const h = view(await this.r.read(offset, HDR));
    if (h.getBigUint64(0, true) !== size || h.getBigUint64(8, true) !== CA_FORMAT_GOODBYE) {
      throw formatError(f, offset, `expected a GOODBYE record of ${size} bytes`);
    }
    return { offset, size: Number(size) };
  }

  async #item(dir: CatarNodeLocation, i: number): Promise<{ offset: bigint; size: bigint; hash: bigint }> {
    const v = view(await this.r.read(dir.goodbye!.offset + HDR + i * ITEM, ITEM));
    return { offset: v.getBigUint64(0, true), size: v.getBigUint64(8, true), hash: v.getBigUint64(16, true) };
  }

  /** Checks item i of a directory's GOODBYE and the FILENAME and ENTRY it points at. */
  async #childAt(dir: CatarNodeLocation, i: number, item: { offset: bigint; size: bigint; hash: bigint }): Promise<CatarNodeLocation> {
    const f = this.file;
    const g = dir.goodbye!.offset;
    const at = g + HDR + i * ITEM;
    const lowest = BigInt(g - dir.entryOffset - CA_FORMAT_ENTRY_SIZE);
    if (item.offset > lowest || item.size > item.offset || item.size < BigInt(FILENAME_MIN + CA_FORMAT_ENTRY_SIZE)) {
      throw formatError(f, at, `GOODBYE item ${i} (offset ${item.offset}, size ${item.size}) points outside the directory at byte ${dir.entryOffset}`);
    }
    const start = g - Number(item.offset);
    const end = start + Number(item.size);
    const fh = view(await this.r.read(start, HDR));
    const fsize = fh.getBigUint64(0, true);
    if (fh.getBigUint64(8, true) !== CA_FORMAT_FILENAME || fsize < BigInt(FILENAME_MIN) || fsize > BigInt(FILENAME_MAXSIZE) || fsize + BigInt(CA_FORMAT_ENTRY_SIZE) > item.size) {
      throw formatError(f, start, `GOODBYE item ${i} of the directory at byte ${dir.entryOffset} does not point at a FILENAME record`);
    }
    const fs = Number(fsize);
    const raw = await this.r.read(start + HDR, fs - HDR);
    const name = raw.slice(0, raw.length - 1);
    if (raw[raw.length - 1] !== 0 || name.some((c) => c === 0 || c === 0x2f) || (name.length <= 2 && name.every((c) => c === 0x2e))) {
      throw formatError(f, start, 'invalid FILENAME record');
    }
    if (goodbyeHash(name) !== item.hash) {
      throw formatError(f, at + 16, `GOODBYE item ${i} hash ${hex64(item.hash)} is not that of the name it points at`);
    }
    const entryOffset = start + fs;
    const mode = this.#entry(await this.r.read(entryOffset, CA_FORMAT_ENTRY_SIZE), entryOffset);
    const goodbye = isDir(mode) ? await this.#goodbyeOf(entryOffset, end) : null;
    return new FoundLocation(dir, name, start, entryOffset, end, mode, goodbye);
  }

  /** Offset just after the root's metadata records (its first FILENAME or its GOODBYE). */
  async rootMetadataEnd(): Promise<number> {
    const root = await this.root();
    let o = CA_FORMAT_ENTRY_SIZE;
    const limit = root.goodbye!.offset;
    while (o < limit) {
      if (o + HDR > limit) break;
      const h = view(await this.r.read(o, HDR));
      const type = h.getBigUint64(8, true);
      if (type === CA_FORMAT_FILENAME || type === CA_FORMAT_GOODBYE) return o;
      const size = h.getBigUint64(0, true);
      if (size < BigInt(HDR) || size > BigInt(limit - o)) break;
      o += Number(size);
    }
    if (o === limit) return o;
    throw formatError(this.file, o, 'bad record in the root directory\'s metadata');
  }
}

const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

/** The decoder's limit (assembly/catar-decoder-state.ts), told the same way. */
const tooDeep = (file: string, dir: CatarNodeLocation) =>
  formatError(file, dir.goodbye!.offset, `an entry more than ${DEPTH_MAX} directories deep (wasync reads at most that many levels)`);

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** Decoder events of a byte stream, in order (payload views valid until the next one). */
export async function* decodeEvents(decoder: CatarDecoder, pieces: AsyncIterable<Uint8Array>): AsyncGenerator<CatarEvent> {
  for await (const piece of pieces) {
    decoder.push(piece);
    for (let e = decoder.next(); e; e = decoder.next()) yield e;
  }
  decoder.end();
  for (let e = decoder.next(); e; e = decoder.next()) yield e;
}

export interface SubtreeOptions {
  /** sees the archive's bytes as they are decoded, with their offsets, in order */
  onBytes?(offset: number, bytes: Uint8Array): void;
}

/**
 * The decoder events of one located node and (for a directory) everything below
 * it, with archive offsets and depths counted from the node (0).  Ends with 'end'.
 */
export async function* subtreeEvents(lookup: CatarLookup, loc: CatarNodeLocation, o: SubtreeOptions = {}): AsyncGenerator<CatarEvent> {
  const r = lookup.r;
  // Small pieces first: `stat` needs only the first node's records.
  async function* range(start: number, end: number) {
    for (let piece = 1 << 16; start < end; piece = Math.min(2 * piece, 1 << 20)) {
      const b = await r.read(start, Math.min(piece, end - start));
      o.onBytes?.(start, b);
      start += b.length;
      yield b;
    }
  }
  const decoder = new CatarDecoder(lookup.file, { expectFlags: lookup.featureFlags });
  if (isDir(loc.mode)) {
    const base = loc.entryOffset;
    yield* remapped(lookup.file, (f) => f + base, async function* () {
      for await (const e of decodeEvents(decoder, range(base, loc.end))) {
        yield e.type === 'node' || e.type === 'directory-end' || e.type === 'payload' ? { ...e, offset: e.offset + base } : e;
      }
    });
    return;
  }
  // A lone node is wrapped: root metadata, its FILENAME and body, a one-item GOODBYE.
  const prefix = await lookup.rootMetadataEnd();
  const own = loc.end - loc.filenameOffset!;
  const g = prefix + own;
  const goodbye = new Uint8Array(HDR + ITEM + CA_FORMAT_GOODBYE_TAIL_SIZE);
  const v = view(goodbye);
  v.setBigUint64(0, BigInt(goodbye.length), true);
  v.setBigUint64(8, CA_FORMAT_GOODBYE, true);
  v.setBigUint64(16, BigInt(own), true);
  v.setBigUint64(24, BigInt(own), true);
  v.setBigUint64(32, goodbyeHash(loc.name!), true);
  v.setBigUint64(40, BigInt(g), true);
  v.setBigUint64(48, BigInt(goodbye.length), true);
  v.setBigUint64(56, CA_FORMAT_GOODBYE_TAIL_MARKER, true);
  async function* pieces() {
    yield* range(0, prefix);
    yield* range(loc.filenameOffset!, loc.end);
    yield goodbye;
  }
  const real = (f: number) => (f < prefix ? f : f < g ? f - prefix + loc.filenameOffset! : loc.end);
  yield* remapped(lookup.file, real, async function* () {
    for await (const e of decodeEvents(decoder, pieces())) {
      if (e.type === 'node') {
        if (e.depth === 1) yield { ...e, depth: 0, offset: real(e.offset) };
      } else if (e.type === 'payload') yield { ...e, offset: real(e.offset) };
      else if (e.type !== 'directory-end') yield e;
    }
  });
}

/** The events of `run`, its decoder's errors told with archive offsets. */
async function* remapped(file: string, real: (offset: number) => number, run: () => AsyncGenerator<CatarEvent>): AsyncGenerator<CatarEvent> {
  try {
    yield* run();
  } catch (e) {
    const m = e instanceof WasyncError && e.code === 'EFORMAT' ? /^(.*) \(at byte (\d+)\)$/s.exec(e.message) : null;
    if (!m || !m[1].startsWith(`${file}: `)) throw e;
    throw formatError(file, real(Number(m[2])), m[1].slice(file.length + 2));
  }
}

/** Every node of an archive read at offsets, in archive order. */
export const archiveEvents = async function* (lookup: CatarLookup): AsyncGenerator<CatarEvent> {
  yield* subtreeEvents(lookup, await lookup.root());
};
