// The catar encoder's open directories and their GOODBYE records
// (casync-format.md §4.7).
//
// Layout: a directory is `ENTRY … FILENAME(c1) <c1> … FILENAME(cn) <cn> GOODBYE`.
// The GOODBYE record is header, n items {LE64 offset, LE64 size, LE64 hash}, tail
// {LE64 entry_offset, LE64 size, LE64 marker}.  An item's offset is measured
// backwards from the GOODBYE start to the child's FILENAME, its size covers the
// FILENAME and the whole child, its hash is SipHash-2-4 of the name.  Items are
// sorted by (hash, FILENAME offset) and then laid out as an implicit binary search
// tree (children of slot i at 2i+1 and 2i+2): walking a complete heap-shaped tree
// of n slots in order (left, node, right) and handing out the sorted items in
// sequence gives casync's ca_make_bst layout.
//
// Memory: open directories form a stack, and so do their items: a subdirectory's
// items always come after its parent's and are dropped when it ends.  Beside them
// lies the previous child's name of each open directory, for the strictly
// increasing strcmp order casync's readers rely on.

import { Bytes, compareBytes, hasNul, sortRecords } from './catar-encoder-buffer';
import {
  CA_FORMAT_FILENAME, CA_FORMAT_FILENAME_MAX, CA_FORMAT_GOODBYE, CA_FORMAT_GOODBYE_ITEM_SIZE,
  CA_FORMAT_GOODBYE_TAIL_MARKER, E_FILENAME_INVALID, E_FILENAME_ORDER,
} from './catar-encoder-format';
import { siphash24 } from './siphash';

const ITEM: usize = 24; // hash, start (FILENAME offset), end
const DIR: usize = 24; // entry offset, first item index, previous name offset, its length
const NO_NAME: u32 = 0xffffffff;
const OPEN_END: u64 = u64.MAX_VALUE;

const dirs = new Bytes(DIR * 32);
const items = new Bytes(ITEM * 256);
const names = new Bytes(1024);

export function resetDirectories(): void {
  dirs.reset();
  items.reset();
  names.reset();
}

export function openDirectories(): u32 {
  return <u32>(dirs.len / DIR);
}

/** Opens a directory whose ENTRY starts at `entryOffset`; its children follow. */
export function openDirectory(entryOffset: u64): void {
  const d = dirs.reserve(DIR);
  dirs.len += DIR;
  store<u64>(d, entryOffset);
  store<u32>(d, <u32>(items.len / ITEM), 8);
  store<u32>(d, <u32>names.len, 12);
  store<u32>(d, NO_NAME, 16);
}

// @ts-ignore: decorator
@inline
function top(): usize {
  return dirs.ptr + dirs.len - DIR;
}

/** Closes the last child's item: it ends where the next FILENAME or the GOODBYE starts. */
function endLastChild(offset: u64): void {
  if (items.len / ITEM > <usize>load<u32>(top(), 8)) {
    store<u64>(items.ptr + items.len - ITEM, offset, 16);
  }
}

/**
 * Starts the next child of the innermost open directory at archive `offset` and
 * writes its FILENAME record to `out`.  Refuses names casync's readers reject and
 * names not strictly after the previous one.
 */
export function addChild(name: usize, len: usize, offset: u64, out: Bytes): i32 {
  if (len == 0 || len > CA_FORMAT_FILENAME_MAX || hasNul(name, len)) return E_FILENAME_INVALID;
  for (let i: usize = 0; i < len; i++) if (load<u8>(name + i) == 0x2f) return E_FILENAME_INVALID;
  const dot = load<u8>(name) == 0x2e;
  if (dot && (len == 1 || (len == 2 && load<u8>(name + 1) == 0x2e))) return E_FILENAME_INVALID;
  const d = top();
  const prevOff = <usize>load<u32>(d, 12);
  const prevLen = load<u32>(d, 16);
  if (prevLen != NO_NAME && compareBytes(names.ptr + prevOff, prevLen, name, len) >= 0) {
    return E_FILENAME_ORDER;
  }
  endLastChild(offset);
  const it = items.reserve(ITEM);
  items.len += ITEM;
  store<u64>(it, siphash24(name, len));
  store<u64>(it, offset, 8);
  store<u64>(it, OPEN_END, 16);
  names.len = prevOff;
  names.bytes(name, len);
  store<u32>(d, <u32>len, 16);
  out.cstringRecord(CA_FORMAT_FILENAME, name, len);
  return 0;
}

/** Goodbye order: hash, then FILENAME offset (unique, so heapsort's instability is moot). */
function compareItems(a: usize, b: usize): i32 {
  const ha = load<u64>(a);
  const hb = load<u64>(b);
  if (ha != hb) return ha < hb ? -1 : 1;
  const sa = load<u64>(a, 8);
  const sb = load<u64>(b, 8);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

/** First slot of an in-order walk of a heap-shaped tree of n slots. */
function firstSlot(n: usize): usize {
  let i: usize = 0;
  while ((i << 1) + 1 < n) i = (i << 1) + 1;
  return i;
}

/** The slot after `i` in that walk (n when there is none). */
function nextSlot(i: usize, n: usize): usize {
  if ((i << 1) + 2 < n) {
    let j = (i << 1) + 2;
    while ((j << 1) + 1 < n) j = (j << 1) + 1;
    return j;
  }
  let j = i;
  while (j > 0) {
    const parent = (j - 1) >> 1;
    if (j == (parent << 1) + 1) return parent;
    j = parent;
  }
  return n;
}

/**
 * Ends the innermost open directory at archive `offset` (where its GOODBYE
 * starts): writes the GOODBYE record to `out` and forgets the directory.
 */
export function closeDirectory(offset: u64, out: Bytes): void {
  endLastChild(offset);
  const d = top();
  const entryOffset = load<u64>(d);
  const base = <usize>load<u32>(d, 8);
  const n = items.len / ITEM - base;
  const first = items.ptr + base * ITEM;
  sortRecords(first, n, ITEM, compareItems);
  const size = <u64>(16 + (n + 1) * <usize>CA_FORMAT_GOODBYE_ITEM_SIZE);
  out.header(size, CA_FORMAT_GOODBYE);
  const table = out.reserve(n * ITEM);
  out.len += n * ITEM;
  let slot = firstSlot(n);
  for (let r: usize = 0; r < n; r++) {
    const src = first + r * ITEM;
    const dst = table + slot * ITEM;
    const start = load<u64>(src, 8);
    store<u64>(dst, offset - start);
    store<u64>(dst, load<u64>(src, 16) - start, 8);
    store<u64>(dst, load<u64>(src), 16);
    slot = nextSlot(slot, n);
  }
  out.u64(offset - entryOffset);
  out.u64(size);
  out.u64(CA_FORMAT_GOODBYE_TAIL_MARKER);
  items.len = base * ITEM;
  names.len = <usize>load<u32>(d, 12);
  dirs.len -= DIR;
}

/**
 * Tests and diagnostics: for each of the n slots of a goodbye table, the index
 * of the sorted item placed there, as u32 at `out`.
 */
export function bstPermutation(n: u32, out: usize): void {
  let slot = firstSlot(n);
  for (let r: u32 = 0; r < n; r++) {
    store<u32>(out + slot * 4, r);
    slot = nextSlot(slot, n);
  }
}
