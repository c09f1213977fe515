// Runs chunk-engine jobs (engine/jobs.ts) on Node.  One JobRunner per thread
// keeps a read buffer, the wasm scanner and codec contexts across jobs.

import { closeSync, constants, openSync, readSync, writeSync } from 'node:fs';
import { createHash, type Hash } from 'node:crypto';
import { WasyncError, chunkCorrupt, chunkMissing, ioError } from '../../errors.ts';
import { CandidateScanner } from '../../chunker/scanner.ts';
import { BUZHASH_WINDOW } from '../../chunker/sizes.ts';
import { CHUNK_ID_SIZE } from '../../format/constants.ts';
import { toHex } from '../../chunk-id.ts';
import type { DigestName } from '../../digest.ts';
import {
  FETCH_PLAN_FIELDS,
  SCAN_SEGMENT,
  Source,
  emptyFetchStats,
  type ChunkJob,
  type ChunkResult,
  type DigestJob,
  type FetchJob,
  type FetchResult,
  type FileRef,
  type InputRef,
  type Job,
  type ScanJob,
  type ScanResult,
  type RecipePiece,
  type Origin,
  type FilesJob,
  type FilesResult,
} from '../../engine/jobs.ts';
import { linuxFs, linuxFsUnavailable } from './linux/index.ts';
import { FileWriter } from './tree/file-writer.ts';
import { unpackFiles } from '../../engine/file-batch.ts';
import { MetadataApplier } from './tree/apply-metadata.ts';
import { Remover } from './tree/remove-tree.ts';
import { ChunkCodec } from './codecs.ts';
import { LocalStore } from './local-store.ts';

export interface JobOutput {
  result: unknown;
  transfer: ArrayBuffer[];
}

export class JobRunner {
  private scanner: CandidateScanner | undefined;
  private readonly codec = new ChunkCodec();
  private readonly stores = new Map<string, LocalStore>();
  private buf = Buffer.alloc(0);
  private running: Hash | undefined;
  private readonly zeroIds = new Map<string, Uint8Array>();
  private zeros = Buffer.alloc(0);

  async run(job: Job): Promise<JobOutput> {
    switch (job.kind) {
      case 'scan': {
        const r = this.scan(job);
        return { result: r, transfer: [r.candidates.buffer as ArrayBuffer] };
      }
      case 'chunks': {
        const r = await this.chunks(job);
        return { result: r, transfer: [r.ids.buffer as ArrayBuffer] };
      }
      case 'digest':
        return { result: this.digestRange(job), transfer: [] };
      case 'fetch': {
        const r = await this.fetch(job);
        return { result: r, transfer: r.data ? [r.data.buffer as ArrayBuffer] : [] };
      }
      case 'files':
        return { result: this.files(job), transfer: [] };
    }
  }

  private scan(job: ScanJob): ScanResult {
    this.scanner ??= new CandidateScanner(SCAN_SEGMENT);
    const lookBehind = Math.min(BUZHASH_WINDOW - 1, job.start);
    const base = job.start - lookBehind;
    const len = job.end - base;
    readInput(job.input, this.scanner.window(), 0, len, base);
    const candidates = this.scanner.scan(len, Math.max(lookBehind + 1, BUZHASH_WINDOW), job.d, base);
    return { candidates, base };
  }

  private async chunks(job: ChunkJob): Promise<ChunkResult> {
    const n = job.chunks.length / 2;
    const first = job.chunks[0];
    const total = job.chunks[2 * n - 2] + job.chunks[2 * n - 1] - first;
    const data = this.read(job.input, first, total);
    const store = job.store === null ? null : this.store(job.store);
    const ids = new Uint8Array(n * CHUNK_ID_SIZE);
    let stored = 0;
    let storedBytes = 0;
    for (let i = 0; i < n; i++) {
      const o = job.chunks[2 * i] - first;
      const chunk = data.subarray(o, o + job.chunks[2 * i + 1]);
      const id = this.idOf(job.digest, chunk);
      ids.set(id, i * CHUNK_ID_SIZE);
      if (!store) continue;
      const hex = toHex(id);
      if (store.has(hex)) continue;
      const packed = await this.codec.compress(job.compression, chunk);
      if (store.write(hex, packed)) {
        stored++;
        storedBytes += packed.length;
      }
    }
    return { ids, stored, storedBytes };
  }

  private digestRange(job: DigestJob): Uint8Array | null {
    this.running ??= createHash(job.digest);
    for (let pos = job.start; pos < job.end; pos += SCAN_SEGMENT) {
      const len = Math.min(SCAN_SEGMENT, job.end - pos);
      this.running.update(this.read(job.input, pos, len));
    }
    if (!job.final) return null;
    const d = this.running.digest();
    this.running = undefined;
    return d;
  }

