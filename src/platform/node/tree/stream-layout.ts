// Where everything lies in the stream of a make with an encoder cache, kept in
// the cache (sections of encoder-cache-file.ts) so that the next make can take
// a whole unchanged subtree as a range of this stream (cached-make.ts):
//   - the record bytes: every stream byte that is not the content of a larger
//     file (records, and tiny files' content), in stream order;
//   - the larger files: stream offset, size and the ordinal of their cache entry;
//   - every buzhash candidate of the stream (end positions, ascending);
//   - every remembered directory, in walk order: its node's stream offset
//     (its ENTRY) and size (to the end of its GOODBYE), how many cache entries
//     and directories its subtree has after its own, whether it is complete
//     (every entry below it remembered, see cached-make.ts), and how many nodes
//     of it are archived.
// LayoutWriter gathers them for the next make, OldLayout reads the last one's.

/** A directory row's fields, as LayoutWriter.dirs holds them. */
const DIR_FIELDS = 6;
/** The ordinal of a file not remembered (too recent): never in a directory taken whole. */
export const NO_ENTRY = 0xffffffff;
const BLOCK = 1 << 20;

export class LayoutWriter {
  private readonly blocks: Uint8Array[] = [];
  private block = Buffer.allocUnsafe(BLOCK);
  private used = 0;
  recordBytes = 0;
  private fileBytes = 0;
  /** start, size, ordinal per file */
  readonly files: number[] = [];
  readonly candidates: number[] = [];
  /** start, size, entries, dirs, complete, nodes per directory */
  readonly dirs: number[] = [];

  /** Record bytes next in the stream. */
  records(b: Uint8Array): void {
    this.recordBytes += b.length;
    if (this.used + b.length > this.block.length) {
      this.seal();
      if (b.length > BLOCK) {
        this.blocks.push(Buffer.from(b));
        return;
      }
      this.block = Buffer.allocUnsafe(BLOCK);
    }
    this.block.set(b, this.used);
    this.used += b.length;
  }

  /** A larger file's content next in the stream: its cache entry's ordinal, or NO_ENTRY. */
  file(start: number, size: number, ordinal: number): void {
    this.files.push(start, size, ordinal);
    this.fileBytes += size;
  }

  get streamBytes(): number {
    return this.recordBytes + this.fileBytes;
  }

  /** The candidates at base + c[i] (ascending, after those before). */
  addCandidates(c: ArrayLike<number>, base: number): void {
    for (let i = 0; i < c.length; i++) this.candidates.push(base + c[i]);
  }

  /** A directory's row, its node starting at `start`; returns the row's number, for closeDir(). */
  openDir(start: number): number {
    this.dirs.push(start, 0, 0, 0, 0, 0);
    return this.dirs.length / DIR_FIELDS - 1;
  }

  /** `nodes`: the nodes archived of the subtree, itself included (make -v counts them) */
  closeDir(row: number, size: number, entries: number, dirs: number, complete: boolean, nodes: number): void {
    const r = row * DIR_FIELDS;
    this.dirs[r + 1] = size;
    this.dirs[r + 2] = entries;
    this.dirs[r + 3] = dirs;
    this.dirs[r + 4] = complete ? 1 : 0;
    this.dirs[r + 5] = nodes;
  }

  get dirCount(): number {
    return this.dirs.length / DIR_FIELDS;
  }

  /**
   * The old stream's subtree at old[a, b) again, now at `at`: its record bytes,
   * files (their entries `ordDelta` further on) and directory rows `row0..row0+rows`.
   */
  copy(old: OldLayout, a: number, b: number, at: number, ordDelta: number, row0: number, rows: number): void {
    // (a directory's node holds its files whole)
    let p = at;
    old.expand(a, b, (r) => {
      this.records(r);
      p += r.length;
    }, (ord, _from, len) => {
      this.file(p, len, ord + ordDelta);
      p += len;
    });
    const delta = at - a;
    for (let r = row0; r < row0 + rows; r++) {
      this.dirs.push(old.dirStart[r] + delta, old.dirSize[r], old.dirEntries[r], old.dirDirs[r], old.dirComplete[r], old.dirNodes[r]);
    }
  }

