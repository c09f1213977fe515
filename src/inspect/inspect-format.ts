// The output lines of `casync list`, `casync mtree` and `casync stat` (casync-format.md
// §6, §7.3), formatted from a neutral description of one archive entry.  Whoever
// decodes the archive fills in an InspectEntry per node, in archive order; nothing
// here reads files.
//
// What casync prints depends on two flag words.  The archive's own flags decide
// which keys exist (the mtree `flags=` list, the digest algorithm); the "replay"
// flags, i.e. the archive's flags cut down by the command line's --with/--without,
// decide whether uids, names, times and attribute bits are shown (see
// replayFeatureFlags).  With no options given the two agree.
//
// Quirks kept on purpose, because they are casync's output:
//   * symlinks, devices, FIFOs and sockets have no attribute bits to read, so every
//     listed `flags=` entry shows as set;
//   * the mtree digest key is named after --digest, whatever the archive used;
//   * uid 0 and gid 0 have no name record but are shown as "root";
//   * `stat` prints a Digest for block devices: that of empty content.

import { WasyncError } from '../errors.ts';
import {
  CA_FORMAT_SUPPORTED_WITH_MASK,
  CA_FORMAT_WITH_16BIT_UIDS,
  CA_FORMAT_WITH_2SEC_TIME,
  CA_FORMAT_WITH_32BIT_UIDS,
  CA_FORMAT_WITH_FLAG_APPEND,
  CA_FORMAT_WITH_FLAG_ARCHIVE,
  CA_FORMAT_WITH_FLAG_HIDDEN,
  CA_FORMAT_WITH_FLAG_IMMUTABLE,
  CA_FORMAT_WITH_FLAG_NODUMP,
  CA_FORMAT_WITH_FLAG_SYSTEM,
  CA_FORMAT_WITH_NSEC_TIME,
  CA_FORMAT_WITH_SEC_TIME,
  CA_FORMAT_WITH_USEC_TIME,
  CA_FORMAT_WITH_USER_NAMES,
  digestOfFlags,
  replayFeatureFlags,
  type DigestName,
} from '../format/feature-flags.ts';
import { combineFeatureFlags } from '../format/feature-flag-names.ts';
import {
  escapeBytes,
  escapePath,
  formatChattrLetters,
  formatFatAttrLetters,
  formatLsMode,
  hex,
  isDirMode,
  isRegMode,
  type Bytes,
} from './inspect-escape.ts';

/** One archive node as list/mtree/stat need it: the ENTRY fields and what follows. */
export interface InspectEntry {
  /** path below the listed root, names joined by '/'; empty (or ".") for the root */
  path: Bytes;
  /** ENTRY mode: file type and permission bits as stored */
  mode: number;
  /** ENTRY flags: CA_FORMAT_WITH_FLAG_* bits of the node's chattr/FAT attributes */
  flags: bigint;
  /** ENTRY uid and gid (casync shows their low 32 bits) */
  uid: number | bigint;
  gid: number | bigint;
  /** ENTRY mtime: nanoseconds since the epoch as stored (unsigned 64-bit) */
  mtimeNs: bigint;
  /** USER and GROUP records, when the node has them */
  userName?: Bytes | null;
  groupName?: Bytes | null;
  /** regular files: payload size */
  size?: number | bigint;
  /** symlinks: the target */
  target?: Bytes;
  /** block and character devices */
  rdev?: { major: number; minor: number };
  /** the QUOTA_PROJID record, when present */
  projid?: number;
  /** XATTR records, in archive order (stat only) */
  xattrs?: readonly { name: Bytes; value: Uint8Array }[];
  /** regular files: digest of the content, in the archive's algorithm (mtree, stat) */
  digest?: Uint8Array;
  /** stat: the hardlink digest (ENTRY through the PAYLOAD/SYMLINK/DEVICE record) */
  hardlinkDigest?: Uint8Array;
  /** stat: archive offset of the node's ENTRY record */
  offset?: number | bigint;
}

export interface InspectOptions {
  /** the archive's feature flags (every ENTRY carries the same) */
  featureFlags: bigint;
  /**
   * The command line's flags before normalization (combineFeatureFlags); casync's
   * decoder masks the archive with them.  Default: what no options give.
   */
  mask?: bigint;
  /** --digest: names the mtree digest key, not the value's algorithm */
  digest?: DigestName;
  /** `stat` times in the process's time zone like casync ('local'), or in UTC */
  timeZone?: 'local' | 'utc';
}

