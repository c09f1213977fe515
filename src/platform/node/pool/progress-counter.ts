// Progress counted where the bytes are written, on whichever thread writes
// them: a few 64-bit counters in shared memory that a job bumps once per chunk
// and the operation reads on a timer (operations/common.ts ProgressTicker).
// Results of whole jobs would move in steps of a batch (4 MiB), later still
// because they are taken in order behind a queue of jobs in flight; a message
// per chunk between threads would cost more than the counting.  Jobs given no
// buffer (no one asked for progress) count nothing.

import { emptyFetchStats, type FetchStats } from './jobs.ts';

const STAT_KEYS = Object.keys(emptyFetchStats()) as (keyof FetchStats)[];
const SLOT_OF = new Map(STAT_KEYS.map((k, i) => [k, i + 1]));
/** Slot 0 holds the bytes done; one slot per FetchStats field follows. */
const DONE = 0;

/** The counters of one operation, to be handed to its jobs. */
export const progressBuffer = (): SharedArrayBuffer => new SharedArrayBuffer((1 + STAT_KEYS.length) * 8);

/** Where an extraction's chunk came from: its FetchStats count and bytes fields. */
export type ChunkSource = readonly [count: keyof FetchStats, bytes: keyof FetchStats];

/** A job's side: what it did, in its own stats and, with a buffer, in the shared counters. */
export class JobTally {
  readonly stats = emptyFetchStats();
  private readonly slots: BigInt64Array | null;

  constructor(buffer: SharedArrayBuffer | undefined) {
    this.slots = buffer ? new BigInt64Array(buffer) : null;
  }

  /** A chunk of `size` bytes is written (make: digested and stored); `from`: where an extraction took it. */
  chunk(size: number, from?: ChunkSource) {
    if (from) {
      this.stats[from[0]]++;
      this.stats[from[1]] += size;
    }
    if (!this.slots) return;
    const n = BigInt(size);
    Atomics.add(this.slots, DONE, n);
    if (!from) return;
    Atomics.add(this.slots, SLOT_OF.get(from[0])!, 1n);
    Atomics.add(this.slots, SLOT_OF.get(from[1])!, n);
  }

  /** A seed chunk that no longer matched its id. */
  seedMiss() {
    this.stats.seedMisses++;
    if (this.slots) Atomics.add(this.slots, SLOT_OF.get('seedMisses')!, 1n);
  }
}

/** The operation's side: the counters as they are now. */
export function readProgress(buffer: SharedArrayBuffer): { done: number; sources: FetchStats } {
  const slots = new BigInt64Array(buffer);
  const sources = emptyFetchStats();
  for (const [k, i] of SLOT_OF) sources[k] = Number(Atomics.load(slots, i));
  return { done: Number(Atomics.load(slots, DONE)), sources };
}
