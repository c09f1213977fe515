// casync's CA_PROTOCOL, the stream spoken over ssh between a client and
// `casync pull|push` (casync-format.md §7.7): constants, HELLO flag rules and
// frame encoders.  Runtime-neutral.
//
// Layout of every frame, all integers LE64:
//   0   size  (the whole frame, header included; 16 ≤ size ≤ 16 MiB)
//   8   type  (one of the CA_PROTOCOL_* values below)
//   16  body:
//       HELLO        feature flags (size 24; neither 0 nor all ones)
//       INDEX        the next bytes of the index file (at least one)
//       INDEX_EOF    nothing (size 16)
//       ARCHIVE      the next bytes of the archive (at least one)
//       ARCHIVE_EOF  nothing (size 16)
//       REQUEST      flags (CA_PROTOCOL_REQUEST_HIGH_PRIORITY), then 1+ chunk ids
//       CHUNK        flags (CA_PROTOCOL_CHUNK_COMPRESSED), chunk id, then the data
//       MISSING      chunk id (size 48)
//       GOODBYE      nothing (size 16)
//       ABORT        errno-style code (< 0x7fffffff), reason text, NUL
// Chunk ids are 32 bytes.

import { CHUNK_ID_SIZE } from '../format/constants.ts';

export const CA_PROTOCOL_HELLO = 0x3c71d0948ca5fbeen;
export const CA_PROTOCOL_INDEX = 0xb32a91dd2b3e27f8n;
export const CA_PROTOCOL_INDEX_EOF = 0x4f0932f1043718f5n;
export const CA_PROTOCOL_ARCHIVE = 0x95d6428a69eddcc5n;
export const CA_PROTOCOL_ARCHIVE_EOF = 0x450bef663f24cbadn;
export const CA_PROTOCOL_REQUEST = 0x8ab427e0f89d9210n;
export const CA_PROTOCOL_CHUNK = 0x5213dd180a84bc8cn;
export const CA_PROTOCOL_MISSING = 0xd010f9fac82b7b6cn;
export const CA_PROTOCOL_GOODBYE = 0xad205dbf1a3686c3n;
export const CA_PROTOCOL_ABORT = 0xe7d9136b7efea352n;

export const CA_PROTOCOL_HEADER_SIZE = 16;
export const CA_PROTOCOL_SIZE_MIN = CA_PROTOCOL_HEADER_SIZE;
export const CA_PROTOCOL_SIZE_MAX = 16 * 1024 * 1024;

// Services the sender offers.
export const CA_PROTOCOL_READABLE_STORE = 0x1n;
export const CA_PROTOCOL_WRITABLE_STORE = 0x2n;
export const CA_PROTOCOL_READABLE_INDEX = 0x4n;
export const CA_PROTOCOL_WRITABLE_INDEX = 0x8n;
export const CA_PROTOCOL_READABLE_ARCHIVE = 0x10n;
export const CA_PROTOCOL_WRITABLE_ARCHIVE = 0x20n;
// Operations the sender wants.
export const CA_PROTOCOL_PULL_CHUNKS = 0x40n;
export const CA_PROTOCOL_PULL_INDEX = 0x80n;
export const CA_PROTOCOL_PULL_ARCHIVE = 0x100n;
export const CA_PROTOCOL_PUSH_CHUNKS = 0x200n;
export const CA_PROTOCOL_PUSH_INDEX = 0x400n;
export const CA_PROTOCOL_PUSH_INDEX_CHUNKS = 0x800n;
export const CA_PROTOCOL_PUSH_ARCHIVE = 0x1000n;
export const CA_PROTOCOL_FEATURE_FLAGS_MAX = 0x1fffn;

export const CA_PROTOCOL_REQUEST_HIGH_PRIORITY = 1n;
export const CA_PROTOCOL_REQUEST_FLAG_MAX = 1n;
export const CA_PROTOCOL_CHUNK_COMPRESSED = 1n;
export const CA_PROTOCOL_CHUNK_FLAG_MAX = 1n;

/** casync's limit on an ABORT's error code (INT32_MAX, exclusive). */
export const CA_PROTOCOL_ABORT_ERROR_MAX = 0x7fffffff;

/** What the sender of index and archive data puts in one frame, as casync does. */
export const CA_PROTOCOL_FILE_PIECE = 64 * 1024;

export const FRAME_NAMES = new Map<bigint, string>([
  [CA_PROTOCOL_HELLO, 'CA_PROTOCOL_HELLO'],
  [CA_PROTOCOL_INDEX, 'CA_PROTOCOL_INDEX'],
  [CA_PROTOCOL_INDEX_EOF, 'CA_PROTOCOL_INDEX_EOF'],
  [CA_PROTOCOL_ARCHIVE, 'CA_PROTOCOL_ARCHIVE'],
  [CA_PROTOCOL_ARCHIVE_EOF, 'CA_PROTOCOL_ARCHIVE_EOF'],
  [CA_PROTOCOL_REQUEST, 'CA_PROTOCOL_REQUEST'],
  [CA_PROTOCOL_CHUNK, 'CA_PROTOCOL_CHUNK'],
  [CA_PROTOCOL_MISSING, 'CA_PROTOCOL_MISSING'],
  [CA_PROTOCOL_GOODBYE, 'CA_PROTOCOL_GOODBYE'],
  [CA_PROTOCOL_ABORT, 'CA_PROTOCOL_ABORT'],
]);

