// The encoder cache file (make --cache=DIR, -c): what one make of a tree learnt
// about it, so that the next make of the same tree reads only what changed.
// One file, DIR/wasync-encoder-cache, replaced whole (temporary name, rename)
// at the end of a make that uses it, unless that make learnt next to nothing
// (encoder-cache.ts).  See cached-make.ts for how it is
// used and why the index it gives is the one an uncached make gives.  This
// file has the layout and its writer; encoder-cache-reader.ts reads it.
//
// Layout, integers little-endian:
//   0   magic "wasyncEC", u32 version = 3, u32 TINY (= 128)
//   16  u64 feature flags, u64 chunk_size_min, u64 avg, u64 max
//   48  u32 digest (0 sha512-256, 1 sha256), u32 0
//   56  u64 st_dev, u64 st_ino of the tree's top directory
//   72  u64 number of entries E, u64 number of chunks C
//   88  u64 directory rows D, u64 file rows K, u64 candidates N, u64 record bytes R
//   120 E entries, in the order the walk meets the nodes (names sorted by their
//       raw bytes in each directory), each:
//         u8 kind: 0 regular file, 1 directory, 2 other node (symlink, device,
//           FIFO, socket), 3 a name left out (nodump, excluded, not archived)
//         u16 path length, path (relative to the top, raw bytes, '/' between names)
//         identity, 40 bytes: u64 st_dev, u64 st_ino, u64 st_size, i64 mtime ns, i64 ctime ns
//       and for a regular file:
//         u64 the node's feature-flag bits (chattr, FAT), u32 project id
//         u16 number of xattrs read (names and raw values, ACLs and labels included),
//           each u16 name length, name, u32 value length, value
//         size <= TINY: the content, size bytes
//         else: the first 47 and the last 47 content bytes, u32 n, n × u64: the
//           buzhash candidates inside the content (end positions p, 48 <= p <= size,
//           whose 48-byte window lies in the content), ascending
//   …   the stream's layout (stream-layout.ts):
//       D directories (the kind 1 entries, in order), each: u64 node offset, u64 node
//         size, u32 entries and u32 directories below it, u32 complete (1), u32 nodes archived
//       K larger files in stream order, each: u64 offset, u64 size, u32 entry ordinal, u32 0
//       N × u64: every buzhash candidate of the stream, ascending
//       R record bytes: the stream less the larger files' content
//       C chunks, each: 32-byte recipe key (cached-chunks.ts), 32-byte chunk id
//   …   SHA-256 of every byte before it (32 bytes); nothing follows.
// Files in walk order let the next make read the cache front to back beside
// the walk, and copy the entries of files that did not change to the new
// cache as runs of bytes, without taking them apart.
// A file that does not parse, has another version, another tree or other
// settings (flags, sizes, digest) is not used: make warns and reads everything.

import { createHash } from 'node:crypto';
import { CHUNK_ID_SIZE } from '../../../format/constants.ts';
import type { ChunkSizes } from '../../../chunker/sizes.ts';
import type { DigestName } from '../../../chunk/digest.ts';
import type { LayoutWriter } from './stream-layout.ts';

export const CACHE_FILE_NAME = 'wasync-encoder-cache';
export const CACHE_VERSION = 3;
/** Files up to this size are kept whole; larger ones as head, tail and candidates. */
export const TINY = 128;
/** The head and tail kept of a larger file: the buzhash window less one byte. */
export const EDGE = 47;
export const IDENTITY_SIZE = 40;
export const MAGIC = Buffer.from('wasyncEC');
export const HEADER = 120;
export const SUM = 32;
export const KEY_SIZE = 32;
/** Entry kinds. */
export const KIND_FILE = 0;
export const KIND_DIR = 1;
export const KIND_OTHER = 2;
export const KIND_LEFT_OUT = 3;

export interface CacheSettings {
  flags: bigint;
  sizes: ChunkSizes;
  digest: DigestName;
  rootDev: bigint;
  rootIno: bigint;
}

