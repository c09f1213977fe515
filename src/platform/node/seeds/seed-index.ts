// Where chunks can be found in local seeds: chunk id → (seed number, offset).
// An open-addressing table over typed arrays keyed by the first 8 bytes of the
// id, about 24 bytes per chunk, so a seed of a few hundred GiB fits in memory.
// A key collision is harmless: seed bytes are always re-hashed before use.

import { CHUNK_ID_SIZE } from '../../../format/constants.ts';

export interface SeedLocation {
  seed: number;
  offset: number;
}

export class SeedIndex {
  private keys = new Uint32Array(2 * 1024);
  private offsets = new Float64Array(1024);
  private seeds = new Int32Array(1024).fill(-1);
  private count = 0;

  get size() {
    return this.count;
  }

  add(id: Uint8Array, seed: number, offset: number) {
    if (2 * (this.count + 1) > this.seeds.length) this.grow();
    const [lo, hi] = key(id);
    let i = this.slot(lo, hi);
    while (this.seeds[i] >= 0) {
      if (this.keys[2 * i] === lo && this.keys[2 * i + 1] === hi) return; // keep the first
      i = (i + 1) & (this.seeds.length - 1);
    }
    this.keys[2 * i] = lo;
    this.keys[2 * i + 1] = hi;
    this.offsets[i] = offset;
    this.seeds[i] = seed;
    this.count++;
  }

  /** Adds packed ids (32 bytes each) of consecutive chunks ending at `ends`. */
  addChunks(seed: number, start: number, ends: number[], ids: Uint8Array) {
    let offset = start;
    ends.forEach((end, i) => {
      this.add(ids.subarray(i * CHUNK_ID_SIZE, (i + 1) * CHUNK_ID_SIZE), seed, offset);
      offset = end;
    });
  }

  get(id: Uint8Array): SeedLocation | null {
    const [lo, hi] = key(id);
    for (let i = this.slot(lo, hi); this.seeds[i] >= 0; i = (i + 1) & (this.seeds.length - 1)) {
      if (this.keys[2 * i] === lo && this.keys[2 * i + 1] === hi) {
        return { seed: this.seeds[i], offset: this.offsets[i] };
      }
    }
    return null;
  }

  private slot(lo: number, hi: number): number {
    return (lo ^ Math.imul(hi, 0x9e3779b1)) & (this.seeds.length - 1);
  }

  private grow() {
    const { keys, offsets, seeds } = this;
    const n = seeds.length * 2;
    this.keys = new Uint32Array(2 * n);
    this.offsets = new Float64Array(n);
    this.seeds = new Int32Array(n).fill(-1);
    this.count = 0;
    for (let i = 0; i < seeds.length; i++) {
      if (seeds[i] < 0) continue;
      const lo = keys[2 * i];
      const hi = keys[2 * i + 1];
      let j = this.slot(lo, hi);
      while (this.seeds[j] >= 0) j = (j + 1) & (n - 1);
      this.keys[2 * j] = lo;
      this.keys[2 * j + 1] = hi;
      this.offsets[j] = offsets[i];
      this.seeds[j] = seeds[i];
      this.count++;
    }
  }
}

function key(id: Uint8Array): [number, number] {
  return [
    (id[0] | (id[1] << 8) | (id[2] << 16) | (id[3] << 24)) >>> 0,
    (id[4] | (id[5] << 8) | (id[6] << 16) | (id[7] << 24)) >>> 0,
  ];
}
