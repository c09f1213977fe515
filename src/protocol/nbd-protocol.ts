// The NBD wire format (NetworkBlockDevice/nbd doc/proto.md): the constants under
// their protocol names and the encoders and decoders of the messages a read-only
// server exchanges.  Runtime-neutral: Uint8Array and DataView only.  Every field
// is big-endian.
//
// Fixed newstyle handshake:
//   S: u64 NBDMAGIC, u64 IHAVEOPT, u16 handshake flags
//   C: u32 client flags
//   C: u64 IHAVEOPT, u32 option, u32 length, <length bytes>         (repeated)
//   S: u64 NBD_OPT_REPLY_MAGIC, u32 option, u32 reply type, u32 length, <data>
//   After NBD_OPT_EXPORT_NAME instead: u64 size, u16 transmission flags and
//   124 zero bytes (left out when both sides set NO_ZEROES).
// NBD_OPT_INFO / NBD_OPT_GO data: u32 name length, name, u16 n, n × u16 info type.
// NBD_REP_INFO data: u16 info type, then NBD_INFO_EXPORT: u64 size, u16 flags;
// NBD_INFO_NAME / NBD_INFO_DESCRIPTION: a string; NBD_INFO_BLOCK_SIZE: u32
// minimum, u32 preferred, u32 maximum payload.
//
// Transmission:
//   C: u32 NBD_REQUEST_MAGIC, u16 command flags, u16 type, u64 cookie, u64 offset,
//      u32 length (then <length> bytes for NBD_CMD_WRITE)                28 bytes
//   S simple reply: u32 NBD_SIMPLE_REPLY_MAGIC, u32 error, u64 cookie (then the
//      data of a successful NBD_CMD_READ)                                16 bytes
//   S structured reply chunk: u32 NBD_STRUCTURED_REPLY_MAGIC, u16 flags, u16 type,
//      u64 cookie, u32 payload length, payload                           20 bytes
//      NBD_REPLY_TYPE_OFFSET_DATA payload: u64 offset, data
//      NBD_REPLY_TYPE_ERROR payload: u32 error, u16 message length, message

export const NBDMAGIC = 0x4e42444d41474943n;
export const IHAVEOPT = 0x49484156454f5054n;
export const NBD_OPT_REPLY_MAGIC = 0x3e889045565a9n;
export const NBD_REQUEST_MAGIC = 0x25609513;
export const NBD_SIMPLE_REPLY_MAGIC = 0x67446698;
export const NBD_STRUCTURED_REPLY_MAGIC = 0x668e33ef;

// Handshake flags (server) and client flags.
export const NBD_FLAG_FIXED_NEWSTYLE = 1 << 0;
export const NBD_FLAG_NO_ZEROES = 1 << 1;
export const NBD_FLAG_C_FIXED_NEWSTYLE = 1 << 0;
export const NBD_FLAG_C_NO_ZEROES = 1 << 1;

// Transmission flags.
export const NBD_FLAG_HAS_FLAGS = 1 << 0;
export const NBD_FLAG_READ_ONLY = 1 << 1;
export const NBD_FLAG_SEND_FLUSH = 1 << 2;
export const NBD_FLAG_SEND_FUA = 1 << 3;
export const NBD_FLAG_ROTATIONAL = 1 << 4;
export const NBD_FLAG_SEND_TRIM = 1 << 5;
export const NBD_FLAG_SEND_WRITE_ZEROES = 1 << 6;
export const NBD_FLAG_SEND_DF = 1 << 7;
export const NBD_FLAG_CAN_MULTI_CONN = 1 << 8;
export const NBD_FLAG_SEND_CACHE = 1 << 10;

// Options.
export const NBD_OPT_EXPORT_NAME = 1;
export const NBD_OPT_ABORT = 2;
export const NBD_OPT_LIST = 3;
export const NBD_OPT_STARTTLS = 5;
export const NBD_OPT_INFO = 6;
export const NBD_OPT_GO = 7;
export const NBD_OPT_STRUCTURED_REPLY = 8;
export const NBD_OPT_LIST_META_CONTEXT = 9;
export const NBD_OPT_SET_META_CONTEXT = 10;
export const NBD_OPT_EXTENDED_HEADERS = 11;

