// Host side of the catar encoder (casync-format.md §4): hands each node's
// metadata to the wasm core (assembly/catar-encoder.ts), which applies the
// feature flags and writes casync's records, and returns those records.
//
// Layout of the archive it produces: the root directory's ENTRY and metadata,
// then for every child FILENAME + the child's records (a directory's children
// recursively, closed by its GOODBYE), then the root's GOODBYE.  Regular files
// end with a PAYLOAD header; the caller streams exactly node.size content bytes
// after it and reports them with payloadDone().
//
// The caller walks the tree: node(root), then per child filename(name) and
// node(child), endDirectory() after a directory's last child.  Which children
// exist (exclusions, nodump, submounts) and their strcmp order are the caller's
// business; the encoder refuses names out of order and node types the flags do
// not archive.  A refused call leaves the encoder as it was.
//
// The records come back as copies, or, made with `lend`, as a view of the
// core's memory valid until the next call: a caller that copies them at once
// (catar-output.ts) saves an ArrayBuffer per record, about a microsecond
// each, some 0.1 s of a second make of a large tree.

import { ACL_DEFAULT_GROUP, ACL_DEFAULT_USER, ACL_GROUP, ACL_USER } from '../generated/core-constants.ts';
import { instantiateCore } from '../wasm/core.ts';
import type { CatarAclEntry, CatarNode } from './catar-node.ts';
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK } from './catar-node.ts';
import { encoderError, type EncoderCore, type ErrorContext } from './catar-encoder-errors.ts';
import {
  CA_FORMAT_WITH_DEVICE_NODES,
  CA_FORMAT_WITH_FIFOS,
  CA_FORMAT_WITH_SOCKETS,
  CA_FORMAT_WITH_SYMLINKS,
  featureFlagsProblem,
} from './feature-flags.ts';
import { usageError } from '../errors.ts';

const utf8 = new TextEncoder();

export class CatarEncoder {
  private readonly core: EncoderCore;
  /** user and group names as UTF-8 (a tree has few) */
  private readonly names = new Map<string, Uint8Array>();
  /** the core's memory; made again only once it grew (the old buffer is then detached, of length 0) */
  private mem: Uint8Array;

  /**
   * `featureFlags`: normalized flags (src/format/feature-flags.ts), written into
   * every ENTRY; `lend`: records as views (see the header).
   */
  constructor(
    readonly featureFlags: bigint,
    private readonly lend = false,
  ) {
    const problem = featureFlagsProblem(featureFlags);
    if (problem) throw usageError(`catar encoder: ${problem}`);
    this.core = instantiateCore() as unknown as EncoderCore;
    this.mem = new Uint8Array(this.core.memory.buffer);
    this.check(this.core.encoderInit(featureFlags), 'init');
  }

  private name(s: string): Uint8Array {
    let b = this.names.get(s);
    if (!b) {
      if (this.names.size > 4096) this.names.clear();
      this.names.set(s, (b = utf8.encode(s)));
    }
    return b;
  }

  /** Whether a node of this st_mode is archived at all under the flags (symlinks, devices, FIFOs, sockets need their with-bit). */
  static archives(featureFlags: bigint, mode: number): boolean {
    switch (mode & S_IFMT) {
      case S_IFREG:
      case S_IFDIR:
        return true;
      case S_IFLNK:
        return (featureFlags & CA_FORMAT_WITH_SYMLINKS) !== 0n;
      case S_IFBLK:
      case S_IFCHR:
        return (featureFlags & CA_FORMAT_WITH_DEVICE_NODES) !== 0n;
      case S_IFIFO:
        return (featureFlags & CA_FORMAT_WITH_FIFOS) !== 0n;
      case S_IFSOCK:
        return (featureFlags & CA_FORMAT_WITH_SOCKETS) !== 0n;
      default:
        return false;
    }
  }

  /**
   * The records of one node: ENTRY … QUOTA_PROJID, then SYMLINK/DEVICE body, or
   * the PAYLOAD header (16 bytes; the caller then streams exactly node.size
   * payload bytes itself and calls payloadDone), or for a directory nothing more
   * (it is now the open directory).
   */
  node(node: CatarNode): Uint8Array {
    const c = this.core;
    const mtime = BigInt.asUintN(64, node.mtimeNs);
    this.check(
      c.encoderBegin(u32(node.mode, 'mode'), u32(node.uid, 'uid'), u32(node.gid, 'gid'), mtime, BigInt.asUintN(64, node.flags)),
      'node',
      node,
    );
    if (node.userName !== null) this.check(c.encoderUser(this.put(this.name(node.userName))), 'user name', node);
    if (node.groupName !== null) this.check(c.encoderGroup(this.put(this.name(node.groupName))), 'group name', node);
    for (const x of node.xattrs) {
      this.put(x.name, x.value);
      this.check(c.encoderXattr(x.name.length, x.value.length), 'xattr', undefined, () => ({ name: x.name }));
    }
    if (node.acl) this.acl(node);
    if (node.selinux) this.check(c.encoderSelinux(this.put(node.selinux)), 'SELinux label');
    if (node.fcaps) this.check(c.encoderFcaps(this.put(node.fcaps)), 'file capabilities');
    if (node.projid) this.check(c.encoderProjid(u32(node.projid, 'projid')), 'projid');
    if (node.size !== undefined) {
      if (!Number.isSafeInteger(node.size) || node.size < 0) throw usageError(`catar encoder: bad file size ${node.size}`);
      this.check(c.encoderPayloadSize(BigInt(node.size)), 'size');
    }
    if (node.target) this.check(c.encoderSymlink(this.put(node.target)), 'symlink target');
    if (node.rdev) this.check(c.encoderDevice(u32(node.rdev.major, 'major'), u32(node.rdev.minor, 'minor')), 'device');
    return this.output(this.check(c.encoderEmit(), 'node', node));
  }

