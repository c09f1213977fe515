// make X.caidx DIR with an encoder cache (--cache=PATH, -c): the same index and
// the same chunks as a make without it, byte for byte, reading only the files
// that changed.
//
// Why the output cannot differ.  casync's cuts are a function of the stream's
// bytes alone, in two steps (chunker/cut-resolver.ts): a position p is a
// candidate iff the buzhash of the 48 bytes before it passes the discriminator
// test, which depends on those 48 bytes and nothing else; and the cuts are
// chosen from the candidates by a rule that needs only their positions (the
// first candidate at least max(min, 48) bytes after the last cut, else a cut at
// max).  The chunker has no other state: "where it stands" at a byte is the
// distance from the last cut, and that follows from the candidates before.
// So this make computes the complete candidate set of the stream, exactly, and
// hands it to the same CutResolver; it never reuses a cut, only candidates,
// and the cuts, and thereby the chunker's state at every byte, come out as an
// uncached make finds them, whatever moved, in any order of changes.
//
// The candidate set is assembled from three sources, which between them cover
// every window end position of the stream exactly once:
//   - record bytes (FILENAME, ENTRY, …, PAYLOAD headers, GOODBYE tables: made
//     fresh every time by the wasm encoder) and the content of files of at most
//     TINY bytes are scanned here, with the 47 bytes before them as look-behind;
//   - for a larger file, the window positions 1..47 of its content, whose
//     windows straddle the records before it, are scanned here too: its first
//     47 content bytes are known (cached, or read);
//   - its positions 48..size, whose windows lie inside the content, are the
//     file's own candidates, the same wherever the file sits in the stream:
//     found by a worker (scan-files) when the file is read, and remembered.
//     After the content the look-behind is its last 47 bytes, also remembered.
// A file's remembered part is used only when the file is the same: same path,
// and lstat's dev, inode, size, mtime and ctime (nanoseconds) all equal.  Any
// change of content changes mtime and ctime, a change of mode, owner, xattrs,
// ACLs or chattr flags changes ctime, and ctime cannot be set back.  A file
// whose mtime or ctime is within RACY_NS of the start of the make (or later)
// is not remembered at all, since a change in the same clock tick as the one
// seen would leave its times equal (git's "racily clean" case).  The cache file
// is valid only for the same feature flags, chunk sizes, digest and top
// directory (encoder-cache-file.ts), so the records and the nodump and
// .caexclude decisions it implies are the same too.  Directories, symlinks and
// device nodes are read every time.
//
// Chunk ids.  A chunk's bytes are named by a recipe: the record bytes it
// covers, verbatim, and for each file range the file's identity and the
// offsets.  Its SHA-256 is the recipe key; the cache maps the keys of the last
// make's chunks to their ids.  Equal keys mean equal bytes (equal record bytes,
// and ranges of files that are the same by the rule above), so a known key's
// id is the id the bytes would give; it is used only if the target store has
// that chunk, else the chunk is assembled from its recipe (worker job
// recipe-chunks: records plus file ranges read by path), digested and stored,
// as any chunk whose key is new.  Keys naming a file too recent to remember are
// neither looked up nor remembered.
//
// So a second make of a tree with one changed file reads that file, the
// records of every node (lstat per entry, the walk itself), and the file
// ranges of the few chunks around the change whose cuts moved; every other
// chunk is a key, a lookup and a stat of the store's chunk.  As in casync, no
// digest of the whole archive is computed while a cache is used.

