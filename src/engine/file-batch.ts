// A batch of small extracted files for a worker thread, packed into typed arrays
// so that posting it costs a copy of bytes rather than a structured clone of
// thousands of objects (that clone cost more than writing the files).  Per file:
// a row of FIELDS numbers, its name and temporary name in `names`, its content in
// `data`; metadata beyond the common fields (user and group names, xattrs, ACLs,
// capabilities, SELinux label, project id) travels as a sparse list of objects.

import type { CatarNode } from '../format/catar-node.ts';

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
  tmpLen: 12,
  bits: 13,
  ownerUid: 14,
  ownerGid: 15,
  dir: 16,
} as const;
const FIELDS = 17;
const CREATED = 1;
const INHERITS_NOTHING = 2;
const DIR_CREATED = 4;
const HAS_OWNER = 8;
const U32 = 0x100000000n;

export interface BatchFile {
  dirfd: number;
  tmp: Uint8Array;
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

export function packFiles(files: BatchFile[]): PackedFiles {
  const meta = new Float64Array(files.length * FIELDS);
  let nameBytes = 0;
  let dataBytes = 0;
  for (const f of files) {
    nameBytes += f.name.length + f.tmp.length;
    dataBytes += f.data.length;
  }
  const names = new Uint8Array(nameBytes);
  const data = new Uint8Array(dataBytes);
  const dirPaths: string[] = [];
  const dirIndex = new Map<string, number>();
  const extras: [number, Partial<CatarNode>][] = [];
  let n = 0;
  let d = 0;
  files.forEach((f, i) => {
    const row = i * FIELDS;
    const node = f.node;
    let dir = dirIndex.get(f.dirPath);
    if (dir === undefined) dirIndex.set(f.dirPath, (dir = dirPaths.push(f.dirPath) - 1));
    meta[row + F.dirfd] = f.dirfd;
    meta[row + F.mode] = node.mode;
    meta[row + F.uid] = node.uid;
    meta[row + F.gid] = node.gid;
    meta[row + F.mtimeHi] = Number(node.mtimeNs / U32);
    meta[row + F.mtimeLo] = Number(node.mtimeNs % U32);
    meta[row + F.flagsHi] = Number(node.flags / U32);
    meta[row + F.flagsLo] = Number(node.flags % U32);
    meta[row + F.size] = f.data.length;
    meta[row + F.data] = d;
    meta[row + F.name] = n;
    meta[row + F.nameLen] = f.name.length;
    meta[row + F.tmpLen] = f.tmp.length;
    meta[row + F.bits] =
      (f.fresh.created ? CREATED : 0) |
      (f.fresh.inheritsNothing ? INHERITS_NOTHING : 0) |
      (f.dirCreated ? DIR_CREATED : 0) |
      (f.fresh.owner ? HAS_OWNER : 0);
    meta[row + F.ownerUid] = f.fresh.owner?.uid ?? 0;
    meta[row + F.ownerGid] = f.fresh.owner?.gid ?? 0;
    meta[row + F.dir] = dir;
    names.set(f.name, n);
    names.set(f.tmp, n + f.name.length);
    n += f.name.length + f.tmp.length;
    data.set(f.data, d);
    d += f.data.length;
    if (node.userName || node.groupName || node.xattrs.length || node.acl || node.fcaps || node.selinux || node.projid) {
      const { userName, groupName, xattrs, acl, fcaps, selinux, projid } = node;
      extras.push([i, { userName, groupName, xattrs, acl, fcaps, selinux, projid }]);
    }
  });
  return { count: files.length, meta, names, data, dirPaths, extras };
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
      mode: m(F.mode),
      uid: m(F.uid),
      gid: m(F.gid),
      mtimeNs: BigInt(m(F.mtimeHi)) * U32 + BigInt(m(F.mtimeLo)),
      flags: BigInt(m(F.flagsHi)) * U32 + BigInt(m(F.flagsLo)),
      userName: null,
      groupName: null,
      xattrs: [],
      acl: null,
      selinux: null,
      fcaps: null,
      projid: 0,
      size,
      ...extras.get(i),
    };
    yield {
      dirfd: m(F.dirfd),
      name: p.names.subarray(nameAt, nameAt + nameLen),
      tmp: p.names.subarray(nameAt + nameLen, nameAt + nameLen + m(F.tmpLen)),
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
