// One place on the page thread where every verified chunk passes, so that the
// tree (listing, downloading) and the verification workers never fetch the same
// chunk twice while both run, and the tree can reuse what the workers fetched.
//
// Keyed by chunk id (hex), not by position in the index: verification works on
// distinct chunks, and a chunk that occurs at several positions is one fetch.
//   * in flight: a chunk being fetched, by the page or by a worker, as a promise
//     of its outcome; whoever else wants it waits for that promise;
//   * cache: verified bytes, least recently used first, bounded in bytes (the
//     workers send theirs back, transferred, not copied);
//   * verdicts: until the verification run ends, the verdicts of chunks the
//     page fetched that the run has not yet come to, so it counts them instead of
//     fetching them (only ids and verdicts: no bytes are kept for this).
// A chunk the page could not fetch at all (no verdict: the store unreachable)
// is left to the workers, and one a worker could not fetch is fetched again
// here, so a failure is reported by whoever meets it, with its own message.

import { toHex } from '../../chunk/chunk-id.ts';
import type { ChunkVerdict } from '../../engine/verify.ts';
import type { ChunkSource } from '../../stores/store.ts';
import { WasyncError, chunkMissing } from '../../errors.ts';
import { fetchVerified } from './access.ts';

/** A chunk's verdict, and its bytes when it is good and they were kept; null when nobody could tell. */
type Outcome = { verdict: ChunkVerdict; data: Uint8Array | null } | null;

export interface ChunkShareOptions {
  /** the stores, every copy checked (access.ts webStores) */
  source: ChunkSource;
  /** verified bytes kept for reuse (default 64 MiB); 0 keeps only what is in flight */
  cacheBytes?: number;
}

/** Per-caller statistics: chunks this caller had fetched from a store. */
export interface FetchCount {
  fetched: number;
}

export class ChunkShare {
  readonly #source: ChunkSource;
  readonly #cap: number;
  readonly #cache = new Map<string, Uint8Array>();
  #cached = 0;
  readonly #flight = new Map<string, Promise<Outcome>>();
  readonly #workers = new Map<string, (o: Outcome) => void>();
  // From the start, since the tree may fetch before the verification run begins.
  #verdicts: Map<string, ChunkVerdict> | null = new Map();
  /** chunks fetched from a store on the page thread (not by workers) */
  fetched = 0;

  constructor(o: ChunkShareOptions) {
    this.#source = o.source;
    this.#cap = Math.max(0, o.cacheBytes ?? 64 << 20);
  }

  /** The verified bytes of chunk `id` of `size` bytes; throws naming the chunk if it is missing or corrupt. */
  async get(id: Uint8Array, size: number, count?: FetchCount): Promise<Uint8Array> {
    const hex = toHex(id);
    const kept = this.#cache.get(hex);
    if (kept) {
      this.#cache.delete(hex); // most recently used goes last
      this.#cache.set(hex, kept);
      return kept;
    }
    const other = this.#flight.get(hex);
    if (other) {
      const o = await other;
      if (o?.data) return o.data;
      if (o && o.verdict.verdict !== 'ok') throw this.#failure(o.verdict);
      // Whoever fetched it could not tell, or kept no bytes: fetch it here, once more.
      return this.get(id, size, count);
    }
    const mine = this.#fetch(hex, id, size, count);
    this.#flight.set(hex, mine.catch(() => null));
    try {
      const o = await mine;
      if (!o.data) throw this.#failure(o.verdict);
      return o.data;
    } finally {
      this.#flight.delete(hex);
    }
  }

  async #fetch(hex: string, id: Uint8Array, size: number, count?: FetchCount): Promise<NonNullable<Outcome>> {
    this.fetched++;
    if (count) count.fetched++;
    const o = await fetchVerified(this.#source, id, size);
    this.#verdicts?.set(hex, o.verdict);
    if (o.data) this.#keep(hex, o.data);
    return o;
  }

  #failure(v: ChunkVerdict): WasyncError {
    if (v.verdict === 'missing') return chunkMissing(v.hex, [this.#source.name]);
    return new WasyncError('ECHUNKCORRUPT', `chunk ${v.hex} is corrupt: ${v.why ?? 'no good copy'}`);
  }

  #keep(hex: string, data: Uint8Array): void {
    if (data.length > this.#cap || this.#cache.has(hex)) return;
    this.#cache.set(hex, data);
    this.#cached += data.length;
    for (const [k, v] of this.#cache) {
      if (this.#cached <= this.#cap) break;
      this.#cache.delete(k);
      this.#cached -= v.length;
    }
  }

  // --- the verification run's side (verify-pool.ts) ---

  /** The run has ended (or failed): verdicts not taken are dropped, unsettled chunks released. */
  end(): void {
    this.#verdicts = null;
    for (const hex of [...this.#workers.keys()]) this.settle(hex, null);
  }

  /**
   * The run comes to chunk `hex`: its verdict when the page has it or is
   * fetching it (rejected if the page could not tell), else null, and the chunk
   * is marked as the workers' until settle().
   */
  claim(hex: string): Promise<ChunkVerdict> | null {
    const known = this.#verdicts?.get(hex);
    if (known) {
      this.#verdicts!.delete(hex);
      return Promise.resolve(known);
    }
    if (this.#cache.has(hex)) return Promise.resolve({ hex, verdict: 'ok' });
    const pending = this.#flight.get(hex);
    if (pending) {
      return pending.then((o) => {
        this.#verdicts?.delete(hex);
        if (!o) throw new Error(`chunk ${hex}: the page could not fetch it`);
        return o.verdict;
      });
    }
    let settle!: (o: Outcome) => void;
    this.#flight.set(hex, new Promise<Outcome>((r) => (settle = r)));
    this.#workers.set(hex, settle);
    return null;
  }

  /** A worker's outcome for a claimed chunk: its verdict and, if good, its bytes; null if it could not tell. */
  settle(hex: string, outcome: Outcome): void {
    const settle = this.#workers.get(hex);
    if (!settle) return;
    this.#workers.delete(hex);
    this.#flight.delete(hex);
    if (outcome?.data) this.#keep(hex, outcome.data);
    settle(outcome);
  }
}
