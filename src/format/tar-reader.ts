// A reader of tar streams (ustar, GNU and pax), one entry at a time, for
// `make X.catar FILE.tar`.  It reads headers and leaves the data to its caller
// (readData, or skipped by the next next()), so a stream of any size passes in
// memory bounded by the largest extended header.
//
// Layout: 512-byte blocks.  Each entry is a header block, then its data padded
// to a whole block.  Header (ustar, POSIX.1-1988; numbers are octal text,
// NUL/space terminated, or GNU base-256 when the first byte has bit 7 set):
//   0   name[100]      100 mode[8]      108 uid[8]       116 gid[8]
//   124 size[12]       136 mtime[12]    148 chksum[8]    156 typeflag[1]
//   157 linkname[100]  257 magic[6]     263 version[2]   265 uname[32]
//   297 gname[32]      329 devmajor[8]  337 devminor[8]  345 prefix[155]
// magic "ustar\0" + "00" is POSIX (the path is prefix/name); "ustar  \0" is GNU,
// whose bytes from 345 hold times, not a prefix.  chksum is the sum of the
// header's bytes with chksum itself read as spaces (signed sums are accepted,
// as GNU tar accepts them).  typeflag: '0'/NUL regular, '7' contiguous
// (regular), '1' hard link, '2' symlink, '3' char device, '4' block device,
// '5' directory, '6' FIFO; extended headers apply to the entry after them:
// 'x' pax records for the next entry, 'g' pax records for all later ones, 'L'
// and 'K' GNU long name and long link (the data is the NUL-terminated path).
// Pax records are "LEN KEY=VALUE\n", LEN counting the whole record; the keys
// read here are path, linkpath, size, mtime (seconds with a fraction to the
// nanosecond), uid, gid, uname, gname, SCHILY.xattr.NAME (raw value),
// LIBARCHIVE.xattr.NAME (bsdtar's: the name URL-encoded, the value base64),
// SCHILY.acl.access / SCHILY.acl.default (acl_to_text form, parsed by the
// caller), RHT.security.selinux (tar --selinux); an empty value removes a key
// (but an xattr may be empty).  Data follows the header for regular files and,
// skipped, for directories ('5', 'D') and hard links (pax allows them data);
// symlinks, devices and FIFOs have none.  The archive ends with a zero block
// (two, but the first ends reading); the end of the input before it is a
// truncated archive.  Sparse files ('S', GNU.sparse.*) are read as
// tar-sparse.ts says; multi-volume entries ('M', 'V') are refused.  Field
// encodings and the path check are in tar-fields.ts.
//
// Paths are checked here: no absolute paths, no '..', components of at most
// 255 bytes; '.' and empty components are dropped, so "./a//b/" is a/b and
// "./" the top directory.  Every error names the entry and the byte offset of
// its first header.  (h4's tar writer has its own copy of the few constants.)

import { formatError, unsupported } from '../errors.ts';
import { concat, cString, latin1, parseNumber, parseOctal, parsePax, parseTime, pathNames } from './tar-fields.ts';
import { gnuSparseExtended, gnuSparseMap, paxSparseMap, SparseMapParser, sparseProblem, type SparseRegion } from './tar-sparse.ts';
import {
  CA_FORMAT_WITH_32BIT_UIDS, CA_FORMAT_WITH_ACL, CA_FORMAT_WITH_DEVICE_NODES, CA_FORMAT_WITH_FCAPS, CA_FORMAT_WITH_FIFOS,
  CA_FORMAT_WITH_NSEC_TIME, CA_FORMAT_WITH_PERMISSIONS, CA_FORMAT_WITH_SELINUX, CA_FORMAT_WITH_SYMLINKS,
  CA_FORMAT_WITH_USER_NAMES, CA_FORMAT_WITH_XATTRS,
} from './feature-flags.ts';

export const TAR_BLOCK = 512;
/** an extended header (pax records, a GNU long name) larger than this is refused */
export const TAR_EXTENDED_MAX = 8 << 20;

/**
 * The metadata a tar can carry, the default "with" set of an archive made from
 * one: owners (32-bit ids) and their names, permissions, nanosecond times (pax;
 * GNU and ustar headers have whole seconds), symlinks, device nodes, FIFOs,
 * xattrs, ACLs, SELinux labels and file capabilities (as xattrs).  Not sockets
 * (tar leaves them out), chattr or FAT attributes, subvolumes or project ids.
 */