/** What the cache learns of one regular file read this time (written at the end). */
export interface CachedFile {
  /** path relative to the top */
  path: Uint8Array;
  /** dev, ino, size, mtime ns, ctime ns (see identityOf) */
  identity: Uint8Array;
  size: number;
  flags: bigint;
  projid: number;
  xattrs: [Buffer, Buffer][];
  /** size <= TINY */
  content: Uint8Array | null;
  /** size > TINY: filled in once the file's scan is back */
  head: Uint8Array | null;
  tail: Uint8Array | null;
  /** end positions of candidates inside the content (48..size) */
  candidates: Float64Array | null;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
let lastBytes: Buffer | null = null;
let lastWords: BigUint64Array | null = null;

/**
 * The 40 identity bytes of a stat result, in `b` (default: new bytes).  On a
 * little-endian machine through a BigUint64Array (its stores wrap as the
 * layout wants, and cost far less than Buffer's writeBig*: one per file).
 */
export function identityOf(
  st: { dev: bigint; ino: bigint; size: bigint; mtimeNs: bigint; ctimeNs: bigint },
  b = Buffer.alloc(IDENTITY_SIZE),
): Buffer {
  if (LITTLE_ENDIAN && b.byteOffset % 8 === 0) {
    if (b !== lastBytes) {
      lastBytes = b;
      lastWords = new BigUint64Array(b.buffer, b.byteOffset, 5);
    }
    const w = lastWords!;
    w[0] = st.dev;
    w[1] = st.ino;
    w[2] = st.size;
    w[3] = st.mtimeNs;
    w[4] = st.ctimeNs;
    return b;
  }
  b.writeBigUInt64LE(BigInt.asUintN(64, st.dev), 0);
  b.writeBigUInt64LE(BigInt.asUintN(64, st.ino), 8);
  b.writeBigUInt64LE(BigInt.asUintN(64, st.size), 16);
  b.writeBigInt64LE(BigInt.asIntN(64, st.mtimeNs), 24);
  b.writeBigInt64LE(BigInt.asIntN(64, st.ctimeNs), 32);
  return b;
}

export const digestCode = (d: DigestName): number => (d === 'sha256' ? 1 : 0);

function header(s: CacheSettings, files: number, chunks: number, layout: LayoutWriter): Buffer {
  const head = Buffer.alloc(HEADER);
  MAGIC.copy(head, 0);
  head.writeUInt32LE(CACHE_VERSION, 8);
  head.writeUInt32LE(TINY, 12);
  head.writeBigUInt64LE(s.flags, 16);
  head.writeBigUInt64LE(BigInt(s.sizes.min), 24);
  head.writeBigUInt64LE(BigInt(s.sizes.avg), 32);
  head.writeBigUInt64LE(BigInt(s.sizes.max), 40);
  head.writeUInt32LE(digestCode(s.digest), 48);
  head.writeBigUInt64LE(BigInt.asUintN(64, s.rootDev), 56);
  head.writeBigUInt64LE(BigInt.asUintN(64, s.rootIno), 64);
  head.writeBigUInt64LE(BigInt(files), 72);
  head.writeBigUInt64LE(BigInt(chunks), 80);
  head.writeBigUInt64LE(BigInt(layout.dirCount), 88);
  head.writeBigUInt64LE(BigInt(layout.files.length / 3), 96);
  head.writeBigUInt64LE(BigInt(layout.candidates.length), 104);
  head.writeBigUInt64LE(BigInt(layout.recordBytes), 112);
  return head;
}

/** The size of `f`'s entry in bytes. */
function entrySize(f: CachedFile): number {
  let n = 3 + f.path.length + IDENTITY_SIZE + 14;
  for (const [k, v] of f.xattrs) n += 6 + k.length + v.length;
  return n + (f.content ? f.content.length : 2 * EDGE + 4 + 8 * f.candidates!.length);
}

/** Writes `f`'s entry at `o` in `b`; returns where it ends. */
function encodeEntry(f: CachedFile, b: Buffer, o: number): number {
  o = encodeNode(KIND_FILE, f.path, f.identity, b, o);
  o = b.writeBigUInt64LE(f.flags, o);
  o = b.writeUInt32LE(f.projid, o);
  o = b.writeUInt16LE(f.xattrs.length, o);
  for (const [k, v] of f.xattrs) {
    o = b.writeUInt16LE(k.length, o);
    o += k.copy(b, o);
    o = b.writeUInt32LE(v.length, o);
    o += v.copy(b, o);
  }
  if (f.content) {
    b.set(f.content, o);
    return o + f.content.length;
  }
  b.set(f.head!, o);
  b.set(f.tail!, o + EDGE);
  const cands = f.candidates!;
  o = b.writeUInt32LE(cands.length, o + 2 * EDGE);
  for (let i = 0; i < cands.length; i++) {
    const c = cands[i];
    o = b.writeUInt32LE(c % 0x1_0000_0000, o);
    o = b.writeUInt32LE(Math.floor(c / 0x1_0000_0000), o);
  }
  return o;
}

/** The part every entry has; returns where it ends. */
function encodeNode(kind: number, path: Uint8Array, identity: Uint8Array, b: Buffer, o: number): number {
  b[o] = kind;
  o = b.writeUInt16LE(path.length, o + 1);
  b.set(path, o);
  o += path.length;
  b.set(identity, o);
  return o + IDENTITY_SIZE;
}

/** A directory's, another node's or a name's left out entry (KIND_DIR …), encoded. */
interface NodeEntry {
  bytes: Uint8Array;
}

/** An old cache's entries at start..end of `from`, copied as they are. */
interface Run {
  from: Uint8Array;
  start: number;
  end: number;
}

/** Entries of files read this time are written into blocks of this size, as they are complete. */
const BLOCK = 1 << 20;

/**
 * The next cache file, built in walk order: entries of files read this time,
 * and runs of the old file's bytes (entries of unchanged files) copied as they
 * are.  An entry is encoded once complete (a larger file's, once its scan is
 * back), so what a first make of a large tree holds is the file's bytes, not
 * some five objects per file.
 */
export class CacheWriter {
  /** the file's pieces so far, in order: blocks of encoded entries and runs */
  private readonly parts: (Uint8Array | Run)[] = [];
  /** what comes after the first entry not yet complete, in order */
  private readonly queue: (CachedFile | Run | NodeEntry)[] = [];
  private block: Buffer | null = null;
  /** bytes of the block written, and moved to the parts */
  private used = 0;
  private sealed = 0;
  /** entries so far: the ordinal of the next one */
  private count = 0;
  /** file entries read this time */
  private entries = 0;

