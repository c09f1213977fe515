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
// Chunk ids come from recipe keys (cached-chunks.ts): a chunk's record bytes
// and the identities and offsets of its file ranges; a known key's id is used
// only if the target store has that chunk, else the chunk is assembled, digested
// and stored.
//
// A directory is taken whole, its node bytes a range of the last make's
// stream (stream-layout.ts, kept in the cache), when it is the same directory
// by lstat (so the same names in it: a change of names changes its mtime and
// ctime), it was remembered complete (every node below it has an entry, none
// too recent, no exclusion rule from above and no submount rule applied), and
// every node below it is the same by its lstat; the walk then neither reads
// its names nor encodes its records.  Its candidates are the last stream's,
// and its chunks' keys are made from the pieces it had, so they are the keys
// the last make found.  Catar records are position-independent (goodbye
// offsets are relative), so the bytes are the same wherever the node now sits.
//
// So a second make of a tree with one changed file reads that file, the
// records of every node (lstat per entry, the walk itself), and the file
// ranges of the few chunks around the change whose cuts moved; every other
// chunk is a key, a lookup and a stat of the store's chunk.  As in casync, no
// digest of the whole archive is computed while a cache is used.

// The parts: this file walks the tree (encode-tree.ts, with a PayloadTaker);
// cached-cuts.ts finds the candidates and cuts; cached-stream.ts holds the stream's
// segments; cached-scans.ts has the files read this time scanned by jobs;
// cached-chunks.ts turns cuts into index entries; the cache is read
// beside the walk (encoder-cache-reader.ts) and the next one written in walk
// order (encoder-cache-file.ts), entries of unchanged files copied as bytes.
// A known file costs no await and no object beyond its segment: the walk's
// per-file work is what a second make of a large tree spends its time on.

import type { TreeStat } from '../io/fd-io.ts';
import type { Compression } from '../../../chunk/compression.ts';
import type { DigestName } from '../../../chunk/digest.ts';
import { discriminator, type ChunkSizes } from '../../../chunker/sizes.ts';
import type { CatarNode } from '../../../format/catar-node.ts';
import type { StoreGraph } from '../../../stores/store-graph.ts';
import type { ChunkStore } from '../../../stores/store.ts';
import type { LinuxFs } from '../linux/index.ts';
import type { Executor, Job } from '../pool/jobs.ts';
import { encodeTree, type PayloadTaker } from './encode-tree.ts';
import {
  CacheWriter, EDGE, IDENTITY_SIZE, KIND_DIR, KIND_FILE, KIND_LEFT_OUT, KIND_OTHER, TINY, identityOf, type CachedFile,
} from './encoder-cache-file.ts';
import { LayoutWriter, NO_ENTRY } from './stream-layout.ts';
import { lstatTree } from '../io/fd-io.ts';
import { readFully, shrankWhileArchived } from '../io/file-io.ts';
import { AT_FDCWD } from '../linux/libc.ts';
import type { CacheReader } from './encoder-cache-reader.ts';
import type { EncoderCacheDir } from './encoder-cache.ts';
import { NodeReader, type NodeExtras } from './read-node.ts';
import { CachedCuts } from './cached-cuts.ts';
import { CachedStream, type StreamFile } from './cached-stream.ts';
import { ChunkMaker, type ChunkCounts } from './cached-chunks.ts';
import { FileScans } from './cached-scans.ts';

/** Files changed this recently (or later) before the make are not remembered. */
const RACY_NS = 2_000_000_000n;
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
  /** the cache as the last make left it (null: none, or one not trusted) */
  old: CacheReader | null;
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

export interface CachedMakeResult extends ChunkCounts {
  size: number;
  entries: number;
  /** cached files found changed, and chunk keys new to the cache */
  invalidated: number;
  /** what the next make will find: the files (walk order) and the recipe keys */
  files: CacheWriter;
  layout: LayoutWriter;
  chunkKeys: Map<string, Uint8Array>;
  /** unchanged directories taken whole from the last make's stream */
  subtrees: number;
}