export const TAR_FEATURE_FLAGS =
  CA_FORMAT_WITH_32BIT_UIDS | CA_FORMAT_WITH_USER_NAMES | CA_FORMAT_WITH_NSEC_TIME | CA_FORMAT_WITH_PERMISSIONS |
  CA_FORMAT_WITH_SYMLINKS | CA_FORMAT_WITH_DEVICE_NODES | CA_FORMAT_WITH_FIFOS | CA_FORMAT_WITH_XATTRS |
  CA_FORMAT_WITH_ACL | CA_FORMAT_WITH_SELINUX | CA_FORMAT_WITH_FCAPS;

export type TarEntryType = 'file' | 'hardlink' | 'symlink' | 'chardev' | 'blockdev' | 'directory' | 'fifo';

export interface TarEntry {
  /** byte offset of the entry's first header (its extended headers included) */
  offset: number;
  /** the path as the archive spells it, for messages */
  path: string;
  /** its components ('.' and empty ones dropped; views of one buffer, in order); none for the top directory */
  names: Uint8Array[];
  type: TarEntryType;
  /** the permission bits (07777) */
  mode: number;
  uid: number;
  gid: number;
  /** the owner's names as the archive records them, or null */
  uname: string | null;
  gname: string | null;
  mtimeNs: bigint;
  /** the file's size (regular files; 0 for links, devices, FIFOs) */
  size: number;
  /** stream offset of the first data byte */
  dataOffset: number;
  /** bytes stored there: `size`, or for a sparse file the sum of its regions */
  storedSize: number;
  /** a sparse file's data regions (stored back to back), else null */
  sparse: SparseRegion[] | null;
  /** symlink target, or (hard link) the components of the entry linked to */
  linkTarget: Uint8Array | null;
  linkNames: Uint8Array[] | null;
  devMajor: number;
  devMinor: number;
  /** SCHILY.xattr.* (and RHT.security.selinux), in archive order */
  xattrs: { name: string; value: Uint8Array }[];
  aclAccess: string | null;
  aclDefault: string | null;
}

/** Where the tar bytes come from. */
export interface TarByteSource {
  /** the next n bytes; fewer only where the input ends */
  read(n: number): Promise<Uint8Array>;
  /** passes over n bytes; returns how many there were (fewer only at the end) */
  skip(n: number): Promise<number>;
}

/** pax 1.0's map, read after the header */
const PENDING: SparseRegion[] = [];

const TYPES: Record<string, TarEntryType> = {
  '0': 'file', '\0': 'file', '7': 'file', '1': 'hardlink', '2': 'symlink',
  '3': 'chardev', '4': 'blockdev', '5': 'directory', 'D': 'directory', '6': 'fifo',
};
const utf8 = new TextDecoder('utf-8', { fatal: false });
const enc = new TextEncoder();

/** Adds `records` to `into`: several headers (or global ones over time) are bounded together as one is. */
function merge(into: Map<string, Uint8Array>, records: Map<string, Uint8Array>, tooBig: () => Error) {
  for (const [k, v] of records) into.set(k, v);
  let size = 0;
  for (const [k, v] of into) size += k.length + v.length;
  if (size > TAR_EXTENDED_MAX) throw tooBig();
}

/** Reads the entries of one tar stream in order. */
export class TarReader {
  private at = 0;
  /** data of the current entry not yet read, and its padding */
  private left = 0;
  private pad = 0;
  private global = new Map<string, Uint8Array>();
  private ended = false;

  /** `file`: what messages call the archive */
  constructor(
    private readonly source: TarByteSource,
    readonly file: string,
  ) {}