const FLAG_NAMES: [bigint, string][] = [
  [CA_PROTOCOL_READABLE_STORE, 'READABLE_STORE'],
  [CA_PROTOCOL_WRITABLE_STORE, 'WRITABLE_STORE'],
  [CA_PROTOCOL_READABLE_INDEX, 'READABLE_INDEX'],
  [CA_PROTOCOL_WRITABLE_INDEX, 'WRITABLE_INDEX'],
  [CA_PROTOCOL_READABLE_ARCHIVE, 'READABLE_ARCHIVE'],
  [CA_PROTOCOL_WRITABLE_ARCHIVE, 'WRITABLE_ARCHIVE'],
  [CA_PROTOCOL_PULL_CHUNKS, 'PULL_CHUNKS'],
  [CA_PROTOCOL_PULL_INDEX, 'PULL_INDEX'],
  [CA_PROTOCOL_PULL_ARCHIVE, 'PULL_ARCHIVE'],
  [CA_PROTOCOL_PUSH_CHUNKS, 'PUSH_CHUNKS'],
  [CA_PROTOCOL_PUSH_INDEX, 'PUSH_INDEX'],
  [CA_PROTOCOL_PUSH_INDEX_CHUNKS, 'PUSH_INDEX_CHUNKS'],
  [CA_PROTOCOL_PUSH_ARCHIVE, 'PUSH_ARCHIVE'],
];

/** "PULL_CHUNKS|PULL_INDEX (0xc0)", for messages. */
export function describeHelloFlags(flags: bigint): string {
  const names = FLAG_NAMES.filter(([bit]) => flags & bit).map(([, n]) => n);
  if (flags & ~CA_PROTOCOL_FEATURE_FLAGS_MAX) names.push('unknown bits');
  return `${names.join('|') || 'none'} (0x${flags.toString(16)})`;
}

/** Each operation and the service the other side must offer for it. */
const NEEDS: [bigint, bigint, string][] = [
  [CA_PROTOCOL_PULL_CHUNKS, CA_PROTOCOL_READABLE_STORE, 'to pull chunks, which needs a readable store'],
  [CA_PROTOCOL_PULL_INDEX, CA_PROTOCOL_READABLE_INDEX, 'to pull an index, which needs a readable index'],
  [CA_PROTOCOL_PULL_ARCHIVE, CA_PROTOCOL_READABLE_ARCHIVE, 'to pull an archive, which needs a readable archive'],
  [CA_PROTOCOL_PUSH_CHUNKS, CA_PROTOCOL_WRITABLE_STORE, 'to push chunks, which needs a writable store'],
  [CA_PROTOCOL_PUSH_INDEX, CA_PROTOCOL_WRITABLE_INDEX, 'to push an index, which needs a writable index'],
  [CA_PROTOCOL_PUSH_ARCHIVE, CA_PROTOCOL_WRITABLE_ARCHIVE, 'to push an archive, which needs a writable archive'],
];

const ALL_OPERATIONS =
  CA_PROTOCOL_PULL_CHUNKS |
  CA_PROTOCOL_PULL_INDEX |
  CA_PROTOCOL_PULL_ARCHIVE |
  CA_PROTOCOL_PUSH_CHUNKS |
  CA_PROTOCOL_PUSH_INDEX |
  CA_PROTOCOL_PUSH_ARCHIVE;

/** Why this side's own HELLO flags are unusable (casync's ca_remote_set_local_feature_flags and start checks), or null. */
export function localHelloProblem(local: bigint): string | null {
  if (local === 0n) return 'HELLO flags offer and want nothing';
  if (local & ~CA_PROTOCOL_FEATURE_FLAGS_MAX) return `HELLO flags ${describeHelloFlags(local)} include unknown bits`;
  if (local & CA_PROTOCOL_READABLE_INDEX && local & CA_PROTOCOL_WRITABLE_INDEX) return 'an index cannot be both readable and writable';
  if (local & CA_PROTOCOL_READABLE_ARCHIVE && local & CA_PROTOCOL_WRITABLE_ARCHIVE) {
    return 'an archive cannot be both readable and writable';
  }
  return null;
}

/**
 * Why the peer's HELLO flags do not fit ours, or null: casync's
 * ca_remote_process_hello.  No unknown bits; PUSH_INDEX_CHUNKS only with
 * PUSH_INDEX and PUSH_CHUNKS; every operation either side wants is a service
 * the other offers; and at least one operation between them.
 */
