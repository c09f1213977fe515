// The FUSE kernel protocol (<linux/fuse.h>, protocol 7.x) as far as a read-only
// file system speaks it: opcodes, flags, and the little-endian structs read from
// and written to /dev/fuse.
//
// Layout of a request, as one read(2) of the device returns it:
//   fuse_in_header (40 bytes): LE32 len, LE32 opcode, LE64 unique, LE64 nodeid,
//   LE32 uid, LE32 gid, LE32 pid, LE16 total_extlen, LE16 padding;
//   then the opcode's body (fuse_read_in, a NUL-terminated name, …).
// Layout of a reply, written with one writev(2):
//   fuse_out_header (16 bytes): LE32 len (header included), LE32 error (0 or a
//   negative errno), LE64 unique of the request; then the body on success.
// The structs written here (offsets in bytes):
//   fuse_attr (88): ino 0, size 8, blocks 16, atime 24, mtime 32, ctime 40,
//     atimensec 48, mtimensec 52, ctimensec 56, mode 60, nlink 64, uid 68,
//     gid 72, rdev 76, blksize 80, flags 84
//   fuse_entry_out (128): nodeid 0, generation 8, entry_valid 16, attr_valid 24,
//     entry_valid_nsec 32, attr_valid_nsec 36, attr 40
//   fuse_attr_out (104): attr_valid 0, attr_valid_nsec 8, dummy 12, attr 16
//   fuse_open_out (16): fh 0, open_flags 8, padding 12
//   fuse_init_out (64): major 0, minor 4, max_readahead 8, flags 12,
//     max_background 16 (LE16), congestion_threshold 18 (LE16), max_write 20,
//     time_gran 24, max_pages 28 (LE16), map_alignment 30 (LE16), flags2 32
//   fuse_kstatfs (80): blocks 0, bfree 8, bavail 16, files 24, ffree 32,
//     bsize 40, namelen 44, frsize 48, padding 52, spare[6] 56
//   fuse_getxattr_out (8): size 0, padding 4
//   fuse_dirent (24 + name, padded to 8): ino 0, off 8, namelen 16, type 20, name 24
//   fuse_ioctl_out (16, then the out data): result 0, flags 4, in_iovs 8, out_iovs 12
// Times are LE64 seconds (signed in the kernel's eyes) plus LE32 nanoseconds.

export const FUSE_KERNEL_VERSION = 7;
/** the protocol minor this server speaks (the kernel uses min(its own, this)) */
export const FUSE_KERNEL_MINOR_VERSION = 38;
export const FUSE_ROOT_ID = 1;
export const FUSE_IN_HEADER_SIZE = 40;
export const FUSE_OUT_HEADER_SIZE = 16;
export const FUSE_ATTR_SIZE = 88;
export const FUSE_MIN_READ_BUFFER = 8192;

export const FUSE_LOOKUP = 1;
export const FUSE_FORGET = 2;
export const FUSE_GETATTR = 3;
export const FUSE_SETATTR = 4;
export const FUSE_READLINK = 5;
export const FUSE_SYMLINK = 6;
export const FUSE_MKNOD = 8;
export const FUSE_MKDIR = 9;
export const FUSE_UNLINK = 10;
export const FUSE_RMDIR = 11;
export const FUSE_RENAME = 12;
export const FUSE_LINK = 13;
export const FUSE_OPEN = 14;
export const FUSE_READ = 15;
export const FUSE_WRITE = 16;
export const FUSE_STATFS = 17;
export const FUSE_RELEASE = 18;
export const FUSE_FSYNC = 20;
export const FUSE_SETXATTR = 21;
export const FUSE_GETXATTR = 22;
export const FUSE_LISTXATTR = 23;
export const FUSE_REMOVEXATTR = 24;
export const FUSE_FLUSH = 25;
export const FUSE_INIT = 26;
export const FUSE_OPENDIR = 27;
export const FUSE_READDIR = 28;
export const FUSE_RELEASEDIR = 29;
export const FUSE_FSYNCDIR = 30;
export const FUSE_ACCESS = 34;
export const FUSE_CREATE = 35;
export const FUSE_INTERRUPT = 36;
export const FUSE_DESTROY = 38;
export const FUSE_IOCTL = 39;
export const FUSE_BATCH_FORGET = 42;
export const FUSE_FALLOCATE = 43;
export const FUSE_RENAME2 = 45;
export const FUSE_COPY_FILE_RANGE = 47;
export const FUSE_TMPFILE = 51;