  private acl(node: CatarNode): void {
    const acl = node.acl!;
    const c = this.core;
    const entries = (kind: number, list: CatarAclEntry[]) => {
      for (const e of list) {
        const name = e.name === null ? -1 : this.put(utf8.encode(e.name));
        this.check(c.encoderAcl(kind, u32(e.id, 'ACL id'), u32(e.perm, 'ACL permissions'), name), 'ACL entry', undefined, () => ({ aclEntry: e }));
      }
    };
    entries(ACL_USER, acl.user);
    entries(ACL_GROUP, acl.group);
    if (acl.groupObj !== null) this.check(c.encoderAclGroupObj(u32(acl.groupObj, 'ACL permissions')), 'ACL');
    const d = acl.default;
    if (d) {
      const perm = (p: number | null) => (p === null ? -1 : u32(p, 'ACL permissions'));
      this.check(c.encoderAclDefault(perm(d.userObj), perm(d.groupObj), perm(d.other), perm(d.mask)), 'default ACL');
      entries(ACL_DEFAULT_USER, d.user);
      entries(ACL_DEFAULT_GROUP, d.group);
    }
  }

  /** After streaming the payload (in one or several calls): counts the content bytes. */
  payloadDone(bytes: number): void {
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw usageError(`catar encoder: bad payload byte count ${bytes}`);
    const r = this.core.encoderPayloadDone(BigInt(bytes));
    if (r < 0) this.check(r, 'payloadDone', undefined, () => ({ bytes }));
  }

  /**
   * After filename(): the child's whole node (`bytes` of records and content)
   * comes from elsewhere, byte for byte as this encoder wrote it before.
   */
  skipNode(bytes: number): void {
    if (!Number.isSafeInteger(bytes) || bytes <= 0) throw usageError(`catar encoder: bad node size ${bytes}`);
    const r = this.core.encoderSkipNode(BigInt(bytes));
    if (r < 0) this.check(r, 'skipNode', undefined, () => ({ bytes }));
  }

  /**
   * FILENAME record of the next child of the open directory; ends the previous
   * child.  Names must be valid (no '/', no NUL, not '.'/'..', 1..255 bytes) and
   * strictly increasing in strcmp order.
   */
  filename(name: Uint8Array): Uint8Array {
    const r = this.core.encoderFilename(this.put(name));
    if (r < 0) this.check(r, 'filename', undefined, () => ({ name }));
    return this.output(r);
  }

  /** Ends the open directory: its GOODBYE record. */
  endDirectory(): Uint8Array {
    return this.output(this.check(this.core.encoderGoodbye(), 'endDirectory'));
  }

  /** Bytes of archive emitted so far (records + payload reported). */
  get offset(): number {
    return Number(BigInt.asUintN(64, this.core.encoderOffset()));
  }

  /** Copies `a` and `b` into the core's input area; returns the total length. */
  private put(a: Uint8Array, b?: Uint8Array): number {
    const len = a.length + (b ? b.length : 0);
    const ptr = this.core.encoderInput(len);
    const heap = this.heap();
    heap.set(a, ptr);
    if (b) heap.set(b, ptr + a.length);
    return len;
  }

  private output(len: number): Uint8Array {
    const ptr = this.core.encoderOutput();
    const view = this.heap().subarray(ptr, ptr + len);
    return this.lend ? view : view.slice();
  }

  private heap(): Uint8Array {
    if (this.mem.byteLength === 0) this.mem = new Uint8Array(this.core.memory.buffer);
    return this.mem;
  }

  /**
   * `r`, or the error it codes for.  What the message names comes as `op`,
   * `node` and a `more` made only on failure: this runs a few times per node.
   */
  private check(r: number, op: string, node?: CatarNode, more?: () => Partial<ErrorContext>): number {
    if (r >= 0) return r;
    const detail = BigInt.asUintN(64, this.core.encoderDetail());
    throw encoderError(r, detail, { op, node, ...more?.(), flags: this.featureFlags });
  }
}

function u32(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw usageError(`catar encoder: bad ${what} ${v}`);
  return v;
}
