// The encoder cache file (make --cache=DIR, -c): what one make of a tree learnt
// about it, so that the next make of the same tree reads only what changed.
// One file, DIR/wasync-encoder-cache, replaced whole (temporary name, rename)
// at the end of every make that uses it.  See cached-make.ts for how it is
// used and why the index it gives is the one an uncached make gives.
//
// Layout, integers little-endian:
//   0   magic "wasyncEC", u32 version = 1, u32 TINY (= 128)
//   16  u64 feature flags, u64 chunk_size_min, u64 avg, u64 max
//   48  u32 digest (0 sha512-256, 1 sha256), u32 0
//   56  u64 st_dev, u64 st_ino of the tree's top directory
//   72  u64 number of files F, u64 number of chunks C
//   88  F files, each:
//         u16 path length, path (relative to the top, raw bytes, '/' between names)
//         identity, 40 bytes: u64 st_dev, u64 st_ino, u64 st_size, i64 mtime ns, i64 ctime ns
//         u64 the node's feature-flag bits (chattr, FAT), u32 project id
//         u16 number of xattrs read (names and raw values, ACLs and labels included),
//           each u16 name length, name, u32 value length, value
//         size <= TINY: the content, size bytes
//         else: the first 47 and the last 47 content bytes, u32 n, n × u64: the
//           buzhash candidates inside the content (end positions p, 48 <= p <= size,
//           whose 48-byte window lies in the content), ascending
//       C chunks, each: 32-byte recipe key (cached-make.ts), 32-byte chunk id
//   …   SHA-256 of every byte before it (32 bytes); nothing follows.
// A file that does not parse, has another version, another tree or other
// settings (flags, sizes, digest) is not used: make warns and reads everything.

import { createHash } from 'node:crypto';
import { CHUNK_ID_SIZE } from '../../../format/constants.ts';
import type { ChunkSizes } from '../../../chunker/sizes.ts';
import type { DigestName } from '../../../chunk/digest.ts';

export const CACHE_FILE_NAME = 'wasync-encoder-cache';
export const CACHE_VERSION = 1;
/** Files up to this size are kept whole; larger ones as head, tail and candidates. */
export const TINY = 128;
/** The head and tail kept of a larger file: the buzhash window less one byte. */
export const EDGE = 47;
export const IDENTITY_SIZE = 40;
const MAGIC = Buffer.from('wasyncEC');
const HEADER = 88;
const SUM = 32;

export interface CacheSettings {
  flags: bigint;
  sizes: ChunkSizes;
  digest: DigestName;
  rootDev: bigint;
  rootIno: bigint;
}

/** What the cache knows of one regular file. */
export interface CachedFile {
  /** dev, ino, size, mtime ns, ctime ns (see identityOf) */
  identity: Uint8Array;
  size: number;
  flags: bigint;
  projid: number;
  xattrs: [Buffer, Buffer][];
  /** size <= TINY */
  content: Uint8Array | null;
  head: Uint8Array | null;
  tail: Uint8Array | null;
  /** end positions of candidates inside the content (48..size) */
  candidates: Float64Array | null;
  /** the entry as read from a cache file, written again as it is */
  raw?: Uint8Array;
}

export interface CacheContents {
  files: Map<string, CachedFile>;
  /** recipe key (hex) → chunk id */
  chunks: Map<string, Uint8Array>;
}

const NO_XATTRS: [Buffer, Buffer][] = [];

/** The 40 identity bytes of a stat result, in `b` (default: new bytes). */
export function identityOf(
  st: { dev: bigint; ino: bigint; size: bigint; mtimeNs: bigint; ctimeNs: bigint },
  b = Buffer.allocUnsafe(IDENTITY_SIZE),
): Buffer {
  b.writeBigUInt64LE(BigInt.asUintN(64, st.dev), 0);
  b.writeBigUInt64LE(BigInt.asUintN(64, st.ino), 8);
  b.writeBigUInt64LE(BigInt.asUintN(64, st.size), 16);
  b.writeBigInt64LE(BigInt.asIntN(64, st.mtimeNs), 24);
  b.writeBigInt64LE(BigInt.asIntN(64, st.ctimeNs), 32);
  return b;
}

const digestCode = (d: DigestName) => (d === 'sha256' ? 1 : 0);

export function encodeCacheFile(s: CacheSettings, c: CacheContents): Buffer {
  const parts: Buffer[] = [];
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
  head.writeBigUInt64LE(BigInt(c.files.size), 72);
  head.writeBigUInt64LE(BigInt(c.chunks.size), 80);
  parts.push(head);
  for (const [path, f] of c.files) {
    if (f.raw) {
      parts.push(f.raw as Buffer);
      continue;
    }
    const name = Buffer.from(path, 'latin1');
    let n = 2 + name.length + IDENTITY_SIZE + 12 + 2;
    for (const [k, v] of f.xattrs) n += 6 + k.length + v.length;
    const cands = f.candidates?.length ?? 0;
    n += f.content ? f.content.length : 2 * EDGE + 4 + 8 * cands;
    const b = Buffer.allocUnsafe(n);
    let o = b.writeUInt16LE(name.length, 0);
    o += name.copy(b, o);
    b.set(f.identity, o);
    o += IDENTITY_SIZE;
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
      o += f.content.length;
    } else {
      b.set(f.head!, o);
      b.set(f.tail!, o + EDGE);
      o = b.writeUInt32LE(cands, o + 2 * EDGE);
      for (let i = 0; i < cands; i++) o = b.writeBigUInt64LE(BigInt(f.candidates![i]), o);
    }
    parts.push(b);
  }
  const chunks = Buffer.allocUnsafe(c.chunks.size * 2 * CHUNK_ID_SIZE);
  let o = 0;
  for (const [key, id] of c.chunks) {
    o += chunks.write(key, o, 'hex');
    chunks.set(id, o);
    o += CHUNK_ID_SIZE;
  }
  parts.push(chunks);
  const sum = createHash('sha256');
  for (const p of parts) sum.update(p);
  parts.push(sum.digest());
  return Buffer.concat(parts);
}