// Option replies; errors have bit 31 set.
export const NBD_REP_ACK = 1;
export const NBD_REP_SERVER = 2;
export const NBD_REP_INFO = 3;
export const NBD_REP_ERR_UNSUP = 0x80000001;
export const NBD_REP_ERR_POLICY = 0x80000002;
export const NBD_REP_ERR_INVALID = 0x80000003;
export const NBD_REP_ERR_PLATFORM = 0x80000004;
export const NBD_REP_ERR_TLS_REQD = 0x80000005;
export const NBD_REP_ERR_UNKNOWN = 0x80000006;
export const NBD_REP_ERR_SHUTDOWN = 0x80000007;
export const NBD_REP_ERR_BLOCK_SIZE_REQD = 0x80000008;
export const NBD_REP_ERR_TOO_BIG = 0x80000009;

// Information types (NBD_OPT_INFO, NBD_OPT_GO).
export const NBD_INFO_EXPORT = 0;
export const NBD_INFO_NAME = 1;
export const NBD_INFO_DESCRIPTION = 2;
export const NBD_INFO_BLOCK_SIZE = 3;

// Commands and command flags.
export const NBD_CMD_READ = 0;
export const NBD_CMD_WRITE = 1;
export const NBD_CMD_DISC = 2;
export const NBD_CMD_FLUSH = 3;
export const NBD_CMD_TRIM = 4;
export const NBD_CMD_CACHE = 5;
export const NBD_CMD_WRITE_ZEROES = 6;
export const NBD_CMD_BLOCK_STATUS = 7;
export const NBD_CMD_FLAG_FUA = 1 << 0;
export const NBD_CMD_FLAG_NO_HOLE = 1 << 1;
export const NBD_CMD_FLAG_DF = 1 << 2;

// Structured replies.
export const NBD_REPLY_FLAG_DONE = 1 << 0;
export const NBD_REPLY_TYPE_NONE = 0;
export const NBD_REPLY_TYPE_OFFSET_DATA = 1;
export const NBD_REPLY_TYPE_ERROR = 0x8001;

// Error values.
export const NBD_EPERM = 1;
export const NBD_EIO = 5;
export const NBD_ENOMEM = 12;
export const NBD_EINVAL = 22;
export const NBD_ENOSPC = 28;
export const NBD_EOVERFLOW = 75;
export const NBD_ENOTSUP = 95;
export const NBD_ESHUTDOWN = 108;

export const HANDSHAKE_SIZE = 18;
export const OPTION_HEADER_SIZE = 16;
export const REQUEST_SIZE = 28;
export const SIMPLE_REPLY_SIZE = 16;
export const STRUCTURED_REPLY_SIZE = 20;
/** protocol strings (names, messages) may not exceed this */
export const MAX_STRING = 4096;

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

/** The server's greeting of the fixed newstyle handshake. */
export function encodeGreeting(handshakeFlags: number): Uint8Array {
  const b = new Uint8Array(HANDSHAKE_SIZE);
  const v = view(b);
  v.setBigUint64(0, NBDMAGIC);
  v.setBigUint64(8, IHAVEOPT);
  v.setUint16(16, handshakeFlags);
  return b;
}

export interface OptionHeader {
  magic: bigint;
  option: number;
  length: number;
}

export function decodeOptionHeader(b: Uint8Array): OptionHeader {
  const v = view(b);
  return { magic: v.getBigUint64(0), option: v.getUint32(8), length: v.getUint32(12) };
}

/** One option reply: header and data. */
export function encodeOptionReply(option: number, type: number, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const b = new Uint8Array(20 + data.length);
  const v = view(b);
  v.setBigUint64(0, NBD_OPT_REPLY_MAGIC);
  v.setUint32(8, option);
  v.setUint32(12, type >>> 0);
  v.setUint32(16, data.length);
  b.set(data, 20);
  return b;
}

/** An error reply whose data is a message for a human. */
export const encodeOptionError = (option: number, type: number, message: string) =>
  encodeOptionReply(option, type, encodeString(message));

