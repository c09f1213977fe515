// Open directories and their GOODBYE tables (casync-format.md §4.7).
//
// Each open directory is a level: its ENTRY offset, where its children start in
// the child stack, and its previous child's name (names must be strictly
// increasing in strcmp order).  Each child is {SipHash of its name, archive
// offset of its FILENAME, offset where it ends}, 24 bytes; a directory's children
// sit on top of the stack while it is open and are dropped at its GOODBYE, so
// memory follows the depth and the widest directory, not the archive size.
//
// casync's decoder only trusts a GOODBYE's tail; wasync recomputes the whole
// table from what it decoded and compares every item: the items sorted by
// (hash, FILENAME offset), laid out as an implicit binary search tree (children
// of slot i at 2i+1 and 2i+2, filled in order), each {GOODBYE offset − start,
// end − start, hash}; then the tail {GOODBYE offset − directory ENTRY offset,
// record size, marker}.

import {
  CA_FORMAT_GOODBYE_TAIL_MARKER, R_N0, R_N1, compareBytes, fail, grownCap, putName, regrow,
} from './catar-decoder-state';
import { siphash24 } from './siphash';

const LEVEL: usize = 272; // LE64 entry offset, u32 first child, i32 previous name length, name[256]
const CHILD: usize = 24; // LE64 hash, LE64 start, LE64 end

export class Tree {
  static levels: usize = 0;
  static levelCap: usize = 0;
  static depth: u32 = 0;
  static kids: usize = 0;
  static kidCap: usize = 0;
  static kidTop: u32 = 0;
  /** for the GOODBYE being checked: n sorted child indices, then n in table order */
  static order: usize = 0;
  static orderCap: usize = 0;
  static items: u32 = 0;
  static next: u32 = 0;
}

export function top(): usize {
  return Tree.levels + <usize>(Tree.depth - 1) * LEVEL;
}

export function pushLevel(entryOff: u64): void {
  const need = <usize>(Tree.depth + 1) * LEVEL;
  if (need > Tree.levelCap) {
    Tree.levelCap = grownCap(Tree.levelCap, need);
    Tree.levels = regrow(Tree.levels, Tree.levelCap);
  }
  Tree.depth++;
  const l = top();
  store<u64>(l, entryOff);
  store<u32>(l + 8, Tree.kidTop);
  store<i32>(l + 12, -1);
}

/** Drops the top level and its children. */
export function popLevel(): void {
  Tree.kidTop = load<u32>(top() + 8);
  Tree.depth--;
}

export const levelEntry = (): u64 => load<u64>(top());
export const childCount = (): u32 => Tree.kidTop - load<u32>(top() + 8);

/** The child name (n bytes without NUL) must sort strictly after its previous sibling. */
export function nameOrderOk(p: usize, n: usize): bool {
  const l = top();
  const prevLen = load<i32>(l + 12);
  if (prevLen >= 0) {
    putName(R_N0, p, n);
    putName(R_N1, l + 16, <usize>prevLen);
    const c = compareBytes(p, n, l + 16, <usize>prevLen);
    if (c == 0) return fail('duplicate file name {n0} in one directory');
    if (c < 0) return fail('file name {n0} comes after {n1} (names must be sorted in strcmp order)');
  }
  return true;
}

/** Records a child that starts (with its FILENAME) at `start`. */
export function addChild(p: usize, n: usize, start: u64): void {
  const l = top();
  memory.copy(l + 16, p, n);
  store<i32>(l + 12, <i32>n);
  const need = <usize>(Tree.kidTop + 1) * CHILD;
  if (need > Tree.kidCap) {
    Tree.kidCap = grownCap(Tree.kidCap, need);
    Tree.kids = regrow(Tree.kids, Tree.kidCap);
  }
  const c = Tree.kids + <usize>Tree.kidTop * CHILD;
  store<u64>(c, siphash24(p, n));
  store<u64>(c + 8, start);
  store<u64>(c + 16, 0);
  Tree.kidTop++;
}

/** The top directory's last child, if any, ends where its next sibling or the GOODBYE starts. */
export function closeChild(end: u64): void {
  if (childCount() > 0) store<u64>(Tree.kids + <usize>(Tree.kidTop - 1) * CHILD + 16, end);
}