import { createHash } from 'node:crypto';
import { readSync, type BigIntStats } from 'node:fs';
import { toHex } from '../../../chunk/chunk-id.ts';
import type { Compression } from '../../../chunk/compression.ts';
import type { DigestName } from '../../../chunk/digest.ts';
import { CandidateScanner } from '../../../chunker/scanner.ts';
import { CutResolver } from '../../../chunker/cut-resolver.ts';
import { discriminator, type ChunkSizes } from '../../../chunker/sizes.ts';
import { WasyncError, ioError } from '../../../errors.ts';
import type { CatarNode } from '../../../format/catar-node.ts';
import { CHUNK_ID_SIZE } from '../../../format/constants.ts';
import { encodeIndexItems } from '../../../format/index-file.ts';
import type { StoreGraph } from '../../../stores/store-graph.ts';
import type { ChunkStore } from '../../../stores/store.ts';
import type { LinuxFs } from '../linux/index.ts';
import { handled } from '../pool/chunk-pipeline.ts';
import { RECIPE_FIELDS, type ChunkResult, type Executor, type Job, type ScanFilesResult } from '../pool/jobs.ts';
import { encodeTree, type PayloadTaker } from './encode-tree.ts';
import { EDGE, IDENTITY_SIZE, TINY, identityOf, type CacheContents, type CachedFile } from './encoder-cache-file.ts';
import type { EncoderCacheDir } from './encoder-cache.ts';
import { NodeReader, type NodeExtras } from './read-node.ts';
import { BoundaryScanner } from './boundary-scanner.ts';

/** Files changed this recently (or later) before the make are not remembered. */
const RACY_NS = 2_000_000_000n;
const SCAN_BATCH_BYTES = 8 << 20;
const SCAN_BATCH_FILES = 1024;
const CHUNK_BATCH_BYTES = 4 << 20;
const CHUNK_BATCH_CHUNKS = 1024;
/**
 * Jobs run on this thread until they add up to this many bytes: starting the
 * threads costs more CPU than a second make's few changed files and chunks.
 */
const INLINE_BYTES = 16 << 20;

export interface CachedMakeOptions {
  root: string;
  flags: bigint;
  sizes: ChunkSizes;
  digest: DigestName;
  compression: Compression;
  cache: EncoderCacheDir;
  /** what the cache held (null: none, or one not trusted) */
  old: CacheContents | null;
  linux: LinuxFs | null;
  linuxMissing: string | null;
  /** the store, for has() on this thread, and its description for the jobs */
  store: ChunkStore;
  graph: StoreGraph;
  /** the worker threads, started by the first call (a second make may need none) */
  pool(): Executor;
  /** how many threads pool() has */
  parallelism: number;
  /** the calling thread, for the first INLINE_BYTES of work */
  inline: Executor;
  writeIndex(bytes: Uint8Array): Promise<void>;
  checkAborted(): void;
  progress?: SharedArrayBuffer;
}

export interface CachedMakeResult {
  size: number;
  entries: number;
  chunks: number;
  stored: number;
  storedBytes: number;
  /** chunks whose id came from the cache, and those assembled and digested */
  hits: number;
  misses: number;
  /** cached files found changed, and chunk keys new to the cache */
  invalidated: number;
  added: number;
  /** bytes of the chunks done so far (progress) */
  done: number;
  /** what the next make will find */
  contents: CacheContents;
}

interface FileInfo {
  path: Buffer;
  identity: Uint8Array;
  size: number;
  /** not too recent to remember */
  keep: boolean;
  head: Uint8Array | null;
  tail: Uint8Array | null;
  candidates: Float64Array | null;
  /** scan batch that reads it, while pending */
  batch: ScanBatch | null;
  /** its new cache entry, to be completed by the scan */
  entry: CachedFile | null;
}

interface ScanBatch {
  files: number[];
  result: Promise<ScanFilesResult>;
  done: boolean;
}

interface ChunkBatch {
  ends: number[];
  ids: Promise<Uint8Array>;
}

/** Part of a chunk: record bytes (arena range) or a file range. */
type Piece = { at: number; len: number; file: -1 } | { file: number; offset: number; len: number };

export async function makeCachedTree(o: CachedMakeOptions): Promise<CachedMakeResult> {
  return new CachedTree(o).run();
}