const OPCODE_NAMES = new Map<number, string>([
  [FUSE_LOOKUP, 'FUSE_LOOKUP'], [FUSE_FORGET, 'FUSE_FORGET'], [FUSE_GETATTR, 'FUSE_GETATTR'],
  [FUSE_SETATTR, 'FUSE_SETATTR'], [FUSE_READLINK, 'FUSE_READLINK'], [FUSE_SYMLINK, 'FUSE_SYMLINK'],
  [FUSE_MKNOD, 'FUSE_MKNOD'], [FUSE_MKDIR, 'FUSE_MKDIR'], [FUSE_UNLINK, 'FUSE_UNLINK'],
  [FUSE_RMDIR, 'FUSE_RMDIR'], [FUSE_RENAME, 'FUSE_RENAME'], [FUSE_LINK, 'FUSE_LINK'],
  [FUSE_OPEN, 'FUSE_OPEN'], [FUSE_READ, 'FUSE_READ'], [FUSE_WRITE, 'FUSE_WRITE'],
  [FUSE_STATFS, 'FUSE_STATFS'], [FUSE_RELEASE, 'FUSE_RELEASE'], [FUSE_FSYNC, 'FUSE_FSYNC'],
  [FUSE_SETXATTR, 'FUSE_SETXATTR'], [FUSE_GETXATTR, 'FUSE_GETXATTR'], [FUSE_LISTXATTR, 'FUSE_LISTXATTR'],
  [FUSE_REMOVEXATTR, 'FUSE_REMOVEXATTR'], [FUSE_FLUSH, 'FUSE_FLUSH'], [FUSE_INIT, 'FUSE_INIT'],
  [FUSE_OPENDIR, 'FUSE_OPENDIR'], [FUSE_READDIR, 'FUSE_READDIR'], [FUSE_RELEASEDIR, 'FUSE_RELEASEDIR'],
  [FUSE_FSYNCDIR, 'FUSE_FSYNCDIR'], [FUSE_ACCESS, 'FUSE_ACCESS'], [FUSE_CREATE, 'FUSE_CREATE'],
  [FUSE_INTERRUPT, 'FUSE_INTERRUPT'], [FUSE_DESTROY, 'FUSE_DESTROY'], [FUSE_IOCTL, 'FUSE_IOCTL'],
  [FUSE_BATCH_FORGET, 'FUSE_BATCH_FORGET'], [FUSE_FALLOCATE, 'FUSE_FALLOCATE'], [FUSE_RENAME2, 'FUSE_RENAME2'],
  [FUSE_COPY_FILE_RANGE, 'FUSE_COPY_FILE_RANGE'], [FUSE_TMPFILE, 'FUSE_TMPFILE'],
]);

/** "FUSE_LOOKUP", or the number of an opcode this file does not name. */
export const opcodeName = (opcode: number) => OPCODE_NAMES.get(opcode) ?? `opcode ${opcode}`;

/** Requests that would change the tree: a read-only file system answers EROFS. */
export const WRITE_OPCODES: ReadonlySet<number> = new Set([
  FUSE_SETATTR, FUSE_SYMLINK, FUSE_MKNOD, FUSE_MKDIR, FUSE_UNLINK, FUSE_RMDIR, FUSE_RENAME, FUSE_LINK,
  FUSE_WRITE, FUSE_SETXATTR, FUSE_REMOVEXATTR, FUSE_CREATE, FUSE_FALLOCATE, FUSE_RENAME2,
  FUSE_COPY_FILE_RANGE, FUSE_TMPFILE,
]);

