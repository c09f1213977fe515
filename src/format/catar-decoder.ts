// Streaming catar decoder (casync-format.md §4): bytes in, events out.
//
// Layout of the stream it accepts: the root ENTRY at offset 0 (a directory), each
// node's records in §4.3 order, each directory's children as FILENAME + node in
// strcmp order followed by a GOODBYE that must match what was decoded item by
// item, and nothing after the root's GOODBYE.  The parsing and every check live
// in the wasm core (assembly/catar-decoder.ts); this class feeds it through its
// input window, gathers a node's metadata records into a CatarNode and turns
// core errors into WasyncErrors that name the file and the record's offset.
//
// Memory stays bounded by the tree's depth and widest directory: PAYLOAD bytes
// are handed out as views of the core's window, valid until the next call.

import { WasyncError, formatError } from '../errors.ts';
import type { CatarAcl, CatarAclEntry, CatarNode } from './catar-node.ts';
import { S_IFBLK, S_IFCHR, S_IFLNK, S_IFMT, S_IFREG, basicNode } from './catar-node.ts';
import { CA_FORMAT_ACL_PERMISSION_ABSENT } from './catar-constants.ts';
import { type DecoderCore, Ev, errorMessage, instantiateDecoder } from './catar-decoder-wasm.ts';

export type CatarEvent =
  | {
      type: 'node';
      /** archive offset of the node's ENTRY record */
      offset: number;
      /** 0 for the root */
      depth: number;
      /** null for the root */
      name: Uint8Array | null;
      featureFlags: bigint;
      /** mode/uid/gid/flags as stored; mtimeNs is the stored unsigned 64-bit value */
      node: CatarNode;
    }
  | {
      type: 'payload';
      /** a view valid until the next call; copy it to keep it */
      data: Uint8Array;
      /** archive offset of data[0] */
      offset: number;
    }
  | { type: 'payload-end' }
  | { type: 'directory-end'; /** archive offset of its GOODBYE */ offset: number; depth: number }
  | { type: 'end' };

const WINDOW_SIZE = 256 * 1024;
const utf8 = new TextDecoder();

export class CatarDecoder {
  readonly #file: string;
  readonly #core: DecoderCore;
  readonly #window: number;
  readonly #result: number;
  #slots: BigUint64Array | null = null;
  /** the same slots as 32-bit words: a number read from them makes no BigInt (reading #slots makes one per read) */
  #words: Uint32Array | null = null;
  readonly #queue: Uint8Array[] = [];
  #queueOffset = 0;
  #eof = false;
  #eofSent = false;
  /** next() last returned null: the core has consumed everything pushed */
  #starved = false;
  #finished = false;
  #error: WasyncError | null = null;
  #name: Uint8Array | null = null;
  #pending: { offset: number; depth: number; featureFlags: bigint; node: CatarNode } | null = null;

  constructor(file: string, options: { expectFlags?: bigint } = {}) {
    this.#file = file;
    const d = instantiateDecoder(WINDOW_SIZE, options.expectFlags ?? null);
    this.#core = d.core;
    this.#window = d.window;
    this.#result = d.result;
  }