  private async fetch(job: FetchJob): Promise<FetchResult> {
    const stats = emptyFetchStats();
    const warnings: string[] = [];
    const origins: Origin[] = [];
    const n = job.ids.length / CHUNK_ID_SIZE;
    let total = 0;
    for (let i = 0; i < n; i++) total += job.plan[i * FETCH_PLAN_FIELDS + 1];
    // Its own ArrayBuffer (not pooled), so it can be transferred; every byte gets written.
    const collected = job.out ? null : Buffer.allocUnsafeSlow(total);
    let collectedAt = 0;
    for (let i = 0; i < n; i++) {
      const [offset, size, source, seedNo, seedOffset] = job.plan.subarray(
        i * FETCH_PLAN_FIELDS,
        (i + 1) * FETCH_PLAN_FIELDS,
      );
      const id = job.ids.subarray(i * CHUNK_ID_SIZE, (i + 1) * CHUNK_ID_SIZE);
      let data: Uint8Array | null = null;
      if (job.out && job.compareOutput && this.matches(job.digest, id, this.read(job.out, offset, size))) {
        stats.unchanged++;
        stats.unchangedBytes += size;
        continue;
      }
      if (source === Source.Zero) {
        stats.zero++;
        stats.zeroBytes += size;
        if (job.out && job.holes) continue;
        data = this.zeroBytes(size);
      } else if (source === Source.Seed || source === Source.Recipe) {
        const candidate =
          source === Source.Seed ? this.read(job.seeds[seedNo], seedOffset, size) : this.rebuild(job.recipes![seedOffset], size);
        if (candidate && this.matches(job.digest, id, candidate)) {
          data = candidate;
          stats.fromSeed++;
          stats.fromSeedBytes += size;
          if (source === Source.Recipe) addOrigins(origins, job.recipes![seedOffset], offset);
        }
      }
      if (!data) {
        data = await this.fromStores(job, id, size, warnings);
        stats.fromStore++;
        stats.fromStoreBytes += size;
      }
      if (collected) {
        collected.set(data, collectedAt);
        collectedAt += size;
      } else {
        writeFully(job.out as FileRef, data, offset);
      }
    }
    return { stats, data: collected, warnings, origins };
  }

  private writers = new Map<string, { writer: FileWriter; warnings: string[] }>();

  /** Small extracted files: written whole, in order, by this thread. */
  private files(job: FilesJob): FilesResult {
    const key = `${job.replay}:${job.uidShift?.shift}:${job.uidShift?.range}:${job.punchHoles}:${job.undoImmutable}`;
    let w = this.writers.get(key);
    if (!w) {
      const linux = linuxFs();
      if (!linux) throw new WasyncError('EUNSUPPORTED', `writing files needs the Linux adapter: ${linuxFsUnavailable()}`);
      const warnings: string[] = [];
      const meta = new MetadataApplier(linux, job.replay, job.uidShift, (m) => warnings.push(m));
      w = { writer: new FileWriter(linux, meta, new Remover(linux, job.undoImmutable), job.punchHoles), warnings };
      this.writers.set(key, w);
    }
    for (const f of unpackFiles(job.files)) {
      const name = Buffer.from(f.name.buffer, f.name.byteOffset, f.name.length);
      const path = `${f.dirPath}/${name}`;
      w.writer.writeWhole({ dirfd: f.dirfd, name, node: f.node, fresh: f.fresh, dirCreated: f.dirCreated, path }, f.data);
    }
    return { warnings: w.warnings.splice(0) };
  }

  /** A chunk from a seed tree's pieces; null if a file is gone or shorter now. */
  private rebuild(pieces: RecipePiece[], size: number): Uint8Array | null {
    if (this.buf.length < size) this.buf = Buffer.allocUnsafe(Math.max(size, 1 << 20));
    let at = 0;
    for (const p of pieces) {
      if ('bytes' in p) {
        this.buf.set(p.bytes, at);
        at += p.bytes.length;
        continue;
      }
      let fd: number;
      try {
        fd = openSync(Buffer.from(p.path.buffer, p.path.byteOffset, p.path.length), constants.O_RDONLY | constants.O_NOFOLLOW);
      } catch {
        return null;
      }
      try {
        for (let done = 0; done < p.length; ) {
          const n = readSync(fd, this.buf, at + done, p.length - done, p.offset + done);
          if (n === 0) return null;
          done += n;
        }
      } catch {
        return null;
      } finally {
        closeSync(fd);
      }
      at += p.length;
    }
    return at === size ? this.buf.subarray(0, size) : null;
  }