  /** The sections, in the cache file's order: directories, files, candidates, record bytes. */
  encode(): Uint8Array[] {
    this.seal();
    const d = this.dirs;
    const dirs = Buffer.alloc((d.length / DIR_FIELDS) * 32);
    for (let r = 0, o = 0; r < d.length; r += DIR_FIELDS, o += 32) {
      writeU64(dirs, o, d[r]);
      writeU64(dirs, o + 8, d[r + 1]);
      dirs.writeUInt32LE(d[r + 2], o + 16);
      dirs.writeUInt32LE(d[r + 3], o + 20);
      dirs.writeUInt32LE(d[r + 4], o + 24);
      dirs.writeUInt32LE(d[r + 5], o + 28);
    }
    const f = this.files;
    const files = Buffer.alloc((f.length / 3) * 24);
    for (let i = 0, o = 0; i < f.length; i += 3, o += 24) {
      writeU64(files, o, f[i]);
      writeU64(files, o + 8, f[i + 1]);
      files.writeUInt32LE(f[i + 2], o + 16);
    }
    const cands = Buffer.alloc(this.candidates.length * 8);
    this.candidates.forEach((c, i) => writeU64(cands, 8 * i, c));
    return [dirs, files, cands, ...this.blocks];
  }

  private seal() {
    if (this.used) this.blocks.push(this.block.subarray(0, this.used));
    this.block = this.block.subarray(this.used);
    this.used = 0;
  }
}

function writeU64(b: Buffer, o: number, v: number) {
  b.writeUInt32LE(v % 0x1_0000_0000, o);
  b.writeUInt32LE(Math.floor(v / 0x1_0000_0000), o + 4);
}

/** Sizes of the sections, from the cache file's header. */
export interface LayoutCounts {
  dirs: number;
  files: number;
  candidates: number;
  recordBytes: number;
}

export const layoutBytes = (c: LayoutCounts): number => 32 * c.dirs + 24 * c.files + 8 * c.candidates + c.recordBytes;

/** The last make's layout, read from its cache (checked: whatever it says stays inside the stream and in order). */
export class OldLayout {
  readonly fileStart: Float64Array;
  readonly fileSize: Float64Array;
  readonly fileOrd: Float64Array;
  /** file content bytes before file i (i = count: all of them) */
  private readonly filesBefore: Float64Array;
  readonly candidates: Float64Array;
  readonly records: Uint8Array;
  readonly dirStart: Float64Array;
  readonly dirSize: Float64Array;
  readonly dirEntries: Uint32Array;
  readonly dirDirs: Uint32Array;
  readonly dirComplete: Uint8Array;
  readonly dirNodes: Uint32Array;
  /** the old stream's length */
  readonly streamBytes: number;