/** A plain view (cheaper to make than a Buffer's subarray, and there are several per file). */
const view = (b: Buffer, at: number, n: number) => new Uint8Array(b.buffer, b.byteOffset + at, n);

/** Thrown (and caught by the loader, which warns) for a file that is not a usable cache. */
export class CacheProblem extends Error {}

/** The contents, if `b` is a cache file written with settings `s`; else a CacheProblem. */
export function decodeCacheFile(b: Buffer, s: CacheSettings): CacheContents {
  if (b.length < HEADER + SUM || !b.subarray(0, 8).equals(MAGIC)) throw new CacheProblem('not a wasync encoder cache');
  const version = b.readUInt32LE(8);
  if (version !== CACHE_VERSION) throw new CacheProblem(`version ${version}, this wasync writes ${CACHE_VERSION}`);
  const body = b.subarray(0, b.length - SUM);
  if (!createHash('sha256').update(body).digest().equals(b.subarray(b.length - SUM))) throw new CacheProblem('checksum mismatch (corrupt)');
  if (b.readUInt32LE(12) !== TINY) throw new CacheProblem('another layout');
  if (
    b.readBigUInt64LE(16) !== s.flags ||
    Number(b.readBigUInt64LE(24)) !== s.sizes.min ||
    Number(b.readBigUInt64LE(32)) !== s.sizes.avg ||
    Number(b.readBigUInt64LE(40)) !== s.sizes.max ||
    b.readUInt32LE(48) !== digestCode(s.digest)
  ) {
    throw new CacheProblem('made with other feature flags, chunk sizes or digest');
  }
  if (b.readBigUInt64LE(56) !== BigInt.asUintN(64, s.rootDev) || b.readBigUInt64LE(64) !== BigInt.asUintN(64, s.rootIno)) {
    throw new CacheProblem('made for another directory');
  }
  const nFiles = Number(b.readBigUInt64LE(72));
  const nChunks = Number(b.readBigUInt64LE(80));
  const files = new Map<string, CachedFile>();
  let o = HEADER;
  const need = (n: number) => {
    if (o + n > body.length) throw new CacheProblem(`truncated at byte ${o}`);
  };
  for (let i = 0; i < nFiles; i++) {
    const entryStart = o;
    need(2);
    const nameLen = b.readUInt16LE(o);
    need(2 + nameLen + IDENTITY_SIZE + 14);
    const path = b.toString('latin1', o + 2, o + 2 + nameLen);
    o += 2 + nameLen;
    const identity = view(b, o, IDENTITY_SIZE);
    const size = Number(b.readBigUInt64LE(o + 16));
    o += IDENTITY_SIZE;
    const flags = b.readBigUInt64LE(o);
    const projid = b.readUInt32LE(o + 8);
    const nx = b.readUInt16LE(o + 12);
    o += 14;
    const xattrs: [Buffer, Buffer][] = nx ? [] : NO_XATTRS;
    for (let x = 0; x < nx; x++) {
      need(2);
      const kl = b.readUInt16LE(o);
      need(2 + kl + 4);
      const k = b.subarray(o + 2, o + 2 + kl);
      o += 2 + kl;
      const vl = b.readUInt32LE(o);
      need(4 + vl);
      xattrs.push([k, b.subarray(o + 4, o + 4 + vl)]);
      o += 4 + vl;
    }
    const f: CachedFile = { identity, size, flags, projid, xattrs, content: null, head: null, tail: null, candidates: null };
    if (size <= TINY) {
      need(size);
      f.content = view(b, o, size);
      o += size;
    } else {
      need(2 * EDGE + 4);
      f.head = view(b, o, EDGE);
      f.tail = view(b, o + EDGE, EDGE);
      const n = b.readUInt32LE(o + 2 * EDGE);
      o += 2 * EDGE + 4;
      need(8 * n);
      const c = new Float64Array(n);
      let last = EDGE;
      for (let k = 0; k < n; k++, o += 8) {
        c[k] = b.readUInt32LE(o) + b.readUInt32LE(o + 4) * 0x1_0000_0000;
        if (c[k] <= last || c[k] > size) throw new CacheProblem(`${path}: candidate ${c[k]} out of order or range`);
        last = c[k];
      }
      f.candidates = c;
    }
    f.raw = view(b, entryStart, o - entryStart);
    files.set(path, f);
  }
  need(nChunks * 2 * CHUNK_ID_SIZE);
  const chunks = new Map<string, Uint8Array>();
  for (let i = 0; i < nChunks; i++, o += 2 * CHUNK_ID_SIZE) {
    chunks.set(b.toString('hex', o, o + CHUNK_ID_SIZE), b.subarray(o + CHUNK_ID_SIZE, o + 2 * CHUNK_ID_SIZE));
  }
  if (o !== body.length) throw new CacheProblem(`${body.length - o} bytes after the last chunk`);
  return { files, chunks };
}