/** A directory being walked, as the next cache will remember it. */
interface OpenDir {
  /** its entry's ordinal and row in the next cache (-1: not remembered) */
  ord: number;
  row: number;
  start: number;
  /** everything below it remembered so far */
  complete: boolean;
}

/** what a directory taken whole has for the path and identity of a file */
const NOTHING = Buffer.alloc(0);

export async function makeCachedTree(o: CachedMakeOptions): Promise<CachedMakeResult> {
  return new CachedTree(o).run();
}

class CachedTree {
  private readonly reader: NodeReader;
  private readonly since: bigint;
  private readonly counts: ChunkCounts = { chunks: 0, stored: 0, storedBytes: 0, hits: 0, misses: 0, added: 0, done: 0 };
  private invalidated = 0;
  private readonly next = new CacheWriter();
  private readonly layout = new LayoutWriter();
  private readonly dirs: OpenDir[] = [];
  /** the old row of the directory knownDir() accepted, for the subtree() that follows */
  private knownRow = -1;
  private subtrees = 0;
  /** the top directory and '/', then a path below it (unchanged()'s lstat) */
  private lpath: Buffer;
  private readonly rootLen: number;
  private readonly stream = new CachedStream(() => this.chunks.liveFrom);
  private readonly chunks: ChunkMaker;
  private readonly cuts: CachedCuts;
  /** files read this time, waiting for their scan */
  private readonly scans: FileScans;
  /** the entry known() accepted, for the payload() that follows */
  private knownStart = -1;
  private knownCandidates: Float64Array | null = null;
  private readonly extras: NodeExtras = { flags: 0n, projid: 0, xattrs: [] };
  /** known()'s identity bytes (Buffer.alloc: 8-aligned, see identityOf) */
  private readonly scratch = Buffer.alloc(IDENTITY_SIZE);
  private readonly depth: number;
  private inlineBytes = 0;

  constructor(private readonly o: CachedMakeOptions) {
    this.reader = new NodeReader(o.flags, o.linux);
    this.since = BigInt(Date.now()) * 1_000_000n - RACY_NS;
    this.rootLen = Buffer.byteLength(o.root) + 1;
    this.lpath = Buffer.alloc(4096);
    this.lpath.write(`${o.root}/`, 'utf8');
    this.depth = 4 * o.parallelism;
    this.scans = new FileScans(this.stream.files, discriminator(o.sizes), (job, bytes) => this.runJob(job, bytes));
    this.chunks = new ChunkMaker({
      stream: this.stream,
      old: o.old?.chunks ?? null,
      oldCache: o.old,
      rootPrefix: Buffer.from(`${o.root}/`),
      store: o.store,
      graph: o.graph,
      digest: o.digest,
      compression: o.compression,
      progress: o.progress,
      runJob: (job, bytes) => this.runJob(job, bytes),
      writeIndex: o.writeIndex,
      counts: this.counts,
    });
    this.cuts = new CachedCuts(o.sizes, this.stream, this.scans, this.chunks, this.layout, this.depth);
  }

  async run(): Promise<CachedMakeResult> {
    const tree = await encodeTree({
      root: this.o.root,
      featureFlags: this.o.flags,
      linux: this.o.linux,
      linuxMissing: this.o.linuxMissing,
      taker: this.taker(),
      sink: {
        write: (b) => {
          this.o.checkAborted();
          this.literal(b);
          return this.cuts.pump(false);
        },
        reserve: () => Promise.reject(new Error('cached make: payloads go to the taker')),
        commit: () => Promise.reject(new Error('cached make: payloads go to the taker')),
      },
    });
    this.scans.flush();
    await this.cuts.pump(true);
    this.cuts.finish();
    this.chunks.dispatch();
    while (this.chunks.waiting) await this.chunks.completeFirst();
    if (tree.bytes !== this.stream.offset) throw new Error(`cached make: stream of ${tree.bytes} bytes, segments cover ${this.stream.offset}`);
    if (this.layout.streamBytes !== tree.bytes) throw new Error(`cached make: stream of ${tree.bytes} bytes, its layout covers ${this.layout.streamBytes}`);
    return {
      ...this.counts, size: tree.bytes, entries: tree.entries, invalidated: this.invalidated,
      files: this.next, layout: this.layout, chunkKeys: this.chunks.known, subtrees: this.subtrees,
    };
  }