  /** `at`: where the sections start in `b`; `entries`: how many cache entries there are. Throws RangeError on nonsense. */
  constructor(b: Uint8Array, at: number, c: LayoutCounts, entries: number) {
    const dv = new DataView(b.buffer, b.byteOffset, b.length);
    const u64 = (o: number) => dv.getUint32(o, true) + dv.getUint32(o + 4, true) * 0x1_0000_0000;
    this.dirStart = new Float64Array(c.dirs);
    this.dirSize = new Float64Array(c.dirs);
    this.dirEntries = new Uint32Array(c.dirs);
    this.dirDirs = new Uint32Array(c.dirs);
    this.dirComplete = new Uint8Array(c.dirs);
    this.dirNodes = new Uint32Array(c.dirs);
    for (let r = 0; r < c.dirs; r++, at += 32) {
      this.dirStart[r] = u64(at);
      this.dirSize[r] = u64(at + 8);
      this.dirEntries[r] = dv.getUint32(at + 16, true);
      this.dirDirs[r] = dv.getUint32(at + 20, true);
      this.dirComplete[r] = dv.getUint32(at + 24, true) === 1 ? 1 : 0;
      this.dirNodes[r] = dv.getUint32(at + 28, true);
      if (r + this.dirDirs[r] >= c.dirs) throw new RangeError(`directory row ${r}: ${this.dirDirs[r]} directories below it`);
    }
    this.fileStart = new Float64Array(c.files);
    this.fileSize = new Float64Array(c.files);
    this.fileOrd = new Float64Array(c.files);
    this.filesBefore = new Float64Array(c.files + 1);
    let end = 0;
    for (let i = 0; i < c.files; i++, at += 24) {
      const s = (this.fileStart[i] = u64(at));
      if (s < end) throw new RangeError(`file row ${i} out of order`);
      end = s + (this.fileSize[i] = u64(at + 8));
      this.filesBefore[i + 1] = this.filesBefore[i] + this.fileSize[i];
      if ((this.fileOrd[i] = dv.getUint32(at + 16, true)) >= entries && this.fileOrd[i] !== NO_ENTRY) throw new RangeError(`file row ${i}: no entry ${this.fileOrd[i]}`);
    }
    this.candidates = new Float64Array(c.candidates);
    for (let i = 0; i < c.candidates; i++, at += 8) {
      this.candidates[i] = u64(at);
      if (i && this.candidates[i] <= this.candidates[i - 1]) throw new RangeError(`candidate ${i} out of order`);
    }
    this.records = b.subarray(at, at + c.recordBytes);
    this.streamBytes = c.recordBytes + this.filesBefore[c.files];
    // Every file starts after the record bytes before it.
    for (let i = 0; i < c.files; i++) if (this.fileStart[i] - this.filesBefore[i] > c.recordBytes) throw new RangeError(`file row ${i} beyond the stream`);
    if (c.candidates && this.candidates[c.candidates - 1] > this.streamBytes) throw new RangeError('candidates beyond the stream');
    for (let r = 0; r < c.dirs; r++) if (this.dirStart[r] + this.dirSize[r] > this.streamBytes) throw new RangeError(`directory row ${r} beyond the stream`);
  }

  /** The first file whose content ends after `p`. */
  fileAfter(p: number): number {
    let lo = 0;
    let hi = this.fileStart.length;
    while (lo < hi) {
      const m = (lo + hi) >> 1;
      if (this.fileStart[m] + this.fileSize[m] <= p) lo = m + 1;
      else hi = m;
    }
    return lo;
  }

  /** The record bytes at old[p, p+n), which must hold no file content. */
  recordsView(p: number, n: number): Uint8Array {
    const i = this.fileAfter(p);
    if (i < this.fileStart.length && this.fileStart[i] < p + n) throw new RangeError(`old stream ${p}+${n}: file content, not records`);
    const r = p - this.filesBefore[i];
    return this.records.subarray(r, r + n);
  }

  /** Candidates c with a < c <= b, as offsets from `base`. */
  candidatesIn(a: number, b: number, base: number): Float64Array {
    const first = this.firstCandidateAbove(a);
    const last = this.firstCandidateAbove(b);
    const out = new Float64Array(last - first);
    for (let i = first; i < last; i++) out[i - first] = this.candidates[i] - base;
    return out;
  }

  private firstCandidateAbove(p: number): number {
    let lo = 0;
    let hi = this.candidates.length;
    while (lo < hi) {
      const m = (lo + hi) >> 1;
      if (this.candidates[m] <= p) lo = m + 1;
      else hi = m;
    }
    return lo;
  }

  /** The pieces of old[a, b): record bytes, and ranges of files (by entry ordinal), in order. */
  expand(a: number, b: number, records: (bytes: Uint8Array) => void, file: (ordinal: number, from: number, len: number) => void): void {
    let p = a;
    for (let i = this.fileAfter(a); p < b && i < this.fileStart.length && this.fileStart[i] < b; i++) {
      const s = this.fileStart[i];
      if (s > p) records(this.recordsView(p, s - p));
      const from = Math.max(p, s) - s;
      const to = Math.min(b, s + this.fileSize[i]) - s;
      file(this.fileOrd[i], from, to - from);
      p = s + to;
    }
    if (b > p) records(this.recordsView(p, b - p));
  }
}
