// A batch of small extracted files for a worker thread, packed into typed arrays
// over one ArrayBuffer that is transferred to the worker and back, so that
// posting it costs neither a copy of its bytes nor a structured clone of
// thousands of objects (that clone cost more than writing the files).  Not
// shared memory: V8 copies into a SharedArrayBuffer 2-3x slower, and the
// decoding thread copies every small file's bytes in.  Per file:
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

/** Most files, bytes and directories a batch holds (its directories stay open until its job is done); a name is at most 255 bytes. */
export const BATCH_FILES = 512;
export const BATCH_BYTES = 2 << 20;
const BATCH_DIRS = 64;
const META_BYTES = BATCH_FILES * FIELDS * 8;
const NAME_BYTES = BATCH_FILES * 256;

/**
 * The memory one batch is packed into: its rows, names and content.  The
 * extractor keeps a few and reuses each once its job is done (the worker hands
 * the buffer back), so batches cost neither fresh allocations (page faults, and
 * garbage collections that external memory triggers) nor copies when they grow.
 */
export class BatchSpace {
  readonly meta: Float64Array;
  readonly names: Uint8Array;
  readonly data: Uint8Array;
  constructor(readonly buffer = new ArrayBuffer(META_BYTES + NAME_BYTES + BATCH_BYTES)) {
    this.meta = new Float64Array(buffer, 0, BATCH_FILES * FIELDS);
    this.names = new Uint8Array(buffer, META_BYTES, NAME_BYTES);
    this.data = new Uint8Array(buffer, META_BYTES + NAME_BYTES, BATCH_BYTES);
  }
}

/** Fills a batch as files are decoded: metadata first, then content pieces. */
export class FileBatchBuilder {
  private dirPaths: string[] = [];
  private dirIndex = new Map<string, number>();
  private extras: [number, Partial<CatarNode>][] = [];
  private namesUsed = 0;
  count = 0;
  bytes = 0;

  constructor(readonly space: BatchSpace) {}

  /** Whether a file of `size` bytes (at most 1 MiB) named with `nameLength` bytes in directory `dirPath` still fits. */
  fits(size: number, nameLength: number, dirPath: string): boolean {
    return (
      this.count < BATCH_FILES &&
      this.bytes + size <= BATCH_BYTES &&
      this.namesUsed + nameLength <= NAME_BYTES &&
      (this.dirPaths.length < BATCH_DIRS || this.dirIndex.has(dirPath))
    );
  }

  /** Adds a file whose content follows through append(); fits() said it does. */
  add(f: Omit<BatchFile, 'data'>): void {
    let dir = this.dirIndex.get(f.dirPath);
    if (dir === undefined) this.dirIndex.set(f.dirPath, (dir = this.dirPaths.push(f.dirPath) - 1));
    const node = f.node;
    const m = this.space.meta;
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
    this.space.names.set(f.name, this.namesUsed);
    this.namesUsed += f.name.length;
    if (node.userName || node.groupName || node.xattrs.length || node.acl || node.fcaps || node.selinux || node.projid) {
      const { userName, groupName, xattrs, acl, fcaps, selinux, projid } = node;
      this.extras.push([this.count, { userName, groupName, xattrs, acl, fcaps, selinux, projid }]);
    }
    this.count++;
  }

  /** Content of the file added last (within the size fits() was asked about). */
  append(bytes: Uint8Array): void {
    this.space.data.set(bytes, this.bytes);
    this.bytes += bytes.length;
  }

  /** The batch, as views of its space (not to be reused before the job is done); the builder is not used again. */
  seal(): PackedFiles {
    return {
      count: this.count,
      meta: this.space.meta.subarray(0, this.count * FIELDS),
      names: this.space.names.subarray(0, this.namesUsed),
      data: this.space.data.subarray(0, this.bytes),
      dirPaths: this.dirPaths,
      extras: this.extras,
    };
  }
}

/**
 * A file of a batch as the worker writes it.  One object for the whole batch,
 * rewritten for each file: the writer is done with a file before it asks for
 * the next, and keeps nothing of it (a batch of small files would otherwise
 * leave some objects per file for the collector).  Its path is built only for
 * a message.
 */
export class UnpackedFile implements Omit<BatchFile, 'name'> {
  dirfd = -1;
  name: Buffer = EMPTY;
  node: CatarNode = basicNode(0, 0, 0, 0n, 0n);
  readonly fresh: { created: boolean; inheritsNothing: boolean; owner: { uid: number; gid: number } | null } = {
    created: false,
    inheritsNothing: false,
    owner: null,
  };
  readonly owner = { uid: 0, gid: 0 };
  dirCreated = false;
  dirPath = '';
  data: Uint8Array = EMPTY;
  get path(): string {
    return `${this.dirPath}/${this.name}`;
  }
}

const EMPTY = Buffer.alloc(0);

/** The files of a batch, one after the other, in the one UnpackedFile (see there). */
export function* unpackFiles(p: PackedFiles): Generator<UnpackedFile> {
  const extras = new Map(p.extras);
  const meta = p.meta;
  const f = new UnpackedFile();
  for (let i = 0; i < p.count; i++) {
    const row = i * FIELDS;
    const bits = meta[row + F.bits];
    const nameAt = meta[row + F.name];
    const dataAt = meta[row + F.data];
    const size = meta[row + F.size];
    const node = basicNode(
      meta[row + F.mode],
      meta[row + F.uid],
      meta[row + F.gid],
      BigInt(meta[row + F.mtimeHi]) * U32 + BigInt(meta[row + F.mtimeLo]),
      meta[row + F.flagsHi] || meta[row + F.flagsLo] ? BigInt(meta[row + F.flagsHi]) * U32 + BigInt(meta[row + F.flagsLo]) : 0n,
    );
    node.size = size;
    const extra = extras.get(i);
    if (extra) Object.assign(node, extra);
    f.dirfd = meta[row + F.dirfd];
    f.name = Buffer.from(p.names.buffer, p.names.byteOffset + nameAt, meta[row + F.nameLen]);
    f.node = node;
    f.fresh.created = !!(bits & CREATED);
    f.fresh.inheritsNothing = !!(bits & INHERITS_NOTHING);
    if (bits & HAS_OWNER) {
      f.owner.uid = meta[row + F.ownerUid];
      f.owner.gid = meta[row + F.ownerGid];
      f.fresh.owner = f.owner;
    } else f.fresh.owner = null;
    f.dirCreated = !!(bits & DIR_CREATED);
    f.dirPath = p.dirPaths[meta[row + F.dir]];
    f.data = p.data.subarray(dataAt, dataAt + size);
    yield f;
  }
}