export function helloProblem(local: bigint, remote: bigint): string | null {
  if (remote & ~CA_PROTOCOL_FEATURE_FLAGS_MAX) {
    return `the peer's HELLO flags ${describeHelloFlags(remote)} include bits this protocol version does not know`;
  }
  const both = CA_PROTOCOL_PUSH_INDEX | CA_PROTOCOL_PUSH_CHUNKS;
  if (remote & CA_PROTOCOL_PUSH_INDEX_CHUNKS && (remote & both) !== both) {
    return 'the peer asks for PUSH_INDEX_CHUNKS without PUSH_INDEX and PUSH_CHUNKS';
  }
  for (const [op, service, what] of NEEDS) {
    if (remote & op && !(local & service)) return `the peer wants ${what}, and this side offers ${describeHelloFlags(local)}`;
    if (local & op && !(remote & service)) return `this side wants ${what}, and the peer offers ${describeHelloFlags(remote)}`;
  }
  if (((local | remote) & ALL_OPERATIONS) === 0n) return 'neither side asks for any operation';
  return null;
}

function frame(type: bigint, bodySize: number): { bytes: Uint8Array; view: DataView } {
  const size = CA_PROTOCOL_HEADER_SIZE + bodySize;
  if (size > CA_PROTOCOL_SIZE_MAX) {
    throw new RangeError(`${FRAME_NAMES.get(type)} frame of ${size} bytes exceeds the protocol's ${CA_PROTOCOL_SIZE_MAX}`);
  }
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, BigInt(size), true);
  view.setBigUint64(8, type, true);
  return { bytes, view };
}

export function encodeHello(flags: bigint): Uint8Array {
  const problem = localHelloProblem(flags);
  if (problem) throw new RangeError(problem);
  const f = frame(CA_PROTOCOL_HELLO, 8);
  f.view.setBigUint64(16, flags, true);
  return f.bytes;
}

/** An INDEX or ARCHIVE frame carrying `data` (at least one byte). */
export function encodeFile(type: typeof CA_PROTOCOL_INDEX | typeof CA_PROTOCOL_ARCHIVE, data: Uint8Array): Uint8Array {
  if (!data.length) throw new RangeError(`${FRAME_NAMES.get(type)} frames carry at least one byte`);
  const f = frame(type, data.length);
  f.bytes.set(data, CA_PROTOCOL_HEADER_SIZE);
  return f.bytes;
}

/** INDEX_EOF, ARCHIVE_EOF or GOODBYE: a bare header. */
export function encodeEmpty(
  type: typeof CA_PROTOCOL_INDEX_EOF | typeof CA_PROTOCOL_ARCHIVE_EOF | typeof CA_PROTOCOL_GOODBYE,
): Uint8Array {
  return frame(type, 0).bytes;
}

/** A REQUEST for the packed 32-byte ids in `ids`. */
export function encodeRequest(ids: Uint8Array, highPriority: boolean): Uint8Array {
  if (!ids.length || ids.length % CHUNK_ID_SIZE) throw new RangeError(`a REQUEST holds whole chunk ids, not ${ids.length} bytes`);
  const f = frame(CA_PROTOCOL_REQUEST, 8 + ids.length);
  f.view.setBigUint64(16, highPriority ? CA_PROTOCOL_REQUEST_HIGH_PRIORITY : 0n, true);
  f.bytes.set(ids, 24);
  return f.bytes;
}

/** Chunk ids per REQUEST frame: casync's senders stop a frame at 64 KiB too. */
export const REQUEST_IDS_MAX = (CA_PROTOCOL_FILE_PIECE - 24) / CHUNK_ID_SIZE;

export function encodeChunk(id: Uint8Array, data: Uint8Array, compressed: boolean): Uint8Array {
  if (!data.length) throw new RangeError('a CHUNK frame carries at least one byte of data');
  const f = frame(CA_PROTOCOL_CHUNK, 8 + CHUNK_ID_SIZE + data.length);
  f.view.setBigUint64(16, compressed ? CA_PROTOCOL_CHUNK_COMPRESSED : 0n, true);
  f.bytes.set(id, 24);
  f.bytes.set(data, 24 + CHUNK_ID_SIZE);
  return f.bytes;
}

export function encodeMissing(id: Uint8Array): Uint8Array {
  const f = frame(CA_PROTOCOL_MISSING, CHUNK_ID_SIZE);
  f.bytes.set(id, 16);
  return f.bytes;
}

/** ABORT with an errno-style code and a reason; control characters in it become '?'. */
export function encodeAbort(error: number, reason: string): Uint8Array {
  const code = Number.isInteger(error) && error >= 0 && error < CA_PROTOCOL_ABORT_ERROR_MAX ? error : 0;
  const text = new TextEncoder().encode(reason.slice(0, 4096).replace(/[\x00-\x1f]/g, '?'));
  const f = frame(CA_PROTOCOL_ABORT, 8 + text.length + 1);
  f.view.setBigUint64(16, BigInt(code), true);
  f.bytes.set(text, 24);
  return f.bytes;
}

/** errno values used in ABORT frames (Linux numbering, as casync sends them). */
export const ABORT_ENOENT = 2;
export const ABORT_EIO = 5;
export const ABORT_EPROTO = 71;
export const ABORT_EBADMSG = 74;
