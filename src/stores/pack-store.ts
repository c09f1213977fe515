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
    this.o = { maxRequests: 4, maxRequestBytes: 4 << 20, maxRanges: 16, maxGap: 16 << 10, ...o };
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
    try {
      const bytes = await this.files.read(wanted[0].entry.pack, ranges);
      wanted.forEach((w, i) => {
        const r = ranges[rangeOf[i]];
        const at = w.entry.offset - r.start;
        w.resolve(bytes[rangeOf[i]].subarray(at, at + w.entry.size));
      });
    } catch (e) {
      for (const w of wanted) w.reject(e);
    }
  }
}