/** NBD_REP_SERVER data: the export name, then its description. */
export function encodeServerReply(name: string, description: string): Uint8Array {
  const n = encodeString(name);
  const d = encodeString(description);
  const b = new Uint8Array(4 + n.length + d.length);
  view(b).setUint32(0, n.length);
  b.set(n, 4);
  b.set(d, 4 + n.length);
  return b;
}

export function encodeInfoExport(size: number, flags: number): Uint8Array {
  const b = new Uint8Array(12);
  const v = view(b);
  v.setUint16(0, NBD_INFO_EXPORT);
  v.setBigUint64(2, BigInt(size));
  v.setUint16(10, flags);
  return b;
}

/** NBD_INFO_NAME or NBD_INFO_DESCRIPTION. */
export function encodeInfoString(type: number, s: string): Uint8Array {
  const t = encodeString(s);
  const b = new Uint8Array(2 + t.length);
  view(b).setUint16(0, type);
  b.set(t, 2);
  return b;
}

export function encodeInfoBlockSize(minimum: number, preferred: number, maximum: number): Uint8Array {
  const b = new Uint8Array(14);
  const v = view(b);
  v.setUint16(0, NBD_INFO_BLOCK_SIZE);
  v.setUint32(2, minimum);
  v.setUint32(6, preferred);
  v.setUint32(10, maximum);
  return b;
}

/** The answer to NBD_OPT_EXPORT_NAME: size, flags and (unless NO_ZEROES) 124 zeros. */
export function encodeExportNameReply(size: number, flags: number, noZeroes: boolean): Uint8Array {
  const b = new Uint8Array(noZeroes ? 10 : 134);
  const v = view(b);
  v.setBigUint64(0, BigInt(size));
  v.setUint16(8, flags);
  return b;
}

export interface InfoRequest {
  name: string;
  /** the NBD_INFO_* types asked for */
  infos: number[];
}

/** The data of NBD_OPT_INFO or NBD_OPT_GO, or why it is malformed. */
export function decodeInfoRequest(data: Uint8Array): InfoRequest | string {
  if (data.length < 6) return `option data of ${data.length} bytes is too short`;
  const v = view(data);
  const nameLength = v.getUint32(0);
  if (nameLength > data.length - 6) return `export name length ${nameLength} exceeds the option data`;
  const name = decodeString(data.subarray(4, 4 + nameLength));
  if (name === null) return 'export name is not valid UTF-8 or contains NUL';
  const count = v.getUint16(4 + nameLength);
  if (data.length !== 6 + nameLength + 2 * count) {
    return `option data of ${data.length} bytes does not hold a ${nameLength}-byte name and ${count} information requests`;
  }
  const infos: number[] = [];
  for (let i = 0; i < count; i++) infos.push(v.getUint16(6 + nameLength + 2 * i));
  return { name, infos };
}

export interface Request {
  magic: number;
  flags: number;
  type: number;
  /** opaque: echoed in the reply */
  cookie: Uint8Array;
  /** exact up to 2^53; larger values are beyond any export and fail the bounds check */
  offset: number;
  length: number;
}

export function decodeRequest(b: Uint8Array): Request {
  const v = view(b);
  const offset = v.getBigUint64(16);
  return {
    magic: v.getUint32(0),
    flags: v.getUint16(4),
    type: v.getUint16(6),
    cookie: b.slice(8, 16),
    offset: offset > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(offset),
    length: v.getUint32(24),
  };
}

export function encodeSimpleReply(cookie: Uint8Array, error: number): Uint8Array {
  const b = new Uint8Array(SIMPLE_REPLY_SIZE);
  const v = view(b);
  v.setUint32(0, NBD_SIMPLE_REPLY_MAGIC);
  v.setUint32(4, error);
  b.set(cookie, 8);
  return b;
}

/** A structured reply chunk header for a payload of `length` bytes. */
export function encodeStructuredHeader(cookie: Uint8Array, flags: number, type: number, length: number): Uint8Array {
  const b = new Uint8Array(STRUCTURED_REPLY_SIZE);
  const v = view(b);
  v.setUint32(0, NBD_STRUCTURED_REPLY_MAGIC);
  v.setUint16(4, flags);
  v.setUint16(6, type);
  b.set(cookie, 8);
  v.setUint32(16, length);
  return b;
}