  get ordinal(): number {
    return this.count;
  }

  add(f: CachedFile): void {
    this.drain();
    this.queue.push(f);
    this.count++;
    this.entries++;
  }

  /** A directory's, another node's or a left-out name's entry (KIND_DIR, KIND_OTHER, KIND_LEFT_OUT). */
  addNode(kind: number, path: Uint8Array, identity: Uint8Array): void {
    this.drain();
    this.count++;
    const n = 3 + path.length + IDENTITY_SIZE;
    if (this.queue.length) {
      const bytes = Buffer.allocUnsafe(n);
      encodeNode(kind, path, identity, bytes, 0);
      this.queue.push({ bytes });
    } else this.used = encodeNode(kind, path, identity, this.room(n), this.used);
  }

  /** The old cache's `n` entries at `start..end` of `from`, again. */
  copy(from: Uint8Array, start: number, end: number, n = 1): void {
    this.drain();
    if (this.queue.length) this.queue.push({ from, start, end });
    else this.put(from, start, end);
    this.count += n;
  }

  /**
   * Whether every file entry would be one of the cache read (`from`): nothing new
   * to remember, though entries of `from` may be left out (files that changed,
   * too recently to be remembered, or went away).  Entries of directories and
   * other nodes do not count: without them the next make walks those again.
   */
  addsNothingTo(from: Uint8Array): boolean {
    return this.entries === 0 && [...this.parts, ...this.queue].every((p) => !('from' in p) || p.from === from);
  }

  /** The whole file, as pieces to write one after another; `chunks`: recipe key (latin1) → id. */
  finish(s: CacheSettings, chunks: Map<string, Uint8Array>, layout: LayoutWriter): Uint8Array[] {
    this.drain();
    if (this.queue.length) throw new Error('encoder cache: an entry was never completed');
    this.seal();
    const out: Uint8Array[] = [header(s, this.count, chunks.size, layout)];
    for (const p of this.parts) out.push('from' in p ? p.from.subarray(p.start, p.end) : p);
    out.push(...layout.encode());
    const table = Buffer.allocUnsafe(chunks.size * (KEY_SIZE + CHUNK_ID_SIZE));
    let o = 0;
    for (const [key, id] of chunks) {
      o += table.write(key, o, 'latin1');
      table.set(id, o);
      o += CHUNK_ID_SIZE;
    }
    out.push(table);
    const sum = createHash('sha256');
    for (const p of out) sum.update(p);
    out.push(sum.digest());
    return out;
  }

  /** Moves the queue's complete front to the parts. */
  private drain(): void {
    let i = 0;
    for (; i < this.queue.length; i++) {
      const q = this.queue[i];
      if ('from' in q) {
        this.put(q.from, q.start, q.end);
      } else if ('bytes' in q) {
        this.room(q.bytes.length).set(q.bytes, this.used);
        this.used += q.bytes.length;
      } else {
        if (!q.content && !q.candidates) break;
        this.used = encodeEntry(q, this.room(entrySize(q)), this.used);
      }
    }
    if (i) this.queue.splice(0, i);
  }

  /** The block, with room for `n` more bytes. */
  private room(n: number): Buffer {
    if (!this.block || this.used + n > this.block.length) {
      this.seal();
      this.block = Buffer.allocUnsafe(Math.max(BLOCK, n));
      this.used = this.sealed = 0;
    }
    return this.block;
  }

  /** A run of the old file, after what the block holds: joined to the run before it when adjacent in both files. */
  private put(from: Uint8Array, start: number, end: number): void {
    this.seal();
    const last = this.parts[this.parts.length - 1];
    if (last && 'from' in last && last.from === from && last.end === start) last.end = end;
    else this.parts.push({ from, start, end });
  }

  /** Moves the entries written into the block since the last seal to the parts (the block goes on filling). */
  private seal(): void {
    if (this.block && this.used > this.sealed) this.parts.push(this.block.subarray(this.sealed, this.used));
    this.sealed = this.used;
  }
}
