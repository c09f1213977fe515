// Shared state of the catar decoder (assembly/catar-decoder.ts): constants of the
// format (casync-format.md §3, §4), the result block the host reads (its event
// codes and slots are in catar-decoder-events.ts), and the error reporting every
// validation step goes through.
//
// Memory: one decoder per instance, so the state lives in static fields.  The
// runtime is the stub one (nothing is ever freed), so every buffer is either
// allocated once at init or grown geometrically; what is leaked by a move is at
// most the final size again, and the final size is bounded by the tree's depth
// and its widest directory, never by the archive size.

export * from './catar-format';
export * from './catar-decoder-events';

/** Offsets above this cannot be told apart by the host's numbers (2^53 − 1). */
export const MAX_OFFSET: u64 = 0x1fffffffffffff;

/**
 * How deep an entry may lie below the archive's root (wasync's own limit; casync's
 * decoder stops at 64 levels).  Depth costs memory in every reader (this decoder's
 * levels, extraction's directories, the paths list prints), so an archive only
 * bytes long cannot make them hold gigabytes.  No path a program can pass
 * (PATH_MAX, 4096 bytes) goes deeper than 2048 levels.
 */
export const DEPTH_MAX: u32 = 16384;

/** The largest record buffered whole: an XATTR with a 255-byte name and a 64 KiB value. */
export const RECORD_MAX: u32 = 16 + 255 + 1 + 65536;

/**
 * The result block: 16 LE64 slots.  Slot 0 is always the archive offset of the
 * record the event (or error) concerns; the others depend on the event.  For an
 * error: 1 message pointer, 2 its length in bytes (UTF-16, a static string whose
 * placeholders name slots 3–5 and the name slots 6–9; see src/format/catar-decoder-wasm.ts).
 */
export const RESULT: usize = memory.data(16 * 8, 8);

// @ts-ignore: decorator
@inline
export function put(slot: i32, v: u64): void {
  store<u64>(RESULT + (<usize>slot << 3), v);
}

/** Decoder state; static so the other modules can assign it. */
export class St {
  static win: usize = 0;
  static winLen: u32 = 0;
  static winPos: u32 = 0;
  /** archive offset of window[winPos], i.e. of the next byte not yet consumed */
  static off: u64 = 0;
  static eof: bool = false;

  /** the record being read: its header, then (for buffered records) its body */
  static rec: usize = 0;
  static recHave: u32 = 0;
  static recOff: u64 = 0;
  static recSize: u64 = 0;
  static recType: u64 = 0;

  /** the archive's feature flags, taken from the root ENTRY */
  static flags: u64 = 0;
  static haveFlags: bool = false;
  static expect: u64 = 0;
  static haveExpect: bool = false;

  /** the node whose metadata is being read */
  static nodeOff: u64 = 0;
  static mode: u64 = 0;
  static rank: i32 = -1;
  static lastType: u64 = 0;
  static have: u32 = 0;
  static defaultMask: u64 = 0;
  /** sort key of the previous XATTR or ACL entry of the same kind */
  static prevKey: usize = 0;
  static prevKeyLen: i32 = -1;
}

// Presence bits of St.have.
export const HAVE_ACL_NAMED: u32 = 4;
export const HAVE_GROUP_OBJ: u32 = 8;
export const HAVE_DEFAULT: u32 = 16;
export const HAVE_DEFAULT_NAMED: u32 = 32;

/**
 * Records an error in the result block and returns false, so validators read
 * `if (bad) return fail(...)`.  The offset is added by the step machine.
 */
export function fail(msg: string, d0: u64 = 0, d1: u64 = 0, d2: u64 = 0): bool {
  put(1, changetype<usize>(msg));
  put(2, <u64>msg.length << 1);
  put(R_D0, d0);
  put(R_D0 + 1, d1);
  put(R_D0 + 2, d2);
  return false;
}

/** Points name slot `slot` (R_N0 or R_N1) at bytes for the message or the event. */
export function putName(slot: i32, ptr: usize, len: usize): void {
  put(slot, ptr);
  put(slot + 1, len);
}

/** The capacity a buffer of `cap` bytes grows to when it must hold `need`: at least double. */
export function grownCap(cap: usize, need: usize): usize {
  let size = cap << 1;
  if (size < need) size = need;
  return size < 1024 ? 1024 : size;
}

/** (Re)allocates a buffer; the stub runtime copies and abandons the old block when it moves. */
export function regrow(ptr: usize, size: usize): usize {
  return ptr ? heap.realloc(ptr, size) : heap.alloc(size);
}

/** strcmp order of two byte strings that hold no NUL: negative, 0 or positive. */
export function compareBytes(a: usize, alen: usize, b: usize, blen: usize): i32 {
  const n = alen < blen ? alen : blen;
  for (let i: usize = 0; i < n; i++) {
    const x = <i32>load<u8>(a + i);
    const y = <i32>load<u8>(b + i);
    if (x != y) return x - y;
  }
  return alen == blen ? 0 : alen < blen ? -1 : 1;
}