class CachedTree {
  private readonly reader: NodeReader;
  private readonly since: bigint;
  private readonly result: CachedMakeResult;
  private readonly files: FileInfo[] = [];
  private readonly newFiles = new Map<string, CachedFile>();
  private readonly newChunks = new Map<string, Uint8Array>();
  private readonly rootLen: number;
  // The stream as segments: record bytes in the arena, or a file's content.
  private segStart: number[] = [];
  private segLen: number[] = [];
  /** ≥ 0: arena offset of record bytes; < 0: -(file number + 1) */
  private segSrc: number[] = [];
  private arena = Buffer.allocUnsafe(1 << 20);
  private arenaUsed = 0;
  private offset = 0;
  // Candidates and cuts.
  private readonly boundary: BoundaryScanner;
  private readonly resolver: CutResolver;
  private scanSeg = 0;
  private chunkSeg = 0;
  private lastCut = 0;
  // Work handed out.
  private readonly scans: ScanBatch[] = [];
  private scanFiles: number[] = [];
  private scanBytes = 0;
  private readonly batches: ChunkBatch[] = [];
  private pendingChunks: { start: number; end: number; pieces: Piece[]; key: string | null }[] = [];
  private pendingBytes = 0;
  private known: CachedFile | null = null;
  private readonly scratch = Buffer.allocUnsafe(IDENTITY_SIZE);
  private readonly frame = Buffer.allocUnsafe(17);
  private readonly depth: number;
  private inlineBytes = 0;

  constructor(private readonly o: CachedMakeOptions) {
    this.reader = new NodeReader(o.flags, o.linux);
    this.since = BigInt(Date.now()) * 1_000_000n - RACY_NS;
    this.rootLen = Buffer.byteLength(o.root) + 1;
    this.boundary = new BoundaryScanner(new CandidateScanner(1 << 20), discriminator(o.sizes));
    this.resolver = new CutResolver(o.sizes);
    this.depth = 4 * o.parallelism;
    this.result = {
      size: 0, entries: 0, chunks: 0, stored: 0, storedBytes: 0, hits: 0, misses: 0, invalidated: 0, added: 0, done: 0,
      contents: { files: this.newFiles, chunks: this.newChunks },
    };
  }

  async run(): Promise<CachedMakeResult> {
    const tree = await encodeTree({
      root: this.o.root,
      featureFlags: this.o.flags,
      linux: this.o.linux,
      linuxMissing: this.o.linuxMissing,
      taker: this.taker(),
      sink: {
        write: async (b) => {
          this.o.checkAborted();
          this.literal(b);
          await this.pump(false);
        },
        reserve: () => Promise.reject(new Error('cached make: payloads go to the taker')),
        commit: () => Promise.reject(new Error('cached make: payloads go to the taker')),
      },
    });
    this.flushScans();
    await this.pump(true);
    this.cuts(this.resolver.finish(this.offset));
    this.dispatchChunks();
    while (this.batches.length) await this.completeBatch();
    this.result.size = tree.bytes;
    this.result.entries = tree.entries;
    if (tree.bytes !== this.offset) throw new Error(`cached make: stream of ${tree.bytes} bytes, segments cover ${this.offset}`);
    return this.result;
  }

  private taker(): PayloadTaker {
    const old = this.o.old?.files;
    return {
      skip: (st) => st.dev === this.o.cache.dev && st.ino === this.o.cache.ino,
      known: (path, st) => {
        const entry = old?.get(this.rel(path));
        if (!entry) return null;
        if (!identityOf(st, this.scratch).equals(entry.identity) || !this.keepable(st)) {
          this.result.invalidated++;
          return null;
        }
        this.known = entry;
        return this.reader.fromExtras(st, entry);
      },
      payload: (path, st, fd, node, extras) => this.payload(path, st, fd, node, extras),
    };
  }

  private keepable(st: BigIntStats) {
    return st.mtimeNs < this.since && st.ctimeNs < this.since;
  }

