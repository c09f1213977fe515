// wasync's pack files: a store's chunk files copied back to back into a few
// large files, so that a reader over HTTP fetches a run of neighbouring chunks
// with one Range request instead of one request per chunk.  casync knows
// nothing of them: the plain chunk files stay where they are, and a store with
// packs is still a casync store.  They live in the store's `pack/` directory:
//
//   STORE/pack/index            the pack index (replaced whole, by rename)
//   STORE/pack/NNNNNNNN.pack    pack number N, 8 decimal digits
//
// Pack file, integers LE:
//   0   magic "WASYNCPK", u32 version = 1, u32 pack number        (16 bytes)
//   16  stored chunk files (.cacnk bytes as the store holds them) back to
//       back, in the order they were packed: an index's chunks in index
//       order, so that what one reader wants next is what follows.
//
// Pack index, integers LE:
//   0   magic "WASYNCPI", u32 version = 1, u32 packs P, u64 entries N (24 bytes)
//   24  P × { u32 pack number, u32 0, u64 file size }   ascending numbers
//   …   N × { 32-byte chunk id, u32 pack number, u32 stored size,
//              u64 offset in the pack file }           strictly ascending ids
//   nothing follows.
// Every entry names a listed pack and lies within it past its header, so a
// reader can check a range before it asks for it; lookups are a binary search
// over the bytes as read, without an object per entry.  A chunk's bytes are
// checked against its id when read, as from any store.

import { formatError } from '../errors.ts';
import { CHUNK_ID_SIZE } from './constants.ts';

export const PACK_DIR = 'pack';
export const PACK_INDEX_NAME = 'index';
export const PACK_VERSION = 1;
export const PACK_HEADER_SIZE = 16;
export const PACK_INDEX_HEADER_SIZE = 24;
export const PACK_TABLE_ITEM_SIZE = 16;
export const PACK_ENTRY_SIZE = CHUNK_ID_SIZE + 16;
/** where a pack is closed and the next begun (readers take any size below 4 GiB) */
export const PACK_TARGET_SIZE = 256 << 20;
const PACK_MAX_SIZE = 2 ** 32;

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const PACK_MAGIC = ascii('WASYNCPK');
const INDEX_MAGIC = ascii('WASYNCPI');

export const packFileName = (n: number) => `${String(n).padStart(8, '0')}.pack`;

export interface PackEntry {
  id: Uint8Array;
  pack: number;
  offset: number;
  size: number;
}

export interface PackInfo {
  number: number;
  size: number;
}

/** The 16 bytes a pack file starts with. */
export function encodePackHeader(n: number): Uint8Array {
  const b = new Uint8Array(PACK_HEADER_SIZE);
  b.set(PACK_MAGIC);
  const v = new DataView(b.buffer);
  v.setUint32(8, PACK_VERSION, true);
  v.setUint32(12, n, true);
  return b;
}

const compareIds = (a: Uint8Array, ao: number, b: Uint8Array, bo: number) => {
  for (let i = 0; i < CHUNK_ID_SIZE; i++) {
    const d = a[ao + i] - b[bo + i];
    if (d) return d;
  }
  return 0;
};

/** A pack index for `entries` (any order; ids unique) in `packs`. */
export function encodePackIndex(packs: readonly PackInfo[], entries: readonly PackEntry[]): Uint8Array {
  const sorted = [...entries].sort((a, b) => compareIds(a.id, 0, b.id, 0));
  const table = [...packs].sort((a, b) => a.number - b.number);
  const out = new Uint8Array(PACK_INDEX_HEADER_SIZE + table.length * PACK_TABLE_ITEM_SIZE + sorted.length * PACK_ENTRY_SIZE);
  const v = new DataView(out.buffer);
  out.set(INDEX_MAGIC);
  v.setUint32(8, PACK_VERSION, true);
  v.setUint32(12, table.length, true);
  v.setBigUint64(16, BigInt(sorted.length), true);
  let o = PACK_INDEX_HEADER_SIZE;
  for (const p of table) {
    v.setUint32(o, p.number, true);
    v.setBigUint64(o + 8, BigInt(p.size), true);
    o += PACK_TABLE_ITEM_SIZE;
  }
  for (const e of sorted) {
    out.set(e.id, o);
    v.setUint32(o + 32, e.pack, true);
    v.setUint32(o + 36, e.size, true);
    v.setBigUint64(o + 40, BigInt(e.offset), true);
    o += PACK_ENTRY_SIZE;
  }
  return out;
}