const UIDS = CA_FORMAT_WITH_16BIT_UIDS | CA_FORMAT_WITH_32BIT_UIDS;
const TIMES = CA_FORMAT_WITH_SEC_TIME | CA_FORMAT_WITH_USEC_TIME | CA_FORMAT_WITH_NSEC_TIME | CA_FORMAT_WITH_2SEC_TIME;
const NS = 1_000_000_000n;
const INVALID_ID = 0xffffffff;

// mtree's `flags=` vocabulary, in its order.
const MTREE_FLAGS: readonly (readonly [bigint, string])[] = [
  [CA_FORMAT_WITH_FLAG_HIDDEN, 'hidden'],
  [CA_FORMAT_WITH_FLAG_SYSTEM, 'system'],
  [CA_FORMAT_WITH_FLAG_ARCHIVE, 'archive'],
  [CA_FORMAT_WITH_FLAG_APPEND, 'sappend'],
  [CA_FORMAT_WITH_FLAG_NODUMP, 'nodump'],
  [CA_FORMAT_WITH_FLAG_IMMUTABLE, 'simmutable'],
];
const MTREE_FLAG_BITS = MTREE_FLAGS.reduce((a, [f]) => a | f, 0n);

// Digests of empty content, for block devices in `stat`.
const EMPTY_DIGEST: Record<DigestName, string> = {
  'sha512-256': 'c672b8d1ef56ed28ab87c3622c5114069bdd3ad7b8f9737498d0c01ecef0967a',
  sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
};

const DEFAULT_MASK = combineFeatureFlags({ with: [], without: [] }, CA_FORMAT_SUPPORTED_WITH_MASK);

/** What one entry shows once the flags are applied: casync's ca_decoder_current_* answers. */
interface Shown {
  uid: number | null;
  gid: number | null;
  user: Bytes | null;
  group: Bytes | null;
  mtime: bigint | null;
  /** attribute bits readable for this node (all of them for non-files) */
  attrs: bigint;
}

function shown(e: InspectEntry, o: InspectOptions): Shown {
  const replay = replayFeatureFlags(o.featureFlags, o.mask ?? DEFAULT_MASK);
  const id = (v: number | bigint) => Number(BigInt.asUintN(32, BigInt(v)));
  const uid = id(e.uid);
  const gid = id(e.gid);
  const withIds = (replay & UIDS) !== 0n;
  // The "root" fallback looks at the archive's uid bits, not the masked ones.
  const rootName = (v: number) => ((o.featureFlags & UIDS) !== 0n && v === 0 ? 'root' : null);
  const withNames = (replay & CA_FORMAT_WITH_USER_NAMES) !== 0n;
  const fileOrDir = isRegMode(e.mode) || isDirMode(e.mode);
  return {
    uid: withIds && uid !== INVALID_ID ? uid : null,
    gid: withIds && gid !== INVALID_ID ? gid : null,
    user: withNames ? (e.userName ?? rootName(uid)) : null,
    group: withNames ? (e.groupName ?? rootName(gid)) : null,
    mtime: replay & TIMES ? BigInt.asUintN(64, e.mtimeNs) : null,
    attrs: fileOrDir ? e.flags & replay : -1n,
  };
}

/** One `casync list` line, with its newline. */
export function formatListLine(e: InspectEntry): string {
  return `${formatLsMode(e.mode) ?? '(null)'} ${escapePath(e.path)}\n`;
}

const MTREE_TYPES: Record<number, string> = {
  0o120000: 'link',
  0o040000: 'dir',
  0o100000: 'file',
  0o140000: 'socket',
  0o020000: 'char',
  0o060000: 'block',
  0o010000: 'fifo',
};