// @ts-ignore: decorator
@inline
function child(i: u32): usize {
  return Tree.kids + <usize>(load<u32>(top() + 8) + i) * CHILD;
}

// Children are stored in FILENAME order, so comparing indices compares offsets.
function less(a: u32, b: u32): bool {
  const ha = load<u64>(child(a));
  const hb = load<u64>(child(b));
  return ha < hb || (ha == hb && a < b);
}

function siftDown(arr: usize, start: u32, end: u32): void {
  let root = start;
  while (true) {
    let c: u32 = 2 * root + 1;
    if (c >= end) return;
    if (c + 1 < end && less(load<u32>(arr + (<usize>c << 2)), load<u32>(arr + (<usize>(c + 1) << 2)))) c++;
    const r = load<u32>(arr + (<usize>root << 2));
    const v = load<u32>(arr + (<usize>c << 2));
    if (!less(r, v)) return;
    store<u32>(arr + (<usize>root << 2), v);
    store<u32>(arr + (<usize>c << 2), r);
    root = c;
  }
}

function fill(i: u32, n: u32): void {
  if (i >= n) return;
  fill(2 * i + 1, n);
  const sorted = load<u32>(Tree.order + (<usize>Tree.next << 2));
  Tree.next++;
  store<u32>(Tree.order + (<usize>(n + i) << 2), sorted);
  fill(2 * i + 2, n);
}

/** Computes the table the top directory's GOODBYE must hold. */
export function prepareGoodbye(): void {
  const n = childCount();
  const need = <usize>n << 3;
  if (need > Tree.orderCap) {
    Tree.orderCap = grownCap(Tree.orderCap, need);
    Tree.order = regrow(Tree.order, Tree.orderCap);
  }
  const arr = Tree.order;
  for (let i: u32 = 0; i < n; i++) store<u32>(arr + (<usize>i << 2), i);
  if (n > 1) {
    for (let s = (n >> 1) + 1; s-- > 0; ) siftDown(arr, s, n);
    for (let end = n - 1; end > 0; end--) {
      const t = load<u32>(arr);
      store<u32>(arr, load<u32>(arr + (<usize>end << 2)));
      store<u32>(arr + (<usize>end << 2), t);
      siftDown(arr, 0, end);
    }
  }
  Tree.items = n;
  Tree.next = 0;
  fill(0, n);
}

/** Item k of the GOODBYE at offset g, 24 bytes at p. */
export function itemOk(k: u32, p: usize, g: u64): bool {
  const c = child(load<u32>(Tree.order + (<usize>(Tree.items + k) << 2)));
  const hash = load<u64>(c);
  const start = load<u64>(c + 8);
  const end = load<u64>(c + 16);
  const gotOff = load<u64>(p);
  const gotSize = load<u64>(p + 8);
  const gotHash = load<u64>(p + 16);
  if (gotHash != hash) {
    return fail('GOODBYE item {d0} has hash {x1}, expected {x2} (sorted by hash, in search-tree order)', k, gotHash, hash);
  }
  if (gotOff != g - start) return fail('GOODBYE item {d0} has offset {d1}, expected {d2}', k, gotOff, g - start);
  if (gotSize != end - start) return fail('GOODBYE item {d0} has size {d1}, expected {d2}', k, gotSize, end - start);
  return true;
}

/** The tail, 24 bytes at p, of the GOODBYE at offset g of `size` bytes. */
export function tailOk(p: usize, g: u64, size: u64): bool {
  const entryOff = load<u64>(p);
  const tailSize = load<u64>(p + 8);
  const marker = load<u64>(p + 16);
  if (marker != CA_FORMAT_GOODBYE_TAIL_MARKER) {
    return fail('GOODBYE tail marker {x0}, expected {x1}', marker, CA_FORMAT_GOODBYE_TAIL_MARKER);
  }
  if (tailSize != size) return fail('GOODBYE tail size {d0}, expected {d1} (the record size)', tailSize, size);
  const want = g - levelEntry();
  if (entryOff != want) {
    return fail("GOODBYE tail entry_offset {d0}, expected {d1} (back to the directory's ENTRY)", entryOff, want);
  }
  return true;
}
