// A batch of small extracted files for a worker thread, packed into typed arrays
// so that posting it costs a copy of bytes rather than a structured clone of
// thousands of objects (that clone cost more than writing the files).  Per file:
// a row of FIELDS numbers, its name in `names`, its content in `data`; metadata
// beyond the common fields (user and group names, xattrs, ACLs, capabilities,
// SELinux label, project id) travels as a sparse list of objects.

import { basicNode, type CatarNode } from '../../../format/catar-node.ts';

const F = {
  dirfd: 0,
  mode: 1,
  uid: 2,
  gid: 3,
  mtimeHi: 4,
  mtimeLo: 5,
  flagsHi: 6,
  flagsLo: 7,
  size: 8,
  data: 9,
  name: 10,
  nameLen: 11,
  bits: 12,
  ownerUid: 13,
  ownerGid: 14,
  dir: 15,
} as const;
const FIELDS = 16;
const CREATED = 1;
const INHERITS_NOTHING = 2;
const DIR_CREATED = 4;
const HAS_OWNER = 8;
const U32 = 0x100000000n;

/** A file as the worker sees it (its temporary name is the worker's to choose). */
export interface BatchFile {
  dirfd: number;
  name: Uint8Array;
  node: CatarNode;
  fresh: { created: boolean; inheritsNothing: boolean; owner?: { uid: number; gid: number } | null };
  dirCreated: boolean;
  /** the directory's path, for messages */
  dirPath: string;
  data: Uint8Array;
}

export interface PackedFiles {
  count: number;
  meta: Float64Array;
  names: Uint8Array;
  data: Uint8Array;
  dirPaths: string[];
  /** metadata beyond the packed fields, by file number */
  extras: [number, Partial<CatarNode>][];
}

/** Fills a batch as files are decoded: metadata first, then content pieces. */
export class FileBatchBuilder {
  // Unzeroed (only written bytes are sent) and handed to the worker whole, so a
  // batch's bytes are copied once, into it.  Small to start: a batch often ends
  // with its directory after a few files.
  private meta = new Float64Array(8 * FIELDS);
  private names = unzeroed(512);
  private data = unzeroed(64 << 10);
  private dirPaths: string[] = [];
  private dirIndex = new Map<string, number>();
  private extras: [number, Partial<CatarNode>][] = [];
  private namesUsed = 0;
  count = 0;
  bytes = 0;

  /** Adds a file whose content follows through append(). */
  add(f: Omit<BatchFile, 'data'>): void {
    if ((this.count + 1) * FIELDS > this.meta.length) this.meta = grow(this.meta, (this.count + 1) * FIELDS);
    if (this.namesUsed + f.name.length > this.names.length) this.names = grow(this.names, this.namesUsed + f.name.length);
    let dir = this.dirIndex.get(f.dirPath);
    if (dir === undefined) this.dirIndex.set(f.dirPath, (dir = this.dirPaths.push(f.dirPath) - 1));
    const node = f.node;
    const m = this.meta;
    const row = this.count * FIELDS;
    m[row + F.dirfd] = f.dirfd;
    m[row + F.mode] = node.mode;
    m[row + F.uid] = node.uid;
    m[row + F.gid] = node.gid;
    m[row + F.mtimeHi] = Number(node.mtimeNs / U32);
    m[row + F.mtimeLo] = Number(node.mtimeNs % U32);
    m[row + F.flagsHi] = Number(node.flags / U32);
    m[row + F.flagsLo] = Number(node.flags % U32);
    m[row + F.size] = node.size ?? 0;
    m[row + F.data] = this.bytes;
    m[row + F.name] = this.namesUsed;
    m[row + F.nameLen] = f.name.length;
    m[row + F.bits] =
      (f.fresh.created ? CREATED : 0) |
      (f.fresh.inheritsNothing ? INHERITS_NOTHING : 0) |
      (f.dirCreated ? DIR_CREATED : 0) |
      (f.fresh.owner ? HAS_OWNER : 0);
    m[row + F.ownerUid] = f.fresh.owner?.uid ?? 0;
    m[row + F.ownerGid] = f.fresh.owner?.gid ?? 0;
    m[row + F.dir] = dir;
    this.names.set(f.name, this.namesUsed);
    this.namesUsed += f.name.length;
    if (node.userName || node.groupName || node.xattrs.length || node.acl || node.fcaps || node.selinux || node.projid) {
      const { userName, groupName, xattrs, acl, fcaps, selinux, projid } = node;
      this.extras.push([this.count, { userName, groupName, xattrs, acl, fcaps, selinux, projid }]);
    }
    this.count++;
  }

  /** Content of the file added last. */
  append(bytes: Uint8Array): void {
    if (this.bytes + bytes.length > this.data.length) this.data = grow(this.data, this.bytes + bytes.length);
    this.data.set(bytes, this.bytes);
    this.bytes += bytes.length;
  }

  /** The batch, and the buffers to transfer with it; the builder is not used again. */
  seal(): { files: PackedFiles; transfer: ArrayBuffer[] } {
    const files = {
      count: this.count,
      meta: this.meta.subarray(0, this.count * FIELDS),
      names: this.names.subarray(0, this.namesUsed),
      data: this.data.subarray(0, this.bytes),
      dirPaths: this.dirPaths,
      extras: this.extras,
    };
    return { files, transfer: [this.meta.buffer, this.names.buffer, this.data.buffer] as ArrayBuffer[] };
  }
}

/** Bytes of their own ArrayBuffer (transferable, unlike Buffer's pool), not zeroed. */
const unzeroed = (n: number) => new Uint8Array(Buffer.allocUnsafeSlow(n).buffer, 0, n);

function grow<T extends Float64Array | Uint8Array>(a: T, need: number): T {
  const n = Math.max(need, 4 * a.length);
  const bigger = (a instanceof Float64Array ? new Float64Array(n) : unzeroed(n)) as T;
  bigger.set(a);
  return bigger;
}

export function* unpackFiles(p: PackedFiles): Generator<BatchFile> {
  const extras = new Map(p.extras);
  for (let i = 0; i < p.count; i++) {
    const row = i * FIELDS;
    const m = (field: number) => p.meta[row + field];
    const bits = m(F.bits);
    const nameAt = m(F.name);
    const nameLen = m(F.nameLen);
    const dataAt = m(F.data);
    const size = m(F.size);
    const node: CatarNode = {
      ...basicNode(
        m(F.mode), m(F.uid), m(F.gid),
        BigInt(m(F.mtimeHi)) * U32 + BigInt(m(F.mtimeLo)),
        BigInt(m(F.flagsHi)) * U32 + BigInt(m(F.flagsLo)),
      ),
      size,
      ...extras.get(i),
    };
    yield {
      dirfd: m(F.dirfd),
      name: p.names.subarray(nameAt, nameAt + nameLen),
      node,
      fresh: {
        created: !!(bits & CREATED),
        inheritsNothing: !!(bits & INHERITS_NOTHING),
        owner: bits & HAS_OWNER ? { uid: m(F.ownerUid), gid: m(F.ownerGid) } : null,
      },
      dirCreated: !!(bits & DIR_CREATED),
      dirPath: p.dirPaths[m(F.dir)],
      data: p.data.subarray(dataAt, dataAt + size),
    };
  }
}