  /** Feeds bytes (any split). */
  push(bytes: Uint8Array): void {
    if (this.#error) throw this.#error;
    if (this.#eof) throw new Error('CatarDecoder.push() after end()');
    if (bytes.length === 0) return;
    this.#queue.push(bytes);
    this.#starved = false;
  }

  /** The next event, or null when more input is needed. */
  next(): CatarEvent | null {
    if (this.#error) throw this.#error;
    try {
      return this.#next();
    } catch (e) {
      this.#error =
        e instanceof WasyncError
          ? e
          : formatError(this.#file, Number(this.#core.decoderOffset()), `catar decoder failed: ${String(e)}`);
      throw this.#error;
    }
  }

  /**
   * Declares the end of input: throws if the archive is incomplete.  Events not
   * yet taken with next() can still be taken; if the input was cut, the next()
   * that reaches the cut throws instead.
   */
  end(): void {
    if (this.#error) throw this.#error;
    this.#eof = true;
    if (this.#starved && !this.#finished) {
      const e = this.next();
      // With nothing left to read, the core can only report the cut.
      if (e) throw new Error(`catar decoder: unexpected ${e.type} event at the end of input`);
    }
  }

  #next(): CatarEvent | null {
    const core = this.#core;
    for (;;) {
      const ev = core.decoderStep();
      const s = this.#view();
      switch (ev) {
        case Ev.More:
          if (this.#feed()) continue;
          if (this.#eof && !this.#eofSent) {
            this.#eofSent = true;
            core.decoderEof();
            continue;
          }
          this.#starved = true;
          return null;
        case Ev.Error:
          throw formatError(this.#file, this.#n(0), errorMessage(core.memory, s));
        case Ev.Filename:
          this.#name = this.#bytes(1);
          continue;
        case Ev.Entry:
          this.#pending = {
            offset: this.#n(0),
            depth: this.#n(7),
            featureFlags: s[1],
            node: basicNode(this.#n(2), this.#n(4), this.#n(5), s[6], s[3]),
          };
          continue;
        case Ev.Node:
          return this.#node(s);
        case Ev.Payload:
          return { type: 'payload', data: new Uint8Array(core.memory.buffer, this.#n(1), this.#n(2)), offset: this.#n(0) };
        case Ev.PayloadEnd:
          return { type: 'payload-end' };
        case Ev.DirectoryEnd:
          return { type: 'directory-end', offset: this.#n(0), depth: this.#n(1) };
        case Ev.End:
          this.#finished = true;
          // Bytes pushed beyond the end are trailing garbage: let the core say so.
          if (this.#feed()) continue;
          return { type: 'end' };
        default:
          this.#metadata(ev, s);
      }
    }
  }

  #node(s: BigUint64Array): CatarEvent {
    const p = this.#pending!;
    const type = p.node.mode & S_IFMT;
    if (type === S_IFREG) p.node.size = this.#n(1);
    else if (type === S_IFLNK) p.node.target = this.#bytes(1);
    else if (type === S_IFBLK || type === S_IFCHR) p.node.rdev = { major: this.#n(1), minor: this.#n(2) };
    const name = this.#name;
    this.#name = null;
    this.#pending = null;
    return { type: 'node', offset: p.offset, depth: p.depth, name, featureFlags: p.featureFlags, node: p.node };
  }

  #metadata(ev: number, s: BigUint64Array): void {
    const node = this.#pending!.node;
    switch (ev) {
      case Ev.User:
        node.userName = utf8.decode(this.#bytes(1));
        break;
      case Ev.Group:
        node.groupName = utf8.decode(this.#bytes(1));
        break;
      case Ev.Xattr:
        node.xattrs.push({ name: this.#bytes(1), value: this.#bytes(3) });
        break;
      case Ev.AclUser:
      case Ev.AclGroup:
      case Ev.AclDefaultUser:
      case Ev.AclDefaultGroup: {
        const entry: CatarAclEntry = {
          id: this.#n(1),
          perm: this.#n(2),
          name: this.#n(4) ? utf8.decode(this.#bytes(3)) : null,
        };
        const acl = aclOf(node);
        if (ev === Ev.AclUser) acl.user.push(entry);
        else if (ev === Ev.AclGroup) acl.group.push(entry);
        else if (ev === Ev.AclDefaultUser) defaultOf(acl).user.push(entry);
        else defaultOf(acl).group.push(entry);
        break;
      }
      case Ev.AclGroupObj:
        aclOf(node).groupObj = this.#n(1);
        break;
      case Ev.AclDefault: {
        const d = defaultOf(aclOf(node));
        d.userObj = this.#n(1);
        d.groupObj = this.#n(2);
        d.other = this.#n(3);
        d.mask = s[4] === CA_FORMAT_ACL_PERMISSION_ABSENT ? null : this.#n(4);
        break;
      }
      case Ev.Selinux:
        node.selinux = this.#bytes(1);
        break;
      case Ev.Fcaps:
        node.fcaps = this.#bytes(1);
        break;
      case Ev.QuotaProjid:
        node.projid = this.#n(1);
        break;
      default:
        throw new Error(`catar decoder: unknown core event ${ev}`);
    }
  }

  /** Copies queued input into the core's window; false if there was none. */
  #feed(): boolean {
    let n = 0;
    const mem = new Uint8Array(this.#core.memory.buffer, this.#window, WINDOW_SIZE);
    while (n < WINDOW_SIZE && this.#queue.length) {
      const b = this.#queue[0];
      const take = Math.min(b.length - this.#queueOffset, WINDOW_SIZE - n);
      mem.set(b.subarray(this.#queueOffset, this.#queueOffset + take), n);
      n += take;
      this.#queueOffset += take;
      if (this.#queueOffset === b.length) {
        this.#queue.shift();
        this.#queueOffset = 0;
      }
    }
    if (n === 0) return false;
    this.#core.decoderPut(n);
    return true;
  }

  /** The result block; a new view whenever the memory has grown. */
  #view(): BigUint64Array {
    const buf = this.#core.memory.buffer;
    if (this.#slots?.buffer !== buf) {
      this.#slots = new BigUint64Array(buf, this.#result, 16);
      this.#words = new Uint32Array(buf, this.#result, 32);
    }
    return this.#slots;
  }

  /** Slot i as a number (sizes, offsets, ids: all below 2^53). */
  #n(i: number): number {
    const w = this.#words!;
    return w[2 * i] + w[2 * i + 1] * 0x100000000;
  }

  /** A copy of the bytes slots i and i + 1 point at (ArrayBuffer.slice is ten times slower for the short names most records hold). */
  #bytes(i: number): Uint8Array {
    return new Uint8Array(new Uint8Array(this.#core.memory.buffer, this.#n(i), this.#n(i + 1)));
  }
}

function aclOf(node: CatarNode): CatarAcl {
  return (node.acl ??= { user: [], group: [], groupObj: null, default: null });
}

function defaultOf(acl: CatarAcl) {
  return (acl.default ??= { userObj: null, groupObj: null, other: null, mask: null, user: [], group: [] });
}