/** One `casync mtree` line, with its newline. */
export function formatMtreeLine(e: InspectEntry, o: InspectOptions): string {
  const s = shown(e, o);
  const f: string[] = [escapePath(e.path)];
  const type = MTREE_TYPES[e.mode & 0o170000];
  if (type) f.push(`type=${type}`);
  f.push(`mode=${(e.mode & 0o7777).toString(8).padStart(4, '0')}`);
  if (isRegMode(e.mode)) f.push(`size=${BigInt(e.size ?? 0)}`);
  if (e.target !== undefined && (e.mode & 0o170000) === 0o120000) f.push(`link=${escapeBytes(e.target)}`);
  if (e.rdev) f.push(`device=linux,${e.rdev.major},${e.rdev.minor}`);
  if (s.uid !== null) f.push(`uid=${s.uid}`);
  if (s.gid !== null) f.push(`gid=${s.gid}`);
  if (s.user !== null) f.push(`uname=${escapeBytes(s.user)}`);
  if (s.group !== null) f.push(`gname=${escapeBytes(s.group)}`);
  if (o.featureFlags & MTREE_FLAG_BITS) {
    const list = MTREE_FLAGS.filter(([bit]) => o.featureFlags & bit).map(
      ([bit, name]) => (s.attrs & bit ? name : `no${name}`),
    );
    f.push(`flags=${list.join(',')}`);
  }
  if (s.mtime !== null) f.push(`time=${s.mtime / NS}.${(s.mtime % NS).toString().padStart(9, '0')}`);
  if (isRegMode(e.mode)) {
    if (!e.digest) throw new WasyncError('EFORMAT', `mtree: no content digest for ${escapePath(e.path)}`);
    f.push(`${o.digest === 'sha256' ? 'sha256digest' : 'sha512256digest'}=${hex(e.digest)}`);
  }
  return f.join(' ') + '\n';
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/** strftime("%Y-%m-%d %H:%M:%S") of whole seconds since the epoch. */
function formatSeconds(sec: bigint, zone: 'local' | 'utc'): string {
  const d = new Date(Number(sec) * 1000);
  const [y, mo, da, h, mi, se] =
    zone === 'utc'
      ? [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()]
      : [d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds()];
  return `${y}-${pad2(mo)}-${pad2(da)} ${pad2(h)}:${pad2(mi)}:${pad2(se)}`;
}

/** "name (id)", "id" or "name", as stat shows owners. */
function owner(name: Bytes | null, id: number | null): string {
  if (name !== null && id !== null) return `${escapeBytes(name)} (${id})`;
  return id !== null ? String(id) : escapeBytes(name!);
}

/**
 * The block `casync stat ARCHIVE [PATH]` prints for one entry, every line with its
 * newline.  Directories end after their extended attributes.
 */
export function formatStat(e: InspectEntry, o: InspectOptions): string {
  const s = shown(e, o);
  const lines = [`    File: ${escapePath(e.path)}`, `    Mode: ${formatLsMode(e.mode) ?? 'n/a'}`];
  if (isRegMode(e.mode) || isDirMode(e.mode)) {
    lines.push(`FileAttr: ${formatChattrLetters(s.attrs)}`, ` FATAttr: ${formatFatAttrLetters(s.attrs)}`);
  }
  if (e.offset !== undefined) lines.push(`  Offset: ${BigInt(e.offset)}`);
  if (s.mtime !== null) {
    const when = formatSeconds(s.mtime / NS, o.timeZone ?? 'local');
    lines.push(`    Time: ${when}.${(s.mtime % NS).toString().padStart(9, '0')}`);
  }
  if (isRegMode(e.mode)) lines.push(`    Size: ${BigInt(e.size ?? 0)}`);
  if (s.uid !== null || s.user !== null) lines.push(`    User: ${owner(s.user, s.uid)}`);
  if (s.gid !== null || s.group !== null) lines.push(`   Group: ${owner(s.group, s.gid)}`);
  if (e.projid !== undefined) lines.push(`  ProjID: ${e.projid}`);
  if (e.target !== undefined && (e.mode & 0o170000) === 0o120000) lines.push(`  Target: ${escapeBytes(e.target)}`);
  if (e.rdev) lines.push(`  Device: ${e.rdev.major}:${e.rdev.minor}`);
  for (const x of e.xattrs ?? []) lines.push(`   XAttr: ${escapeBytes(x.name)} → ${escapeBytes(x.value)}`);
  if (!isDirMode(e.mode)) {
    // The decoder digests the payload of files and block devices (which have none).
    const isBlock = (e.mode & 0o170000) === 0o060000;
    if (e.digest) lines.push(`  Digest: ${hex(e.digest)}`);
    else if (isBlock) lines.push(`  Digest: ${EMPTY_DIGEST[digestOfFlags(o.featureFlags)]}`);
    if (e.hardlinkDigest) lines.push(`HLDigest: ${hex(e.hardlinkDigest)}`);
  }
  return lines.map((l) => l + '\n').join('');
}