  private taker(): PayloadTaker {
    const old = this.o.old;
    return {
      skip: (st) => st.dev === this.o.cache.dev && st.ino === this.o.cache.ino,
      known: (path, st) => {
        if (!old || !old.find(path, this.rootLen)) return null;
        const e = old.entry;
        if (e.kind !== KIND_FILE || !this.sameAt(st, e.identityAt) || !this.keepable(st)) {
          this.invalidated++;
          old.next();
          return null;
        }
        const candidates = e.size > TINY ? old.candidates() : null;
        if (e.size > TINY && !candidates) return null;
        this.extras.flags = e.flags;
        this.extras.projid = e.projid;
        this.extras.xattrs = old.xattrs();
        this.knownStart = e.start;
        this.knownCandidates = candidates;
        return this.reader.fromExtras(st, this.extras);
      },
      payload: (path, st, fd, node, extras) => (fd < 0 && this.knownStart >= 0 ? this.knownPayload(path, node) : this.payload(path, st, fd, node, extras)),
      knownDir: (path, st) => this.knownDir(path, st),
      subtree: () => this.subtree(),
      enterDir: (path, st, at, whole) => {
        const keep = whole && this.keepable(st);
        if (!keep) this.incomplete();
        const d: OpenDir = { ord: -1, row: -1, start: at, complete: keep };
        if (keep) {
          d.ord = this.next.ordinal;
          this.next.addNode(KIND_DIR, path.subarray(this.rootLen), identityOf(st, this.scratch));
          d.row = this.layout.openDir(at);
        }
        this.dirs.push(d);
      },
      leaveDir: (at, nodes) => {
        const d = this.dirs.pop()!;
        if (d.row >= 0) this.layout.closeDir(d.row, at - d.start, this.next.ordinal - d.ord - 1, this.layout.dirCount - d.row - 1, d.complete, nodes);
        if (!d.complete) this.incomplete();
      },
      other: (path, st) => this.remember(KIND_OTHER, path, st),
      leftOut: (path, st) => this.remember(KIND_LEFT_OUT, path, st),
    };
  }

  /** The next cache lacks something below the directories being walked: none of them is complete. */
  private incomplete() {
    const d = this.dirs[this.dirs.length - 1];
    if (d) d.complete = false;
  }

  private remember(kind: number, path: Buffer, st: TreeStat | undefined) {
    if (st && this.keepable(st)) this.next.addNode(kind, path.subarray(this.rootLen), identityOf(st, this.scratch));
    else this.incomplete();
  }

  private sameAt(st: TreeStat, identityAt: number) {
    return identityOf(st, this.scratch).compare(this.o.old!.bytes, identityAt, identityAt + IDENTITY_SIZE) === 0;
  }

  /**
   * A directory whose node can be taken whole from the last make's stream:
   * the same directory (so the same names in it), remembered complete, and
   * every node below it the same by its lstat.  Its size, or -1.
   */
  private knownDir(path: Buffer, st: TreeStat): number {
    const old = this.o.old;
    if (!old || !old.find(path, this.rootLen)) return -1;
    const e = old.entry;
    if (e.kind !== KIND_DIR || !this.sameAt(st, e.identityAt) || !this.keepable(st)) return -1;
    const r = old.row();
    if (!old.layout.dirComplete[r] || !old.unchanged(r, this.same)) return -1;
    this.knownRow = r;
    return old.layout.dirSize[r];
  }

  /** unchanged()'s test of one node below the top (`rel`: its path from there). */
  private readonly same = (rel: Uint8Array, identityAt: number): boolean => {
    const n = this.rootLen + rel.length;
    if (n >= this.lpath.length) return false;
    this.lpath.set(rel, this.rootLen);
    const p = this.lpath.subarray(0, n);
    let st: TreeStat | undefined;
    try {
      st = lstatTree(AT_FDCWD, p, p);
    } catch {
      return false;
    }
    return st !== undefined && this.sameAt(st, identityAt);
  };

