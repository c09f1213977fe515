// A store read through its pack files (format/pack-index.ts), wrapping the
// plain store of the same place: a chunk the pack index names is read from its
// pack, any other from the plain chunk files.  Where the store has no pack
// index, every read goes to the plain store; the index is looked for once, on
// the first read.
//
// Reads are coalesced: the chunks asked for while the store waits for its turn
// (the end of the current task, or a free request slot) are sorted by pack and
// offset, neighbours (gaps up to `maxGap`, read and dropped) are merged into
// one range, and ranges of one pack go out together, up to `maxRequestBytes`
// a request, through PackFiles.read: one HTTP request with several ranges
// (http-pack-files.ts), or positioned reads of a local file.  So a reader with
// many chunks in flight (verification, extraction) needs a request per run of
// chunks rather than per chunk, and no reader fetches a chunk it did not ask
// for beyond the small gaps.

import { fromHex } from '../chunk/chunk-id.ts';
import { PackIndex, packFileName, type PackEntry } from '../format/pack-index.ts';
import { absentOf, whereOf, type ChunkStore } from './store.ts';

/** How a pack store reaches its pack directory. */
export interface PackFiles {
  /** where the pack directory is, for messages (a directory, a URL) */
  readonly base: string;
  /** the pack index's bytes, or null where there is none */
  index(): Promise<Uint8Array | null>;
  /** bytes [start, end) of pack `pack`, for each range (ascending, not overlapping) */
  read(pack: number, ranges: readonly Range[]): Promise<Uint8Array[]>;
  /**
   * The same bytes, lent: valid while `use` runs and the microtasks it starts,
   * up to the next task; then their memory is reused.  See PackStoreOptions.lent.
   */
  lend?(pack: number, ranges: readonly Range[], use: (bytes: Uint8Array[]) => void): Promise<void>;
  close?(): Promise<void>;
}

export interface Range {
  start: number;
  end: number;
}

export interface PackStoreOptions {
  /** requests in flight at once (default 4) */
  maxRequests?: number;
  /** bytes a request spans at most (default 4 MiB; a single chunk may exceed it) */
  maxRequestBytes?: number;
  /** ranges a request holds at most (default 16) */
  maxRanges?: number;
  /** unwanted bytes between two chunks read as one range rather than two (default 16 KiB) */
  maxGap?: number;
  /**
   * Read through PackFiles.lend where it has it (default false): get() then
   * gives views of lent memory, valid only until the next task, for a caller
   * that uses them at once and keeps nothing: CheckedStore, whose decoders copy
   * the stored bytes or finish with them before any task boundary
   * (platform/web/codecs.ts).  For the page's verification workers, where fresh
   * memory for every answer cost more CPU time in page faults than hashing it.
   */
  lent?: boolean;
}

interface Wanted {
  entry: PackEntry;
  resolve(b: Uint8Array): void;
  reject(e: unknown): void;
}

export class PackStore implements ChunkStore {
  private packIndex: Promise<PackIndex | null> | null = null;
  private known: PackIndex | null = null;
  /** the index was looked for, and there is none */
  private packless = false;
  private pending: Wanted[] = [];
  private inFlight = 0;
  private scheduled = false;
  private readonly o: Required<PackStoreOptions>;
  /** requests sent, and chunks read through them (statistics, tests) */
  requests = 0;
  packed = 0;

  constructor(
    readonly inner: ChunkStore,
    readonly files: PackFiles,
    o: PackStoreOptions = {},
  ) {
    this.o = { maxRequests: 4, maxRequestBytes: 4 << 20, maxRanges: 16, maxGap: 16 << 10, lent: false, ...o };
  }

  get name(): string {
    return this.inner.name;
  }

  /** The pack index (null: none), read once. */
  packs(): Promise<PackIndex | null> {
    return (this.packIndex ??= this.files.index().then((b) => {
      this.packless = !b;
      return (this.known = b && new PackIndex(b, `${this.files.base}/index`));
    }));
  }

  async get(id: string, into?: Uint8Array): Promise<Uint8Array | null> {
    // A store without packs (the usual local one) costs its readers nothing more.
    if (this.packless) return this.inner.get(id, into);
    const entry = (await this.packs())?.find(fromHex(id)!);
    if (!entry) return this.inner.get(id, into);
    return new Promise<Uint8Array>((resolve, reject) => {
      this.pending.push({ entry, resolve, reject });
      this.schedule();
    });
  }

  async has(id: string): Promise<boolean> {
    return !!(await this.packs())?.find(fromHex(id)!) || this.inner.has(id);
  }

  where(id: string): string {
    const e = this.known?.find(fromHex(id)!);
    return e ? `${this.files.base}/${packFileName(e.pack)} (bytes ${e.offset}-${e.offset + e.size - 1})` : whereOf(this.inner, id);
  }

  absent = () => absentOf(this.inner);

  async close(): Promise<void> {
    await Promise.all([this.inner.close(), this.files.close?.()]);
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // After the current task: the reads its loop starts all arrive first.
    setTimeout(() => {
      this.scheduled = false;
      this.flush();
    }, 0);
  }

  private flush(): void {
    if (!this.pending.length) return;
    this.pending.sort((a, b) => a.entry.pack - b.entry.pack || a.entry.offset - b.entry.offset);
    while (this.pending.length && this.inFlight < this.o.maxRequests) {
      const taken = this.takeRequest();
      this.inFlight++;
      void this.send(taken).finally(() => {
        this.inFlight--;
        this.flush();
      });
    }
  }

  /** The first pending chunks that make one request: one pack, within the limits. */
  private takeRequest(): Wanted[] {
    const p = this.pending;
    const pack = p[0].entry.pack;
    const start = p[0].entry.offset;
    let ranges = 1;
    let end = start + p[0].entry.size;
    let n = 1;
    for (; n < p.length; n++) {
      const e = p[n].entry;
      if (e.pack !== pack || e.offset + e.size - start > this.o.maxRequestBytes) break;
      if (e.offset - end > this.o.maxGap) {
        if (ranges === this.o.maxRanges) break;
        ranges++;
      }
      end = Math.max(end, e.offset + e.size);
    }
    return p.splice(0, n);
  }

  private async send(wanted: Wanted[]): Promise<void> {
    const ranges: Range[] = [];
    const rangeOf: number[] = [];
    for (const w of wanted) {
      const last = ranges[ranges.length - 1];
      const { offset, size } = w.entry;
      if (last && offset - last.end <= this.o.maxGap) last.end = Math.max(last.end, offset + size);
      else ranges.push({ start: offset, end: offset + size });
      rangeOf.push(ranges.length - 1);
    }
    this.requests++;
    this.packed += wanted.length;
    const hand = (bytes: Uint8Array[]) =>
      wanted.forEach((w, i) => {
        const r = ranges[rangeOf[i]];
        const at = w.entry.offset - r.start;
        w.resolve(bytes[rangeOf[i]].subarray(at, at + w.entry.size));
      });
    try {
      const pack = wanted[0].entry.pack;
      if (this.o.lent && this.files.lend) await this.files.lend(pack, ranges, hand);
      else hand(await this.files.read(pack, ranges));
    } catch (e) {
      for (const w of wanted) w.reject(e);
    }
  }
}