// INIT flags (fuse_init_in.flags / fuse_init_out.flags)
export const FUSE_ASYNC_READ = 1 << 0;
export const FUSE_PARALLEL_DIROPS = 1 << 18;
export const FUSE_POSIX_ACL = 1 << 20;
export const FUSE_MAX_PAGES = 1 << 22;
export const FUSE_CACHE_SYMLINKS = 1 << 23;

// fuse_open_out.open_flags
export const FOPEN_KEEP_CACHE = 1 << 1;
export const FOPEN_CACHE_DIR = 1 << 3;

// fuse_ioctl_in.flags
export const FUSE_IOCTL_COMPAT = 1 << 0;
export const FUSE_IOCTL_DIR = 1 << 4;

export const errno = {
  ENOENT: 2,
  EIO: 5,
  EBADF: 9,
  EACCES: 13,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ENOTTY: 25,
  EROFS: 30,
  ERANGE: 34,
  ENOSYS: 38,
  ENODATA: 61,
  EPROTO: 71,
  ESTALE: 116,
} as const;

/** A request's header and body (a view of the bytes the device returned). */
export interface FuseRequest {
  opcode: number;
  unique: bigint;
  nodeid: number;
  uid: number;
  gid: number;
  pid: number;
  body: Buffer;
}

export function parseRequest(b: Buffer): FuseRequest {
  if (b.length < FUSE_IN_HEADER_SIZE) throw new Error(`FUSE request of ${b.length} bytes is shorter than its header`);
  const len = b.readUInt32LE(0);
  if (len !== b.length) throw new Error(`FUSE request says ${len} bytes, the device returned ${b.length}`);
  return {
    opcode: b.readUInt32LE(4),
    unique: b.readBigUInt64LE(8),
    nodeid: Number(b.readBigUInt64LE(16)),
    uid: b.readUInt32LE(24),
    gid: b.readUInt32LE(28),
    pid: b.readUInt32LE(32),
    body: b.subarray(FUSE_IN_HEADER_SIZE),
  };
}

/** The NUL-terminated name at the start of `b` (LOOKUP, GETXATTR after its struct). */
export function cString(b: Buffer): Buffer {
  const nul = b.indexOf(0);
  return nul < 0 ? b : b.subarray(0, nul);
}

export function outHeader(unique: bigint, bodyLength: number, error = 0): Buffer {
  const h = Buffer.allocUnsafe(FUSE_OUT_HEADER_SIZE);
  h.writeUInt32LE(FUSE_OUT_HEADER_SIZE + bodyLength, 0);
  h.writeInt32LE(error === 0 ? 0 : -error, 4);
  h.writeBigUInt64LE(unique, 8);
  return h;
}

/** What a fuse_attr says about one node. */
export interface FuseAttr {
  ino: number;
  size: number;
  /** st_mtim as signed nanoseconds since the epoch (also used for atime and ctime) */
  mtimeNs: bigint;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  /** the kernel's new_encode_dev() form */
  rdev: number;
}

const NS = 1_000_000_000n;

export function writeAttr(b: Buffer, at: number, a: FuseAttr): void {
  b.writeBigUInt64LE(BigInt(a.ino), at);
  b.writeBigUInt64LE(BigInt(a.size), at + 8);
  b.writeBigUInt64LE(BigInt(Math.ceil(a.size / 512)), at + 16);
  // Floor division, so that times before 1970 keep a non-negative nanosecond part.
  let sec = a.mtimeNs / NS;
  let nsec = a.mtimeNs % NS;
  if (nsec < 0n) {
    nsec += NS;
    sec -= 1n;
  }
  for (const o of [24, 32, 40]) b.writeBigInt64LE(sec, at + o);
  for (const o of [48, 52, 56]) b.writeUInt32LE(Number(nsec), at + o);
  b.writeUInt32LE(a.mode >>> 0, at + 60);
  b.writeUInt32LE(a.nlink, at + 64);
  b.writeUInt32LE(a.uid >>> 0, at + 68);
  b.writeUInt32LE(a.gid >>> 0, at + 72);
  b.writeUInt32LE(a.rdev >>> 0, at + 76);
  b.writeUInt32LE(4096, at + 80);
  b.writeUInt32LE(0, at + 84);
}