  /** knownDir()'s directory: its node as a run of the last stream, its entries and layout carried over. */
  private subtree(): number {
    const old = this.o.old!;
    const L = old.layout;
    const r = this.knownRow;
    const ord = old.entry.ordinal;
    const n = L.dirEntries[r] + 1;
    const a = L.dirStart[r];
    const size = L.dirSize[r];
    const at = this.stream.offset;
    this.layout.copy(L, a, a + size, at, this.next.ordinal - ord, r, L.dirDirs[r] + 1);
    this.next.copy(old.bytes, old.entryAt(ord), old.entryAt(ord + n), n);
    this.stream.file({
      path: NOTHING, identity: NOTHING, size, keep: true, batch: null, run: a,
      head: L.recordsView(a, EDGE), tail: L.recordsView(a + size - EDGE, EDGE), candidates: L.candidatesIn(a + EDGE, a + size, a),
    });
    old.passSubtree(r);
    this.knownRow = -1;
    this.subtrees++;
    return L.dirNodes[r];
  }

  /** Record bytes (or a tiny file's content) next in the stream. */
  private literal(b: Uint8Array) {
    this.stream.literal(b);
    this.layout.records(b);
  }

  private keepable(st: TreeStat) {
    return st.mtimeNs < this.since && st.ctimeNs < this.since;
  }

  /** A file the cache knows: its entry carried over, its content laid out from it. */
  private knownPayload(path: Buffer, node: CatarNode) {
    const old = this.o.old!;
    const e = old.entry;
    this.knownStart = -1;
    const ord = this.next.ordinal;
    this.next.copy(old.bytes, e.start, e.end);
    const size = node.size!;
    if (size <= TINY) this.literal(old.view(e.dataAt, size));
    else {
      this.layout.file(this.stream.offset, size, ord);
      this.stream.file({
        path, identity: old.view(e.identityAt, IDENTITY_SIZE), size, keep: true,
        head: old.view(e.dataAt, EDGE), tail: old.view(e.dataAt + EDGE, EDGE), candidates: this.knownCandidates, batch: null,
      });
    }
    old.next();
  }

  /** A file read this time (`extras` null: an API file system's file, archived empty). */
  private payload(path: Buffer, st: TreeStat, fd: number, node: CatarNode, extras: NodeExtras | null): Promise<void> | void {
    const size = node.size!;
    if (!extras) return this.incomplete();
    const identity = identityOf(st);
    const keep = this.keepable(st);
    const entry: CachedFile | null = keep
      ? { path: path.subarray(this.rootLen), identity, size, flags: extras.flags, projid: extras.projid, xattrs: extras.xattrs, content: null, head: null, tail: null, candidates: null }
      : null;
    const ord = this.next.ordinal;
    if (entry) this.next.add(entry);
    else this.incomplete();
    if (size <= TINY) {
      const content = readWhole(fd, path, size);
      if (entry) entry.content = content;
      this.literal(content);
      return;
    }
    this.layout.file(this.stream.offset, size, entry ? ord : NO_ENTRY);
    const f: StreamFile = { path, identity, size, keep, head: null, tail: null, candidates: null, batch: null, entry };
    this.scans.add(this.stream.file(f));
    if (this.scans.backlog > this.depth) return this.waitScans();
  }

  private async waitScans() {
    while (this.scans.backlog > this.depth) {
      await this.scans.first();
      await this.cuts.pump(false);
    }
  }

  private runJob<R>(job: Job, bytes: number): Promise<R> {
    // A recipe's record bytes are built for its job alone: handed over, not copied.
    if (this.inlineBytes + bytes > INLINE_BYTES) return this.o.pool().run<R>(job, job.kind === 'recipe-chunks' ? [job.bytes.buffer as ArrayBuffer] : []);
    this.inlineBytes += bytes;
    return this.o.inline.run<R>(job);
  }
}

function readWhole(fd: number, path: Buffer, size: number): Uint8Array {
  const b = Buffer.allocUnsafe(size);
  readFully({ fd, path: path.toString() }, b, 0, size, 0, shrankWhileArchived);
  return b;
}
