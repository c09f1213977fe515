// Where the bytes of a seed tree's catar stream come from, so that a chunk found
// in the seed can be rebuilt without encoding the tree again: record bytes are
// kept (about 100–300 bytes per node), payload bytes are named by file and
// offset.  A chunk's recipe is the list of pieces covering its stream range;
// the bytes are checked against the chunk id when used, so a seed that changed
// since it was indexed costs a store fetch, never wrong data.

import type { RecipePiece } from '../pool/jobs.ts';

const ARENA_STEP = 1 << 20;

export interface TreeSeedSnapshot {
  starts: Float64Array;
  sources: Float64Array;
  arena: Uint8Array;
  payloads: readonly { path: Uint8Array; size: number }[];
  size: number;
}

export class TreeSeedMap {
  /** segment i covers stream [starts[i], starts[i + 1]) (the last ends at `size`) */
  private starts: number[] = [];
  /** ≥ 0: arena offset of record bytes; < 0: -(file number + 1) */
  private sources: number[] = [];
  private arena = new Uint8Array(ARENA_STEP);
  private arenaUsed = 0;
  private readonly files: Uint8Array[] = [];
  /** seed files by size, for --hardlink */
  private readonly bySize = new Map<number, Uint8Array[]>();
  /** seed files' paths (latin1), made when --hardlink first asks */
  private paths: Set<string> | null = null;
  /** every payload() in order, so a saved map can be replayed */
  private readonly payloads: { path: Uint8Array; size: number }[] = [];
  size = 0;

  /** What the map holds, as plain arrays (for the persistent seed index). */
  snapshot(): TreeSeedSnapshot {
    return {
      starts: Float64Array.from(this.starts),
      sources: Float64Array.from(this.sources),
      arena: this.arena.subarray(0, this.arenaUsed),
      payloads: this.payloads,
      size: this.size,
    };
  }

  static restore(s: TreeSeedSnapshot): TreeSeedMap {
    const map = new TreeSeedMap();
    for (const p of s.payloads) map.notePayload(p.path, p.size);
    map.starts = Array.from(s.starts);
    map.sources = Array.from(s.sources);
    map.arena = Uint8Array.from(s.arena);
    map.arenaUsed = s.arena.length;
    map.size = s.size;
    return map;
  }

  /** Seed files of this size (paths). */
  filesOfSize(size: number): readonly Uint8Array[] {
    return this.bySize.get(size) ?? [];
  }

  /** Whether `path` is one of the seed's files. */
  holdsFile(path: Uint8Array): boolean {
    this.paths ??= new Set(this.payloads.map((p) => latin1(p.path)));
    return this.paths.has(latin1(path));
  }

  records(bytes: Uint8Array): void {
    if (this.arenaUsed + bytes.length > this.arena.length) {
      const bigger = new Uint8Array(Math.max(2 * this.arena.length, this.arenaUsed + bytes.length));
      bigger.set(this.arena.subarray(0, this.arenaUsed));
      this.arena = bigger;
    }
    const last = this.sources.length - 1;
    // Records that follow records extend the same segment (the arena is contiguous).
    const extend = last >= 0 && this.sources[last] >= 0 && this.sources[last] + (this.size - this.starts[last]) === this.arenaUsed;
    if (!extend) {
      this.starts.push(this.size);
      this.sources.push(this.arenaUsed);
    }
    this.arena.set(bytes, this.arenaUsed);
    this.arenaUsed += bytes.length;
    this.size += bytes.length;
  }

  payload(path: Uint8Array, size: number): void {
    this.notePayload(Uint8Array.from(path), size);
    if (!size) return;
    this.starts.push(this.size);
    this.sources.push(-this.files.length);
    this.size += size;
  }

  private notePayload(path: Uint8Array, size: number) {
    this.payloads.push({ path, size });
    const same = this.bySize.get(size);
    if (same) same.push(path);
    else this.bySize.set(size, [path]);
    if (size) this.files.push(path);
  }

  /** The pieces of stream [offset, offset + length). */
  recipe(offset: number, length: number): RecipePiece[] {
    const pieces: RecipePiece[] = [];
    let i = this.segmentAt(offset);
    for (let pos = offset; pos < offset + length; i++) {
      const segStart = this.starts[i];
      const segEnd = i + 1 < this.starts.length ? this.starts[i + 1] : this.size;
      const n = Math.min(segEnd, offset + length) - pos;
      const src = this.sources[i];
      if (src >= 0) {
        const at = src + (pos - segStart);
        pieces.push({ bytes: this.arena.slice(at, at + n) });
      } else {
        pieces.push({ path: this.files[-src - 1], offset: pos - segStart, length: n });
      }
      pos += n;
    }
    return pieces;
  }

  private segmentAt(offset: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}

const latin1 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1');