  private rel(path: Buffer): string {
    return path.toString('latin1', this.rootLen);
  }

  private async payload(path: Buffer, st: BigIntStats, fd: number, node: CatarNode, extras: NodeExtras | null) {
    const size = node.size!;
    const known = fd < 0 ? this.known : null;
    this.known = null;
    if (!known && !extras) {
      // an API file system's file, archived empty
      return;
    }
    const identity: Uint8Array = known ? known.identity : identityOf(st);
    const keep = this.keepable(st);
    const rel = keep ? this.rel(path) : '';
    const entry: CachedFile = known ?? {
      identity, size, flags: extras!.flags, projid: extras!.projid, xattrs: extras!.xattrs,
      content: null, head: null, tail: null, candidates: null,
    };
    if (size <= TINY) {
      if (!known) entry.content = readWhole(fd, path, size);
      this.literal(entry.content!);
      if (keep) this.newFiles.set(rel, entry);
      return;
    }
    const n = this.files.length;
    const f: FileInfo = { path, identity, size, keep, head: entry.head, tail: entry.tail, candidates: entry.candidates, batch: null, entry: keep && !known ? entry : null };
    this.files.push(f);
    if (keep) this.newFiles.set(rel, entry);
    if (!known) {
      this.scanFiles.push(n);
      this.scanBytes += size;
      if (this.scanBytes >= SCAN_BATCH_BYTES || this.scanFiles.length >= SCAN_BATCH_FILES) this.flushScans();
      while (this.scans.length > this.depth) await this.scans[0].result.then(() => this.pump(false));
    }
    this.segment(-(n + 1), size);
  }

  // ── the stream ──

  private literal(b: Uint8Array) {
    if (!b.length) return;
    if (this.arenaUsed + b.length > this.arena.length) {
      const bigger = Buffer.allocUnsafe(Math.max(2 * this.arena.length, this.arenaUsed + b.length));
      this.arena.copy(bigger, 0, 0, this.arenaUsed);
      this.arena = bigger;
    }
    this.arena.set(b, this.arenaUsed);
    const last = this.segSrc.length - 1;
    // Adjacent record bytes are one segment, so that a recipe does not depend on how they were written.
    if (last >= 0 && this.segSrc[last] >= 0 && this.segSrc[last] + this.segLen[last] === this.arenaUsed) {
      this.segLen[last] += b.length;
      this.offset += b.length;
    } else this.segment(this.arenaUsed, b.length);
    this.arenaUsed += b.length;
  }

  private segment(src: number, len: number) {
    this.segStart.push(this.offset);
    this.segLen.push(len);
    this.segSrc.push(src);
    this.offset += len;
  }

  private flushScans() {
    if (!this.scanFiles.length) return;
    const files = this.scanFiles;
    this.scanFiles = [];
    this.scanBytes = 0;
    const job = {
      kind: 'scan-files',
      paths: files.map((n) => this.files[n].path.toString('latin1')),
      sizes: Float64Array.from(files, (n) => this.files[n].size),
      d: discriminator(this.o.sizes),
    } as const;
    const bytes = files.reduce((a, n) => a + this.files[n].size, 0);
    const batch: ScanBatch = { files, result: handled(this.runJob<ScanFilesResult>(job, bytes)), done: false };
    batch.result.then(() => (batch.done = true), () => (batch.done = true));
    for (const n of files) this.files[n].batch = batch;
    this.scans.push(batch);
  }

  /** Takes in the finished scans, in order, and the results of the jobs done. */
  private async takeScan() {
    const s = this.scans.shift()!;
    const r = await s.result;
    let c = 0;
    s.files.forEach((n, i) => {
      const f = this.files[n];
      f.candidates = r.candidates.slice(c, c + r.counts[i]);
      c += r.counts[i];
      f.head = r.edges.slice(2 * EDGE * i, 2 * EDGE * i + EDGE);
      f.tail = r.edges.slice(2 * EDGE * i + EDGE, 2 * EDGE * (i + 1));
      f.batch = null;
      if (f.entry) Object.assign(f.entry, { head: f.head, tail: f.tail, candidates: f.candidates });
    });
  }

