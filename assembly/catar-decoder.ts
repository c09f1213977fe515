// The catar decoder: a step machine over the archive byte stream
// (casync-format.md §4), driven by the host (src/format/catar-decoder.ts).
//
// Protocol: decoderInit() returns the input window; the host copies up to its
// size of archive bytes there and calls decoderPut(len), then decoderStep() until
// it returns EV_MORE (the window is used up), and so on; decoderEof() declares
// the end of input.  Each step returns one event, with details in the result
// block (decoderResult(); layout in catar-decoder-state.ts).  An error is final.
//
// Records smaller than RECORD_MAX are gathered whole in a record buffer, however
// the input is split; PAYLOAD bytes are never copied: each EV_PAYLOAD is a view
// of the input window.  GOODBYE items are compared one by one as they arrive.
//
// Contexts: C_ROOT expects the root ENTRY, C_ENTRY the ENTRY after a FILENAME,
// C_META a node's metadata or body, C_DIR a FILENAME or the GOODBYE of the
// innermost open directory.  A node's EV_NODE is sent once its metadata is
// complete: at its PAYLOAD header, after its SYMLINK or DEVICE record, or at the
// FILENAME/GOODBYE header that follows it (which is then handled in C_DIR).

import {
  CA_FORMAT_DEVICE, CA_FORMAT_ENTRY, CA_FORMAT_FILENAME, CA_FORMAT_GOODBYE, CA_FORMAT_PAYLOAD, DEPTH_MAX,
  CA_FORMAT_SYMLINK, EV_DIRECTORY_END, EV_END, EV_ENTRY, EV_ERROR, EV_FILENAME, EV_MORE, EV_NODE,
  EV_PAYLOAD, EV_PAYLOAD_END, MAX_OFFSET, RECORD_MAX, RESULT, R_OFFSET, S_IFBLK, S_IFCHR, S_IFDIR,
  S_IFLNK, S_IFMT, S_IFREG, St, fail, put,
} from './catar-decoder-state';
import { entryOk, fileNameOk } from './catar-decoder-entry';
import {
  Tree, addChild, childCount, closeChild, itemOk, levelEntry, nameOrderOk, popLevel, prepareGoodbye,
  pushLevel, tailOk,
} from './catar-decoder-goodbye';
import { bodyHeaderOk, metadataComplete, metadataHeaderOk, rankOf, recordEvent } from './catar-decoder-records';

const C_ROOT = 0;
const C_ENTRY = 1;
const C_META = 2;
const C_DIR = 3;

const S_HEADER = 0;
const S_BODY = 1;
const S_PAYLOAD = 2;
const S_GOODBYE = 3;
const S_REDISPATCH = 4;
const S_ROOT_END = 5;
const S_DONE = 6;
const S_FAILED = 7;

/** Returned by handlers that did not produce an event: keep stepping. */
const CONTINUE = -1;

let ctx = C_ROOT;
let state = S_HEADER;
let payloadSize: u64 = 0;
let payloadLeft: u64 = 0;
let gbIndex: u32 = 0;

/** Allocates the window (`windowSize` bytes) and buffers; returns the window's address. */
export function decoderInit(windowSize: u32, expectFlags: u64, haveExpect: bool): usize {
  St.win = heap.alloc(windowSize);
  St.rec = heap.alloc(RECORD_MAX);
  St.prevKey = heap.alloc(1024);
  St.expect = expectFlags;
  St.haveExpect = haveExpect;
  return St.win;
}

/** The window now holds `len` new bytes (the previous ones were all consumed). */
export function decoderPut(len: u32): void {
  St.winLen = len;
  St.winPos = 0;
}

export function decoderEof(): void {
  St.eof = true;
}

export function decoderResult(): usize {
  return RESULT;
}

/** Archive offset of the next byte not yet consumed. */
export function decoderOffset(): u64 {
  return St.off;
}

/** Moves window bytes into the record buffer until it holds `n`; false if the window ran dry. */
function fill(n: u32): bool {
  const want = n - St.recHave;
  const avail = St.winLen - St.winPos;
  const k = want < avail ? want : avail;
  memory.copy(St.rec + St.recHave, St.win + St.winPos, k);
  St.recHave += k;
  St.winPos += k;
  St.off += k;
  return St.recHave == n;
}

function error(offset: u64): i32 {
  put(R_OFFSET, offset);
  state = S_FAILED;
  return EV_ERROR;
}

function nextRecord(c: i32): void {
  ctx = c;
  state = S_HEADER;
  St.recHave = 0;
}