  /** The next entry (the rest of the previous one's data skipped), or null after the last. */
  async next(): Promise<TarEntry | null> {
    if (this.ended) return null;
    await this.skipRest();
    const first = this.at;
    const pax = new Map<string, Uint8Array>();
    let longName: Uint8Array | null = null;
    let longLink: Uint8Array | null = null;
    for (;;) {
      const hOff = this.at;
      const h = await this.block(first, longName);
      if (h === null) {
        if (pax.size || longName || longLink) throw formatError(this.file, first, 'the archive ends after an extended header, without its entry');
        this.ended = true;
        return null;
      }
      const flag = String.fromCharCode(h[156]);
      const size = this.number(h, 124, 12, first, 'size');
      if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
        const body = await this.extended(size, first, flag);
        if (flag === 'x') merge(pax, parsePax(body, (why) => formatError(this.file, hOff, `bad pax header: ${why}`)), () => formatError(this.file, first, `pax headers of more than ${TAR_EXTENDED_MAX} bytes for one entry`));
        else if (flag === 'g') merge(this.global, parsePax(body, (why) => formatError(this.file, hOff, `bad pax global header: ${why}`)), () => formatError(this.file, hOff, `pax global headers of more than ${TAR_EXTENDED_MAX} bytes together`));
        else if (flag === 'L') longName = cString(body);
        else longLink = cString(body);
        continue;
      }
      const ext: Uint8Array[] = [];
      for (let more = flag === 'S' && gnuSparseExtended(h, true); more; more = gnuSparseExtended(ext[ext.length - 1], false)) {
        const b = await this.source.read(TAR_BLOCK);
        this.at += b.length;
        if (b.length < TAR_BLOCK) throw this.truncated('inside a sparse map', first);
        if (ext.length * TAR_BLOCK >= TAR_EXTENDED_MAX) throw formatError(this.file, first, `a sparse map of more than ${TAR_EXTENDED_MAX} bytes`);
        ext.push(b);
      }
      const e = this.entry(h, flag, size, first, pax, longName, longLink, ext);
      if (e.sparse === PENDING) await this.sparseMap(e);
      return e;
    }
  }

  /** pax 1.0: the map at the start of the data, in whole blocks. */
  private async sparseMap(e: TarEntry) {
    const parser = new SparseMapParser();
    for (let read = 0; ; read += TAR_BLOCK) {
      if (this.left < TAR_BLOCK || read >= TAR_EXTENDED_MAX) throw formatError(this.file, e.offset, `entry "${e.path}": its sparse map does not end`);
      const r = parser.push(await this.readData(TAR_BLOCK));
      if (r === 'bad') throw formatError(this.file, e.offset, `entry "${e.path}": its sparse map is malformed`);
      if (r) {
        e.sparse = r;
        break;
      }
    }
    e.dataOffset = this.at;
    e.storedSize = this.left;
    const problem = sparseProblem(e.sparse, e.size, e.storedSize);
    if (problem) throw formatError(this.file, e.offset, `entry "${e.path}": ${problem}`);
  }

  /** The next bytes of the current entry's data (at most what is left). */
  async readData(n: number): Promise<Uint8Array> {
    const want = Math.min(n, this.left);
    const b = await this.source.read(want);
    this.at += b.length;
    this.left -= b.length;
    if (b.length < want) throw this.truncated('in the data of an entry');
    return b;
  }

  private async skipRest() {
    const n = this.left + this.pad;
    if (!n) return;
    const got = await this.source.skip(n);
    this.at += got;
    if (got < n) throw this.truncated('in the data of an entry');
    this.left = this.pad = 0;
  }

  /** `at`: where what it ends in began (default: where it ends) */
  private truncated(where: string, at = this.at) {
    return formatError(this.file, at, `truncated archive: the input ends ${where}`);
  }

  /** One header block, checked; null for the end-of-archive zero block. */
  private async block(first: number, name: Uint8Array | null): Promise<Uint8Array | null> {
    const off = this.at;
    const h = await this.source.read(TAR_BLOCK);
    this.at += h.length;
    if (h.length === 0 && off === first && !name) throw this.truncated('without its end-of-archive blocks');
    if (h.length < TAR_BLOCK) throw this.truncated(`inside the header that starts there (${h.length} of ${TAR_BLOCK} bytes${off ? '' : '; not a tar archive?'})`, off);
    if (h.every((x) => x === 0)) return null;
    let unsigned = 0;
    let signed = 0;
    for (let i = 0; i < TAR_BLOCK; i++) {
      const x = i >= 148 && i < 156 ? 0x20 : h[i];
      unsigned += x;
      signed += x > 127 ? x - 256 : x;
    }
    const stored = parseOctal(h.subarray(148, 156));
    if (stored !== unsigned && stored !== signed) {
      const what = name ? utf8.decode(name) : utf8.decode(cString(h.subarray(0, 100)));
      throw formatError(this.file, off, `entry "${what}": bad header checksum (${stored ?? 'unreadable'}, computed ${unsigned}); not a tar archive, or a damaged one`);
    }
    return h;
  }

  /** The data of an extended header, in memory (bounded by TAR_EXTENDED_MAX). */
  private async extended(size: number, first: number, flag: string): Promise<Uint8Array> {
    if (size > TAR_EXTENDED_MAX) throw formatError(this.file, first, `extended header '${flag}' of ${size} bytes (at most ${TAR_EXTENDED_MAX})`);
    const body = await this.source.read(size);
    this.at += body.length;
    if (body.length < size) throw this.truncated('inside an extended header');
    const pad = (TAR_BLOCK - (size % TAR_BLOCK)) % TAR_BLOCK;
    const got = await this.source.skip(pad);
    this.at += got;
    if (got < pad) throw this.truncated('inside an extended header');
    return body;
  }

  private number(h: Uint8Array, at: number, len: number, first: number, what: string): number {
    const v = parseNumber(h.subarray(at, at + len));
    if (v === null || !Number.isSafeInteger(v)) throw formatError(this.file, first, `bad ${what} field in a header`);
    return v;
  }

  private entry(
    h: Uint8Array, flag: string, size: number, first: number, local: Map<string, Uint8Array>,
    longName: Uint8Array | null, longLink: Uint8Array | null, ext: Uint8Array[],
  ): TarEntry {
    // An empty value removes the key (POSIX), a global one too; but an xattr may be empty.
    const pax = new Map([...this.global, ...local]);
    for (const [k, v] of pax) if (!v.length && !k.startsWith('SCHILY.xattr.')) pax.delete(k);
    const gnu = latin1(h.subarray(257, 265)) === 'ustar  \0';
    const ustar = !gnu && latin1(h.subarray(257, 262)) === 'ustar';
    const sparseName = pax.get('GNU.sparse.name');
    let rawPath = sparseName ?? pax.get('path') ?? longName ?? cString(h.subarray(0, 100));
    if (!sparseName && !pax.has('path') && !longName && ustar && h[345] !== 0) rawPath = concat(cString(h.subarray(345, 500)), enc.encode('/'), rawPath);
    const path = utf8.decode(rawPath);
    const fail = (why: string) => formatError(this.file, first, `entry "${path}": ${why}`);
    // Valid tars this reader cannot take: EUNSUPPORTED, in the same words.
    const refuse = (why: string) => unsupported(`${this.file}: entry "${path}": ${why} (at byte ${first})`);
    if (flag === 'M' || flag === 'V') throw refuse('multi-volume archives are not supported');
    let type = flag === 'S' ? 'file' : TYPES[flag];
    if (flag === '0' && rawPath[rawPath.length - 1] === 0x2f) type = 'directory'; // pre-POSIX directories
    if (!type) throw fail(`unknown entry type '${flag === '\0' ? '\\0' : flag}'`);
    const num = (key: string, at: number, len: number, what: string) => {
      const v = pax.get(key);
      if (v === undefined) return this.number(h, at, len, first, what);
      const s = latin1(v);
      if (!/^[0-9]+$/.test(s) || !Number.isSafeInteger(Number(s))) throw fail(`bad pax ${key} "${s}"`);
      return Number(s);
    };
    const dataSize = num('size', 124, 12, 'size');
    const sparse = this.sparse(h, flag, pax, ext, fail, refuse);
    const names = pathNames(rawPath, fail);
    const linkRaw = pax.get('linkpath') ?? longLink ?? cString(h.subarray(157, 257));
    let mtimeNs: bigint;
    const paxTime = pax.get('mtime');
    if (paxTime !== undefined) {
      const t = parseTime(latin1(paxTime));
      if (t === null) throw fail(`bad pax mtime "${latin1(paxTime)}"`);
      mtimeNs = t;
    } else mtimeNs = BigInt(this.number(h, 136, 12, first, 'mtime')) * 1_000_000_000n;
    const name = (key: string, at: number) => {
      const v = pax.get(key) ?? cString(h.subarray(at, at + 32));
      return v.length ? utf8.decode(v) : null;
    };
    const xattrs: TarEntry['xattrs'] = [];
    for (const [k, v] of pax) {
      if (k.startsWith('SCHILY.xattr.')) xattrs.push({ name: k.slice('SCHILY.xattr.'.length), value: v });
      else if (k === 'RHT.security.selinux') xattrs.push({ name: 'security.selinux', value: v });
      else if (k.startsWith('LIBARCHIVE.xattr.')) {
        // bsdtar's own form (it writes SCHILY's too): the name URL-encoded, the value base64.
        let name: string;
        let value: Uint8Array;
        try {
          name = decodeURIComponent(k.slice('LIBARCHIVE.xattr.'.length));
          const b64 = latin1(v).replace(/=+$/, ''); // bsdtar leaves the padding out
          value = Uint8Array.from(atob(b64.padEnd(Math.ceil(b64.length / 4) * 4, '=')), (c) => c.charCodeAt(0));
        } catch {
          throw fail(`bad pax ${k}`);
        }
        if (!pax.has(`SCHILY.xattr.${name}`)) xattrs.push({ name, value });
      }
    }
    const text = (k: string) => (pax.has(k) ? utf8.decode(pax.get(k)!) : null);
    const hasData = type === 'file' || type === 'directory' || type === 'hardlink';
    const e: TarEntry = {
      offset: first,
      path,
      names,
      type,
      mode: this.number(h, 100, 8, first, 'mode') & 0o7777,
      uid: num('uid', 108, 8, 'uid'),
      gid: num('gid', 116, 8, 'gid'),
      uname: name('uname', 265),
      gname: name('gname', 297),
      mtimeNs,
      size: type !== 'file' ? 0 : sparse ? sparse.realSize : dataSize,
      dataOffset: this.at,
      storedSize: type === 'file' ? dataSize : 0,
      sparse: sparse?.regions ?? null,
      linkTarget: type === 'symlink' || type === 'hardlink' ? linkRaw : null,
      linkNames: type === 'hardlink' ? pathNames(linkRaw, (why) => fail(`its link target "${utf8.decode(linkRaw)}": ${why}`)) : null,
      devMajor: type === 'chardev' || type === 'blockdev' ? this.number(h, 329, 8, first, 'devmajor') : 0,
      devMinor: type === 'chardev' || type === 'blockdev' ? this.number(h, 337, 8, first, 'devminor') : 0,
      xattrs,
      aclAccess: text('SCHILY.acl.access'),
      aclDefault: text('SCHILY.acl.default'),
    };
    if (type === 'symlink' && !linkRaw.length) throw fail('symlink without a target');
    const problem = sparse && sparse.regions !== PENDING ? sparseProblem(sparse.regions, sparse.realSize, dataSize) : null;
    if (problem) throw fail(problem);
    this.left = hasData ? dataSize : 0;
    this.pad = hasData ? (TAR_BLOCK - (dataSize % TAR_BLOCK)) % TAR_BLOCK : 0;
    return e;
  }

  /**
   * A sparse file's map and real size (PENDING: pax 1.0, whose map starts the
   * data), or null for a file that is not sparse.
   */
  private sparse(h: Uint8Array, flag: string, pax: Map<string, Uint8Array>, ext: Uint8Array[], fail: (why: string) => Error, refuse: (why: string) => Error) {
    const text = (k: string) => (pax.has(k) ? latin1(pax.get(k)!) : null);
    const size = (k: string) => {
      const v = text(k);
      if (v === null || !/^[0-9]+$/.test(v) || !Number.isSafeInteger(Number(v))) throw fail(`bad or missing pax ${k}`);
      return Number(v);
    };
    if (flag === 'S') return gnuSparseMap(h, ext);
    if (text('GNU.sparse.major') === '1' && text('GNU.sparse.minor') === '0') return { regions: PENDING, realSize: size('GNU.sparse.realsize') };
    const map = text('GNU.sparse.map');
    if (map !== null) {
      const regions = paxSparseMap(map);
      if (!regions) throw fail('bad pax GNU.sparse.map');
      return { regions, realSize: size('GNU.sparse.size') };
    }
    if ([...pax.keys()].some((k) => k.startsWith('GNU.sparse.'))) throw refuse('this form of sparse file (GNU pax 0.0) is not supported; make the tar with --sparse-version=1.0');
    return null;
  }
}