  /**
   * Candidates and cuts as far as the segments are known (a file read this
   * time is known once its scan is back); `wait`: to the end of the stream.
   */
  private async pump(wait: boolean) {
    while (this.scans[0]?.done) await this.takeScan();
    while (this.scanSeg < this.segSrc.length) {
      const i = this.scanSeg;
      const src = this.segSrc[i];
      const start = this.segStart[i];
      // The last segment may still grow.
      if (src >= 0 && i === this.segSrc.length - 1 && !wait) break;
      if (src >= 0) {
        const bytes = this.arena.subarray(src, src + this.segLen[i]);
        this.cuts(this.resolver.push(this.boundary.feed(bytes), 0, start + bytes.length));
      } else {
        const f = this.files[-src - 1];
        if (!f.head) {
          // read this time: known once its scan is back
          if (!wait) break;
          if (!f.batch) this.flushScans();
          while (!f.head) await this.takeScan();
        }
        this.cuts(this.resolver.push(this.boundary.feed(f.head!), 0, start + EDGE));
        this.boundary.jump(start + f.size, f.tail!);
        this.cuts(this.resolver.push(f.candidates!, start, start + f.size));
      }
      this.scanSeg++;
      if (this.batches.length > this.depth) await this.drainBatches();
    }
  }

  // ── chunks ──

  private cuts(cuts: number[]) {
    for (const end of cuts) {
      const pieces: Piece[] = [];
      const key = createHash('sha256');
      let keyed = true;
      let at = this.lastCut;
      while (at < end) {
        while (this.segStart[this.chunkSeg] + this.segLen[this.chunkSeg] <= at) this.chunkSeg++;
        const i = this.chunkSeg;
        const from = at - this.segStart[i];
        const len = Math.min(end, this.segStart[i] + this.segLen[i]) - at;
        const src = this.segSrc[i];
        const frame = this.frame;
        if (src >= 0) {
          pieces.push({ at: src + from, len, file: -1 });
          frame.writeUInt8(0, 0);
          frame.writeDoubleLE(len, 1);
          key.update(frame.subarray(0, 9)).update(this.arena.subarray(src + from, src + from + len));
        } else {
          const f = this.files[-src - 1];
          pieces.push({ file: -src - 1, offset: from, len });
          keyed &&= f.keep;
          frame.writeUInt8(1, 0);
          frame.writeDoubleLE(from, 1);
          frame.writeDoubleLE(len, 9);
          key.update(frame).update(f.identity);
        }
        at += len;
      }
      this.pendingChunks.push({ start: this.lastCut, end, pieces, key: keyed ? key.digest('hex') : null });
      this.pendingBytes += end - this.lastCut;
      this.lastCut = end;
      if (this.pendingBytes >= CHUNK_BATCH_BYTES || this.pendingChunks.length >= CHUNK_BATCH_CHUNKS) this.dispatchChunks();
    }
  }

  private dispatchChunks() {
    if (!this.pendingChunks.length) return;
    const chunks = this.pendingChunks;
    this.pendingChunks = [];
    this.pendingBytes = 0;
    const sizes = chunks.map((c) => c.end - c.start);
    this.batches.push({ ends: chunks.map((c) => c.end), ids: handled(this.resolveBatch(chunks, sizes)) });
  }