export function decoderStep(): i32 {
  while (true) {
    let ev = CONTINUE;
    if (state == S_HEADER) {
      if (St.recHave == 0) St.recOff = St.off;
      if (!fill(16)) return more();
      St.recSize = load<u64>(St.rec);
      St.recType = load<u64>(St.rec + 8);
      if (St.recSize < 16) {
        fail('{r1} record size {d0} is smaller than its 16-byte header', St.recSize, St.recType);
        return error(St.recOff);
      }
      if (St.recSize > MAX_OFFSET - St.recOff) {
        fail('{r1} record size {d0} overflows (the archive would exceed 2^53 bytes)', St.recSize, St.recType);
        return error(St.recOff);
      }
      ev = ctx == C_DIR ? directoryHeader() : nodeHeader();
    } else if (state == S_BODY) {
      if (!fill(<u32>St.recSize)) return more();
      ev = recordBody();
    } else if (state == S_PAYLOAD) {
      ev = payload();
    } else if (state == S_GOODBYE) {
      ev = goodbye();
    } else if (state == S_REDISPATCH) {
      ev = directoryHeader();
    } else if (state == S_ROOT_END || state == S_DONE) {
      if (St.winPos < St.winLen) {
        fail("trailing data after the root directory's GOODBYE (the archive ends at byte {d0})", St.off);
        return error(St.off);
      }
      if (state == S_DONE) return EV_MORE;
      state = S_DONE;
      put(R_OFFSET, St.off);
      return EV_END;
    } else {
      return EV_ERROR;
    }
    if (ev != CONTINUE) return ev;
  }
}

/** A header while reading a node: its ENTRY, metadata, or what ends the metadata. */
function nodeHeader(): i32 {
  const t = St.recType;
  if (ctx != C_META) {
    if (t != CA_FORMAT_ENTRY) {
      if (ctx == C_ROOT) fail('the archive does not start with an ENTRY record (found {r0})', t);
      else fail('FILENAME is not followed by an ENTRY record (found {r0})', t);
      return error(St.recOff);
    }
    if (St.recSize != 64) {
      fail('{r0} record of {d1} bytes, must be exactly {d2}', t, St.recSize, 64);
      return error(St.recOff);
    }
    state = S_BODY;
    return CONTINUE;
  }
  if (t == CA_FORMAT_ENTRY) {
    fail('second ENTRY record for the node at byte {d1}', t, St.nodeOff);
    return error(St.recOff);
  }
  if (rankOf(t) > 0) {
    if (!metadataHeaderOk()) return error(St.recOff);
    state = S_BODY;
    return CONTINUE;
  }
  const type = St.mode & S_IFMT;
  if (t == CA_FORMAT_SYMLINK || t == CA_FORMAT_DEVICE) {
    if (!bodyHeaderOk()) return error(St.recOff);
    state = S_BODY;
    return CONTINUE;
  }
  if (t == CA_FORMAT_PAYLOAD) {
    if (type != S_IFREG) {
      fail('PAYLOAD record for a node that is not a regular file (mode {o1})', t, St.mode);
      return error(St.recOff);
    }
    if (!metadataComplete()) return error(St.recOff);
    payloadSize = payloadLeft = St.recSize - 16;
    state = S_PAYLOAD;
    put(R_OFFSET, St.nodeOff);
    put(1, payloadSize);
    return EV_NODE;
  }
  if (t == CA_FORMAT_FILENAME || t == CA_FORMAT_GOODBYE) {
    if (type == S_IFREG) fail('regular file without a PAYLOAD record (found {r0})', t);
    else if (type == S_IFLNK) fail('symlink without a SYMLINK record (found {r0})', t);
    else if (type == S_IFCHR || type == S_IFBLK) fail('device without a DEVICE record (found {r0})', t);
    else if (metadataComplete()) {
      if (type == S_IFDIR) pushLevel(St.nodeOff);
      ctx = C_DIR;
      state = S_REDISPATCH;
      put(R_OFFSET, St.nodeOff);
      return EV_NODE;
    }
    return error(St.recOff);
  }
  fail('unexpected {r0} record in the node at byte {d1}', t, St.nodeOff);
  return error(St.recOff);
}

/** A header inside a directory: the next child's FILENAME or the directory's GOODBYE. */
function directoryHeader(): i32 {
  const t = St.recType;
  const size = St.recSize;
  if (t == CA_FORMAT_FILENAME) {
    closeChild(St.recOff);
    if (Tree.depth > DEPTH_MAX) {
      fail('an entry more than {d0} directories deep (wasync reads at most that many levels)', DEPTH_MAX);
      return error(St.recOff);
    }
    if (size < 17) {
      fail('{r0} record of {d1} bytes is too small (at least {d2})', t, size, 17);
      return error(St.recOff);
    }
    if (size > 16 + 256) {
      fail('{r0} record of {d1} bytes: the name is longer than 255 bytes', t, size);
      return error(St.recOff);
    }
    state = S_BODY;
    return CONTINUE;
  }
  if (t == CA_FORMAT_GOODBYE) {
    closeChild(St.recOff);
    const n = childCount();
    const want = 16 + 24 * (<u64>n + 1);
    if (size != want) {
      fail('GOODBYE record of {d0} bytes, expected {d1} for a directory of {d2} entries', size, want, n);
      return error(St.recOff);
    }
    prepareGoodbye();
    gbIndex = 0;
    St.recHave = 0;
    state = S_GOODBYE;
    return CONTINUE;
  }
  fail('{r0} record where a FILENAME or GOODBYE record was expected', t);
  return error(St.recOff);
}