/** Header and offset of an NBD_REPLY_TYPE_OFFSET_DATA chunk; the data follows. */
export function encodeOffsetDataHeader(cookie: Uint8Array, flags: number, offset: number, dataLength: number): Uint8Array {
  const b = new Uint8Array(STRUCTURED_REPLY_SIZE + 8);
  b.set(encodeStructuredHeader(cookie, flags, NBD_REPLY_TYPE_OFFSET_DATA, 8 + dataLength));
  view(b).setBigUint64(STRUCTURED_REPLY_SIZE, BigInt(offset));
  return b;
}

/** A whole NBD_REPLY_TYPE_ERROR chunk (with NBD_REPLY_FLAG_DONE). */
export function encodeStructuredError(cookie: Uint8Array, error: number, message: string): Uint8Array {
  const m = encodeString(message);
  const b = new Uint8Array(STRUCTURED_REPLY_SIZE + 6 + m.length);
  b.set(encodeStructuredHeader(cookie, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_ERROR, 6 + m.length));
  const v = view(b);
  v.setUint32(STRUCTURED_REPLY_SIZE, error);
  v.setUint16(STRUCTURED_REPLY_SIZE + 4, m.length);
  b.set(m, STRUCTURED_REPLY_SIZE + 6);
  return b;
}

/** UTF-8, cut (at a character boundary) to the protocol's string limit. */
export function encodeString(s: string): Uint8Array {
  let b = utf8.encode(s);
  if (b.length > MAX_STRING) {
    let end = MAX_STRING;
    while (end > 0 && (b[end] & 0xc0) === 0x80) end--;
    b = b.subarray(0, end);
  }
  return b;
}

/** A protocol string, or null if it is not valid UTF-8 or contains NUL. */
export function decodeString(b: Uint8Array): string | null {
  try {
    const s = utf8Strict.decode(b);
    return s.includes('\0') ? null : s;
  } catch {
    return null;
  }
}

const OPTION_NAMES: Record<number, string> = {
  [NBD_OPT_EXPORT_NAME]: 'NBD_OPT_EXPORT_NAME',
  [NBD_OPT_ABORT]: 'NBD_OPT_ABORT',
  [NBD_OPT_LIST]: 'NBD_OPT_LIST',
  [NBD_OPT_STARTTLS]: 'NBD_OPT_STARTTLS',
  [NBD_OPT_INFO]: 'NBD_OPT_INFO',
  [NBD_OPT_GO]: 'NBD_OPT_GO',
  [NBD_OPT_STRUCTURED_REPLY]: 'NBD_OPT_STRUCTURED_REPLY',
  [NBD_OPT_LIST_META_CONTEXT]: 'NBD_OPT_LIST_META_CONTEXT',
  [NBD_OPT_SET_META_CONTEXT]: 'NBD_OPT_SET_META_CONTEXT',
  [NBD_OPT_EXTENDED_HEADERS]: 'NBD_OPT_EXTENDED_HEADERS',
};

const COMMAND_NAMES: Record<number, string> = {
  [NBD_CMD_READ]: 'NBD_CMD_READ',
  [NBD_CMD_WRITE]: 'NBD_CMD_WRITE',
  [NBD_CMD_DISC]: 'NBD_CMD_DISC',
  [NBD_CMD_FLUSH]: 'NBD_CMD_FLUSH',
  [NBD_CMD_TRIM]: 'NBD_CMD_TRIM',
  [NBD_CMD_CACHE]: 'NBD_CMD_CACHE',
  [NBD_CMD_WRITE_ZEROES]: 'NBD_CMD_WRITE_ZEROES',
  [NBD_CMD_BLOCK_STATUS]: 'NBD_CMD_BLOCK_STATUS',
};

/** For messages: "NBD_OPT_GO", or "option 42". */
export const optionName = (o: number) => OPTION_NAMES[o] ?? `option ${o}`;
export const commandName = (c: number) => COMMAND_NAMES[c] ?? `command ${c}`;