  private async fromStores(job: FetchJob, id: Uint8Array, size: number, warnings: string[]) {
    const hex = toHex(id);
    let corrupt: WasyncError | null = null;
    for (const dir of job.stores) {
      const stored = this.store(dir).read(hex);
      if (!stored) continue;
      const problem = await this.unpack(job.digest, id, size, stored.data, stored.compressed);
      if (typeof problem !== 'string') {
        if (corrupt) warnings.push(`${corrupt.message}; used the copy in ${dir}`);
        return problem;
      }
      corrupt ??= chunkCorrupt(hex, stored.path, problem);
    }
    throw corrupt ?? chunkMissing(hex, job.stores);
  }

  /** The chunk's bytes, or why they are not the chunk. */
  private async unpack(
    digest: DigestName,
    id: Uint8Array,
    size: number,
    stored: Uint8Array,
    compressed: boolean,
  ): Promise<Uint8Array | string> {
    let data: Uint8Array | null;
    try {
      data = compressed ? await this.codec.decompress(stored, size) : stored;
    } catch (e) {
      return `does not decompress (${(e as Error).message})`;
    }
    if (!data) return 'not in a known compression format (zstd, gzip, xz)';
    if (data.length !== size) return `holds ${data.length} bytes, the index says ${size}`;
    if (!this.matches(digest, id, data)) return `its ${digest} digest does not match its id`;
    return data;
  }

  private matches(digest: DigestName, id: Uint8Array, data: Uint8Array): boolean {
    const got = this.idOf(digest, data);
    return Buffer.compare(got, id) === 0;
  }

  /** The chunk id; all-zero chunks (common in images) use a cached digest per size. */
  private idOf(digest: DigestName, data: Uint8Array): Uint8Array {
    if (data.length >= 4096 && isZero(data, this.zeroBytes(data.length))) {
      const key = `${digest}:${data.length}`;
      let id = this.zeroIds.get(key);
      if (!id) {
        id = createHash(digest).update(data).digest();
        this.zeroIds.set(key, id);
      }
      return id;
    }
    return createHash(digest).update(data).digest();
  }

  private zeroBytes(size: number): Uint8Array {
    if (this.zeros.length < size) this.zeros = Buffer.alloc(size);
    return this.zeros.subarray(0, size);
  }

  private store(dir: string): LocalStore {
    let s = this.stores.get(dir);
    if (!s) this.stores.set(dir, (s = new LocalStore(dir)));
    return s;
  }

  /** Input bytes, valid until the next read: a view of the ring where possible, else read into this thread's buffer. */
  private read(f: InputRef, pos: number, len: number): Uint8Array {
    if ('ring' in f) {
      const size = f.ring.byteLength;
      const at = pos % size;
      if (at + len <= size) return new Uint8Array(f.ring, at, len);
    }
    if (this.buf.length < len) this.buf = Buffer.allocUnsafe(Math.max(len, 1 << 20));
    readInput(f, this.buf, 0, len, pos);
    return this.buf.subarray(0, len);
  }
}

function isZero(data: Uint8Array, zeros: Uint8Array): boolean {
  // A first-byte test keeps the common (non-zero) case free; compare is memcmp.
  return data[0] === 0 && data[data.length - 1] === 0 && Buffer.compare(data, zeros) === 0;
}

/** The file pieces of a recipe used for the chunk at stream offset `at`. */
function addOrigins(origins: Origin[], pieces: RecipePiece[], at: number) {
  for (const p of pieces) {
    if ('path' in p) origins.push({ offset: at, length: p.length, path: p.path, fileOffset: p.offset });
    at += 'bytes' in p ? p.bytes.length : p.length;
  }
}

/** Copies input[pos, pos + len) into buf at off. */
export function readInput(f: InputRef, buf: Uint8Array, off: number, len: number, pos: number) {
  if (!('ring' in f)) return readFully(f, buf, off, len, pos);
  const size = f.ring.byteLength;
  const at = pos % size;
  const first = Math.min(len, size - at);
  buf.set(new Uint8Array(f.ring, at, first), off);
  if (first < len) buf.set(new Uint8Array(f.ring, 0, len - first), off + first);
}

export function readFully(f: FileRef, buf: Uint8Array, off: number, len: number, pos: number) {
  let done = 0;
  try {
    while (done < len) {
      const n = readSync(f.fd, buf, off + done, len - done, pos + done);
      if (n === 0) {
        throw new WasyncError('EINPUT', `${f.path}: unexpected end of file at byte ${pos + done}`);
      }
      done += n;
    }
  } catch (e) {
    throw ioError('EINPUT', f.path, e);
  }
}

export function writeFully(f: FileRef, data: Uint8Array, pos: number) {
  let done = 0;
  try {
    while (done < data.length) done += writeSync(f.fd, data, done, data.length - done, pos + done);
  } catch (e) {
    throw ioError('EOUTPUT', f.path, e);
  }
}
