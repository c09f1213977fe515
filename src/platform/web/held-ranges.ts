// A ReadAt that answers from byte ranges held in memory when it can, and from
// the reader behind it otherwise.  A directory listing fills it with the few
// hundred bytes of records of each entry, fetched concurrently beforehand
// (listing-prefetch.ts), so that the catar lookup, which reads one small record
// after another and waits for each, finds them all here without a round trip.
//
// Ranges come in sets, one per listing under way, each sorted by offset with
// overlapping and adjacent ranges merged, and a read is looked up by binary
// search; a set is dropped when its listing ends.

import { checkRange, type ReadAt } from '../../engine/random-access.ts';

export interface HeldRange {
  offset: number;
  bytes: Uint8Array;
}

type RangeSet = { starts: Float64Array; ranges: HeldRange[] };

export class HeldRanges implements ReadAt {
  readonly size: number;
  readonly #sets = new Set<RangeSet>();

  constructor(
    private readonly base: ReadAt,
    private readonly name: string,
  ) {
    this.size = base.size;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length, this.name);
    for (const set of this.#sets) {
      const found = lookup(set, offset, length);
      if (found) return found;
    }
    return this.base.read(offset, length);
  }

  /** Holds `ranges` until the returned function is called. */
  hold(ranges: readonly HeldRange[]): () => void {
    const set = merged(ranges);
    this.#sets.add(set);
    return () => this.#sets.delete(set);
  }
}

function lookup(set: RangeSet, offset: number, length: number): Uint8Array | null {
  let lo = 0;
  let hi = set.starts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (set.starts[mid] <= offset) lo = mid + 1;
    else hi = mid;
  }
  if (lo === 0) return null;
  const r = set.ranges[lo - 1];
  const at = offset - r.offset;
  return at + length <= r.bytes.length ? r.bytes.subarray(at, at + length) : null;
}

/** Sorted, and with overlapping or touching ranges joined, so that one range answers any read inside their union. */
function merged(input: readonly HeldRange[]): RangeSet {
  const sorted = [...input].filter((r) => r.bytes.length).sort((a, b) => a.offset - b.offset);
  const ranges: HeldRange[] = [];
  let run: HeldRange[] = [];
  let runEnd = -1;
  const flush = () => {
    if (!run.length) return;
    if (run.length === 1) ranges.push(run[0]);
    else {
      const start = run[0].offset;
      const bytes = new Uint8Array(runEnd - start);
      for (const r of run) bytes.set(r.bytes, r.offset - start);
      ranges.push({ offset: start, bytes });
    }
    run = [];
  };
  for (const r of sorted) {
    if (r.offset > runEnd) flush();
    run.push(r);
    runEnd = Math.max(runEnd, r.offset + r.bytes.length);
  }
  flush();
  return { starts: Float64Array.from(ranges, (r) => r.offset), ranges };
}