/** A parsed, checked pack index; `find` is a binary search over its bytes. */
export class PackIndex {
  readonly packs: PackInfo[] = [];
  readonly count: number;
  private readonly view: DataView;
  private readonly entriesAt: number;

  constructor(
    private readonly bytes: Uint8Array,
    readonly file: string,
  ) {
    const v = (this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    if (bytes.length < PACK_INDEX_HEADER_SIZE || compareMagic(bytes, INDEX_MAGIC)) throw formatError(file, 0, 'not a wasync pack index');
    const version = v.getUint32(8, true);
    if (version !== PACK_VERSION) throw formatError(file, 8, `pack index version ${version} is not supported (expected ${PACK_VERSION})`);
    const packs = v.getUint32(12, true);
    const count = Number(v.getBigUint64(16, true));
    this.count = count;
    this.entriesAt = PACK_INDEX_HEADER_SIZE + packs * PACK_TABLE_ITEM_SIZE;
    const expected = this.entriesAt + count * PACK_ENTRY_SIZE;
    if (bytes.length !== expected) throw formatError(file, Math.min(bytes.length, expected), `pack index of ${bytes.length} bytes, expected ${expected} for ${packs} packs and ${count} entries`);
    const sizes = new Map<number, number>();
    for (let i = 0, o = PACK_INDEX_HEADER_SIZE; i < packs; i++, o += PACK_TABLE_ITEM_SIZE) {
      const p = { number: v.getUint32(o, true), size: Number(v.getBigUint64(o + 8, true)) };
      if (i && p.number <= this.packs[i - 1].number) throw formatError(file, o, `pack ${p.number} is out of order`);
      if (p.size < PACK_HEADER_SIZE || p.size > PACK_MAX_SIZE) throw formatError(file, o + 8, `pack ${p.number} has an impossible size ${p.size}`);
      this.packs.push(p);
      sizes.set(p.number, p.size);
    }
    for (let i = 0, o = this.entriesAt; i < count; i++, o += PACK_ENTRY_SIZE) {
      if (i && compareIds(bytes, o - PACK_ENTRY_SIZE, bytes, o) >= 0) throw formatError(file, o, 'chunk ids are not in ascending order');
      const e = this.entryAt(o);
      const packSize = sizes.get(e.pack);
      if (packSize === undefined) throw formatError(file, o + 32, `entry names pack ${e.pack}, which the index does not list`);
      if (e.size === 0 || e.offset < PACK_HEADER_SIZE || e.offset + e.size > packSize) {
        throw formatError(file, o + 36, `entry of ${e.size} bytes at ${e.offset} lies outside pack ${e.pack} (${packSize} bytes)`);
      }
    }
  }

  /** Where chunk `id` (32 bytes) is packed, or null. */
  find(id: Uint8Array): PackEntry | null {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const o = this.entriesAt + mid * PACK_ENTRY_SIZE;
      const d = compareIds(this.bytes, o, id, 0);
      if (d === 0) return this.entryAt(o);
      if (d < 0) lo = mid + 1;
      else hi = mid;
    }
    return null;
  }

  /** Every entry, in id order. */
  *entries(): IterableIterator<PackEntry> {
    for (let i = 0; i < this.count; i++) yield this.entryAt(this.entriesAt + i * PACK_ENTRY_SIZE);
  }

  private entryAt(o: number): PackEntry {
    const v = this.view;
    return { id: this.bytes.subarray(o, o + CHUNK_ID_SIZE), pack: v.getUint32(o + 32, true), size: v.getUint32(o + 36, true), offset: Number(v.getBigUint64(o + 40, true)) };
  }
}

/** Whether `b` starts with a pack file's header for pack `n`; the problem if not. */
export function packHeaderProblem(b: Uint8Array, n: number): string | null {
  if (b.length < PACK_HEADER_SIZE || compareMagic(b, PACK_MAGIC)) return 'not a wasync pack file';
  const v = new DataView(b.buffer, b.byteOffset, PACK_HEADER_SIZE);
  if (v.getUint32(8, true) !== PACK_VERSION) return `pack file version ${v.getUint32(8, true)} is not supported`;
  if (v.getUint32(12, true) !== n) return `the file is pack ${v.getUint32(12, true)}, not ${n}`;
  return null;
}

const compareMagic = (b: Uint8Array, magic: Uint8Array) => magic.some((c, i) => b[i] !== c);