  /** The ids of a batch: known keys whose chunk the store has, the rest assembled by a job. */
  private async resolveBatch(chunks: { pieces: Piece[]; key: string | null }[], sizes: number[]): Promise<Uint8Array> {
    const ids = new Uint8Array(chunks.length * CHUNK_ID_SIZE);
    const old = this.o.old?.chunks;
    const known = chunks.map((c) => (c.key !== null ? old?.get(c.key) : undefined));
    const present = await Promise.all(known.map((id) => (id ? this.o.store.has(toHex(id)) : false)));
    const missing: number[] = [];
    known.forEach((id, i) => {
      if (id && present[i]) {
        ids.set(id, i * CHUNK_ID_SIZE);
        this.result.hits++;
      } else missing.push(i);
    });
    if (missing.length) {
      const job = this.recipeJob(missing.map((i) => chunks[i]), missing.map((i) => sizes[i]));
      const r = await this.runJob<ChunkResult>(job, missing.reduce((a, i) => a + sizes[i], 0));
      missing.forEach((i, k) => ids.set(r.ids.subarray(k * CHUNK_ID_SIZE, (k + 1) * CHUNK_ID_SIZE), i * CHUNK_ID_SIZE));
      this.result.misses += missing.length;
      this.result.stored += r.stored;
      this.result.storedBytes += r.storedBytes;
    }
    chunks.forEach((c, i) => {
      if (c.key === null) return;
      const id = ids.slice(i * CHUNK_ID_SIZE, (i + 1) * CHUNK_ID_SIZE);
      if (!old?.has(c.key)) this.result.added++;
      this.newChunks.set(c.key, id);
    });
    return ids;
  }

  private runJob<R>(job: Job, bytes: number): Promise<R> {
    if (this.inlineBytes + bytes > INLINE_BYTES) return this.o.pool().run<R>(job);
    this.inlineBytes += bytes;
    return this.o.inline.run<R>(job);
  }

  private recipeJob(chunks: { pieces: Piece[] }[], sizes: number[]) {
    const paths: string[] = [];
    const pathNo = new Map<number, number>();
    let bytes = 0;
    let n = 0;
    for (const c of chunks) {
      n += c.pieces.length;
      for (const p of c.pieces) if (p.file < 0) bytes += p.len;
    }
    const data = new Uint8Array(bytes);
    const pieces = new Float64Array(n * RECIPE_FIELDS);
    let at = 0;
    let k = 0;
    for (const c of chunks) {
      for (const p of c.pieces) {
        if (p.file < 0) {
          const q = p as { at: number; len: number };
          data.set(this.arena.subarray(q.at, q.at + q.len), at);
          pieces.set([0, at, 0, q.len], k);
          at += q.len;
        } else {
          const q = p as { file: number; offset: number; len: number };
          let no = pathNo.get(q.file);
          if (no === undefined) {
            pathNo.set(q.file, (no = paths.length));
            paths.push(this.files[q.file].path.toString('latin1'));
          }
          pieces.set([1, no, q.offset, q.len], k);
        }
        k += RECIPE_FIELDS;
      }
    }
    const { digest, graph: store, compression, progress } = this.o;
    return { kind: 'recipe-chunks', sizes: Float64Array.from(sizes), pieces, bytes: data, paths, digest, store, compression, progress } as const;
  }

  private async drainBatches() {
    while (this.batches.length > this.depth) await this.completeBatch();
  }

  private async completeBatch() {
    const b = this.batches.shift()!;
    const ids = await b.ids;
    this.result.chunks += b.ends.length;
    this.result.done = b.ends[b.ends.length - 1];
    await this.o.writeIndex(encodeIndexItems(b.ends, ids));
  }
}

function readWhole(fd: number, path: Buffer, size: number): Uint8Array {
  const b = Buffer.allocUnsafe(size);
  let done = 0;
  while (done < size) {
    let r: number;
    try {
      r = readSync(fd, b, done, size - done, done);
    } catch (e) {
      throw ioError('EINPUT', path.toString(), e);
    }
    if (r === 0) throw new WasyncError('EINPUT', `${path}: the file shrank while it was archived (${done} of ${size} bytes)`);
    done += r;
  }
  return b;
}