/** A whole record in the record buffer. */
function recordBody(): i32 {
  const t = St.recType;
  const p = St.rec;
  const n = <usize>St.recSize - 16;
  if (t == CA_FORMAT_ENTRY) {
    if (!entryOk(ctx == C_ROOT)) return error(St.recOff);
    St.nodeOff = St.recOff;
    St.mode = load<u64>(p + 24);
    St.rank = 0;
    St.lastType = t;
    St.have = 0;
    St.prevKeyLen = -1;
    St.defaultMask = 0xffffffffffffffff;
    nextRecord(C_META);
    put(R_OFFSET, St.nodeOff);
    for (let i: usize = 0; i < 6; i++) put(1 + <i32>i, load<u64>(p + 16 + (i << 3)));
    put(7, Tree.depth);
    return EV_ENTRY;
  }
  if (t == CA_FORMAT_FILENAME) {
    if (!fileNameOk(p + 16, n)) return error(St.recOff);
    if (!nameOrderOk(p + 16, n - 1)) return error(St.recOff);
    addChild(p + 16, n - 1, St.recOff);
    St.rank = -1;
    nextRecord(C_ENTRY);
    put(R_OFFSET, St.recOff);
    put(1, p + 16);
    put(2, n - 1);
    put(3, Tree.depth);
    return EV_FILENAME;
  }
  if (t == CA_FORMAT_SYMLINK || t == CA_FORMAT_DEVICE) {
    const ev = recordEvent();
    if (ev == EV_ERROR || !metadataComplete()) return error(St.recOff);
    nextRecord(C_DIR);
    put(R_OFFSET, St.nodeOff);
    return EV_NODE;
  }
  const ev = recordEvent();
  if (ev == EV_ERROR) return error(St.recOff);
  nextRecord(C_META);
  return ev;
}

function payload(): i32 {
  if (payloadLeft == 0) {
    nextRecord(C_DIR);
    put(R_OFFSET, St.recOff);
    return EV_PAYLOAD_END;
  }
  const avail = St.winLen - St.winPos;
  if (avail == 0) return more();
  const k = <u64>avail < payloadLeft ? avail : <u32>payloadLeft;
  put(R_OFFSET, St.off);
  put(1, St.win + St.winPos);
  put(2, k);
  St.winPos += k;
  St.off += k;
  payloadLeft -= k;
  return EV_PAYLOAD;
}

function goodbye(): i32 {
  if (!fill(24)) return more();
  if (gbIndex < Tree.items) {
    if (!itemOk(gbIndex, St.rec, St.recOff)) return error(St.recOff);
    gbIndex++;
    St.recHave = 0;
    return CONTINUE;
  }
  if (!tailOk(St.rec, St.recOff, St.recSize)) return error(St.recOff);
  const entry = levelEntry();
  popLevel();
  put(R_OFFSET, St.recOff);
  put(1, Tree.depth);
  put(2, entry);
  if (Tree.depth == 0) {
    state = S_ROOT_END;
    St.recHave = 0;
  } else {
    nextRecord(C_DIR);
  }
  return EV_DIRECTORY_END;
}

/** The window is used up: ask for more, or report where the archive was cut. */
function more(): i32 {
  if (!St.eof) return EV_MORE;
  if (state == S_HEADER && St.recHave == 0) {
    if (ctx == C_ROOT) fail('the archive is empty');
    else if (ctx == C_ENTRY) fail('the archive ends after a FILENAME, before its ENTRY');
    else if (ctx == C_META) fail('the archive ends inside the node at byte {d0}', St.nodeOff);
    else fail('the archive ends before the GOODBYE of the directory at byte {d0}', levelEntry());
    return error(St.off);
  }
  if (state == S_HEADER) fail('the archive ends {d0} bytes into a record header', St.recHave);
  else if (state == S_PAYLOAD) {
    fail('the archive ends after {d1} of {d2} payload bytes', 0, payloadSize - payloadLeft, payloadSize);
  } else if (state == S_GOODBYE) {
    const got = 16 + <u64>gbIndex * 24 + St.recHave;
    fail('the archive ends {d1} bytes into a {d2}-byte {r0} record', St.recType, got, St.recSize);
  } else fail('the archive ends {d1} bytes into a {d2}-byte {r0} record', St.recType, St.recHave, St.recSize);
  return error(St.recOff);
}