/** fuse_entry_out; nodeid 0 is a cached negative entry. */
export function entryOut(nodeid: number, attr: FuseAttr | null, validSeconds: number): Buffer {
  const b = Buffer.alloc(40 + FUSE_ATTR_SIZE);
  b.writeBigUInt64LE(BigInt(nodeid), 0);
  b.writeBigUInt64LE(BigInt(validSeconds), 16);
  b.writeBigUInt64LE(BigInt(validSeconds), 24);
  if (attr) writeAttr(b, 40, attr);
  return b;
}

export function attrOut(attr: FuseAttr, validSeconds: number): Buffer {
  const b = Buffer.alloc(16 + FUSE_ATTR_SIZE);
  b.writeBigUInt64LE(BigInt(validSeconds), 0);
  writeAttr(b, 16, attr);
  return b;
}

export function openOut(fh: number, openFlags: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeBigUInt64LE(BigInt(fh), 0);
  b.writeUInt32LE(openFlags, 8);
  return b;
}

export interface InitIn {
  major: number;
  minor: number;
  maxReadahead: number;
  flags: number;
}

export function parseInitIn(b: Buffer): InitIn {
  if (b.length < 16) throw new Error(`FUSE_INIT body of ${b.length} bytes`);
  return { major: b.readUInt32LE(0), minor: b.readUInt32LE(4), maxReadahead: b.readUInt32LE(8), flags: b.readUInt32LE(12) };
}

export interface InitOut {
  major: number;
  minor: number;
  maxReadahead: number;
  flags: number;
  maxBackground: number;
  congestionThreshold: number;
  maxWrite: number;
  timeGran: number;
  maxPages: number;
}

export function initOut(o: InitOut): Buffer {
  const b = Buffer.alloc(64);
  b.writeUInt32LE(o.major, 0);
  b.writeUInt32LE(o.minor, 4);
  b.writeUInt32LE(o.maxReadahead, 8);
  b.writeUInt32LE(o.flags >>> 0, 12);
  b.writeUInt16LE(o.maxBackground, 16);
  b.writeUInt16LE(o.congestionThreshold, 18);
  b.writeUInt32LE(o.maxWrite, 20);
  b.writeUInt32LE(o.timeGran, 24);
  b.writeUInt16LE(o.maxPages, 28);
  return b;
}

export interface StatfsOut {
  blocks: number;
  files: number;
  bsize: number;
  namelen: number;
}

export function statfsOut(s: StatfsOut): Buffer {
  const b = Buffer.alloc(80);
  b.writeBigUInt64LE(BigInt(s.blocks), 0);
  b.writeBigUInt64LE(BigInt(s.files), 24);
  b.writeUInt32LE(s.bsize, 40);
  b.writeUInt32LE(s.namelen, 44);
  b.writeUInt32LE(s.bsize, 48);
  return b;
}

export function getxattrOut(size: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(size, 0);
  return b;
}

export function ioctlOut(result: number, data: Uint8Array): Buffer {
  const b = Buffer.alloc(16 + data.length);
  b.writeInt32LE(result, 0);
  b.set(data, 16);
  return b;
}

/** The size of a fuse_dirent holding a name of `namelen` bytes. */
export const direntSize = (namelen: number) => (24 + namelen + 7) & ~7;

/** Writes a fuse_dirent at `at`; returns the offset after it. */
export function writeDirent(b: Buffer, at: number, ino: number, off: number, type: number, name: Uint8Array): number {
  b.writeBigUInt64LE(BigInt(ino), at);
  b.writeBigUInt64LE(BigInt(off), at + 8);
  b.writeUInt32LE(name.length, at + 16);
  b.writeUInt32LE(type, at + 20);
  b.set(name, at + 24);
  const end = at + direntSize(name.length);
  b.fill(0, at + 24 + name.length, end);
  return end;
}

/** The kernel's new_encode_dev(): 12-bit major, 20-bit minor in one 32-bit word. */
export const encodeDev = (major: number, minor: number) =>
  ((minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12)) >>> 0;
