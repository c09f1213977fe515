// Growable byte buffers, little-endian record writers and an in-place sort for
// the catar encoder.
//
// The core runs on the stub runtime (a bump allocator that never frees except
// the last block), which keeps the chunker free of GC work.  Each buffer here is
// therefore long-lived and reused: reset() empties it without giving memory back,
// and growth doubles the capacity, so every buffer costs at most about twice the
// largest size it ever had to hold.  What is held at any time is bounded by one
// node's metadata, and by the goodbye items and names of the directories that
// are open (depth and width of the tree), never by the size of the archive.

export class Bytes {
  ptr: usize;
  cap: usize;
  len: usize = 0;

  constructor(initial: usize) {
    this.cap = initial;
    this.ptr = heap.alloc(initial);
  }

  reset(): void {
    this.len = 0;
  }

  /** Makes room for `n` more bytes and returns where they go (not yet counted in len). */
  reserve(n: usize): usize {
    const need = this.len + n;
    if (need > this.cap) {
      let cap = this.cap << 1;
      while (cap < need) cap <<= 1;
      this.ptr = heap.realloc(this.ptr, cap);
      this.cap = cap;
    }
    return this.ptr + this.len;
  }

  u64(v: u64): void {
    store<u64>(this.reserve(8), v);
    this.len += 8;
  }

  u32(v: u32): void {
    store<u32>(this.reserve(4), v);
    this.len += 4;
  }

  u8(v: u8): void {
    store<u8>(this.reserve(1), v);
    this.len += 1;
  }

  bytes(src: usize, n: usize): void {
    memory.copy(this.reserve(n), src, n);
    this.len += n;
  }

  /** A record header: LE64 size (including these 16 bytes), LE64 type. */
  header(size: u64, type: u64): void {
    this.u64(size);
    this.u64(type);
  }

  /** A record whose body is `n` bytes at `src` followed by a NUL (names, targets, labels). */
  cstringRecord(type: u64, src: usize, n: usize): void {
    this.header(<u64>(16 + n + 1), type);
    this.bytes(src, n);
    this.u8(0);
  }
}

/** strcmp order of two NUL-free byte strings: unsigned bytes, a prefix first. */
export function compareBytes(a: usize, an: usize, b: usize, bn: usize): i32 {
  const n = an < bn ? an : bn;
  for (let i: usize = 0; i < n; i++) {
    const x = <i32>load<u8>(a + i);
    const y = <i32>load<u8>(b + i);
    if (x != y) return x - y;
  }
  return an < bn ? -1 : an > bn ? 1 : 0;
}

/** Whether `n` bytes at `p` contain a zero byte. */
export function hasNul(p: usize, n: usize): bool {
  for (let i: usize = 0; i < n; i++) if (load<u8>(p + i) == 0) return true;
  return false;
}

// Scratch for swaps; records sorted here are at most this long.
const SWAP_MAX: usize = 32;
const swapTmp: usize = memory.data(32);

// @ts-ignore: decorator
@inline
function swap(a: usize, b: usize, size: usize): void {
  memory.copy(swapTmp, a, size);
  memory.copy(a, b, size);
  memory.copy(b, swapTmp, size);
}

/**
 * Heapsort of `n` records of `size` bytes at `base` by `cmp`.  In place and
 * O(n log n) whatever the input, since a directory may have millions of entries;
 * not stable, so every caller's order is total (ties broken by a unique field).
 */
export function sortRecords(base: usize, n: usize, size: usize, cmp: (a: usize, b: usize) => i32): void {
  assert(size <= SWAP_MAX);
  if (n < 2) return;
  for (let start = (n >> 1) - 1; ; start--) {
    siftDown(base, start, n, size, cmp);
    if (start == 0) break;
  }
  for (let end = n - 1; end > 0; end--) {
    swap(base, base + end * size, size);
    siftDown(base, 0, end, size, cmp);
  }
}

function siftDown(base: usize, root: usize, n: usize, size: usize, cmp: (a: usize, b: usize) => i32): void {
  let r = root;
  for (;;) {
    let child = (r << 1) + 1;
    if (child >= n) return;
    if (child + 1 < n && cmp(base + child * size, base + (child + 1) * size) < 0) child++;
    if (cmp(base + r * size, base + child * size) >= 0) return;
    swap(base + r * size, base + child * size, size);
    r = child;
  }
}
