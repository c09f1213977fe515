// The request loop of a read-only FUSE file system: decodes each request the
// device delivers, asks the file system (FuseFs) and writes the reply.
//
// Requests are handled concurrently: each one becomes a promise and is answered
// when it settles, in whatever order; the kernel matches replies by `unique`.
// The tree never changes, so names and attributes are given long cache times,
// a missing name is answered as a cached negative entry (nodeid 0), opened files
// keep their page cache (FOPEN_KEEP_CACHE) and directories their listing
// (FOPEN_CACHE_DIR).  Requests that would write are answered EROFS, unknown ones
// ENOSYS (the kernel then stops sending them).
//
// A FuseError carries the errno to answer; any other failure (a missing or
// corrupt chunk, a remote that stopped answering) is answered EIO and logged on
// stderr, each distinct message once, so a reader retrying a bad range does not
// flood the log.

import * as P from './fuse-protocol.ts';
import type { FuseDevice } from './fuse-device.ts';

export class FuseError extends Error {
  constructor(readonly errno: number, message = `errno ${errno}`) {
    super(message);
  }
}

export interface FuseEntry {
  nodeid: number;
  attr: P.FuseAttr;
}

export interface FuseDirEntry {
  name: Uint8Array;
  ino: number;
  /** DT_* (the file type bits of the mode, shifted down by 12) */
  type: number;
}

export interface FuseXattr {
  name: Uint8Array;
  value: Uint8Array;
}

/** What the session asks of a file system; node ids and handles are numbers. */
export interface FuseFs {
  /** the child `name` of directory `parent`, counted as one kernel reference; null if none */
  lookup(parent: number, name: Uint8Array): Promise<FuseEntry | null>;
  /** the kernel dropped `count` references to the node */
  forget(nodeid: number, count: number): void;
  getattr(nodeid: number): Promise<P.FuseAttr>;
  readlink(nodeid: number): Promise<Uint8Array>;
  /** a handle for reading the file or listing the directory */
  open(nodeid: number, dir: boolean): Promise<number>;
  release(fh: number): void;
  read(fh: number, offset: number, size: number): Promise<Uint8Array>;
  /** every entry of the directory, "." and ".." first */
  readdir(fh: number): Promise<readonly FuseDirEntry[]>;
  statfs(): P.StatfsOut;
  xattrs(nodeid: number): Promise<readonly FuseXattr[]>;
  /** the out data of a read-only ioctl (at most outSize bytes); FuseError(ENOTTY) if unknown */
  ioctl(nodeid: number, cmd: number, outSize: number, dir: boolean): Promise<Uint8Array>;
}

export interface FuseSessionOptions {
  /** cache time for names and attributes, seconds */
  ttl?: number;
  /** a line on stderr */
  log(line: string): void;
}

const O_ACCMODE = 3;

export class FuseSession {
  private readonly ttl: number;
  private readonly logged = new Set<string>();
  private initDone!: () => void;
  /** settles when the kernel has been answered FUSE_INIT */
  readonly initialized = new Promise<void>((r) => (this.initDone = r));
  /** requests being handled */
  active = 0;
  /** requests received, by opcode (for -v) */
  readonly counts = new Map<number, number>();

  constructor(
    private readonly dev: FuseDevice,
    private readonly fs: FuseFs,
    private readonly o: FuseSessionOptions,
  ) {
    this.ttl = o.ttl ?? 86400;
  }

  /** Handles one request (bytes as read from the device). */
  handle(bytes: Buffer): void {
    let req: P.FuseRequest;
    try {
      req = P.parseRequest(bytes);
    } catch (e) {
      this.logOnce(`malformed FUSE request: ${(e as Error).message}`);
      return;
    }
    const { opcode } = req;
    this.counts.set(opcode, (this.counts.get(opcode) ?? 0) + 1);
    if (opcode === P.FUSE_FORGET) return this.fs.forget(req.nodeid, Number(req.body.readBigUInt64LE(0)));
    if (opcode === P.FUSE_BATCH_FORGET) {
      const n = req.body.readUInt32LE(0);
      for (let i = 0; i < n; i++) {
        const at = 8 + 16 * i;
        this.fs.forget(Number(req.body.readBigUInt64LE(at)), Number(req.body.readBigUInt64LE(at + 8)));
      }
      return;
    }
    // Interrupts need no answer: every request here finishes on its own.
    if (opcode === P.FUSE_INTERRUPT) return;
    this.active++;
    this.dispatch(req).then(
      (body) => this.dev.reply(req.unique, 0, body),
      (e) => this.dev.reply(req.unique, this.errnoOf(e, req)),
    ).catch((e) => this.logOnce(`cannot reply to a FUSE request: ${(e as Error).message}`))
      .finally(() => this.active--);
  }

  private errnoOf(e: unknown, req: P.FuseRequest): number {
    if (e instanceof FuseError) return e.errno;
    this.logOnce((e as Error)?.message ?? String(e));
    return req.opcode === P.FUSE_INIT ? P.errno.EPROTO : P.errno.EIO;
  }

  private logOnce(message: string): void {
    if (this.logged.has(message)) return;
    this.logged.add(message);
    this.o.log(message);
  }

  private async dispatch(req: P.FuseRequest): Promise<Uint8Array[]> {
    const { body, nodeid } = req;
    const fs = this.fs;
    switch (req.opcode) {
      case P.FUSE_INIT:
        return [this.init(P.parseInitIn(body))];
      case P.FUSE_DESTROY:
        return [];
      case P.FUSE_LOOKUP: {
        const e = await fs.lookup(nodeid, P.cString(body));
        return [e ? P.entryOut(e.nodeid, e.attr, this.ttl) : P.entryOut(0, null, this.ttl)];
      }
      case P.FUSE_GETATTR:
        return [P.attrOut(await fs.getattr(nodeid), this.ttl)];
      case P.FUSE_READLINK:
        return [await fs.readlink(nodeid)];
      case P.FUSE_OPEN:
      case P.FUSE_OPENDIR: {
        const dir = req.opcode === P.FUSE_OPENDIR;
        if ((body.readUInt32LE(0) & O_ACCMODE) !== 0) throw new FuseError(dir ? P.errno.EISDIR : P.errno.EROFS);
        const fh = await fs.open(nodeid, dir);
        return [P.openOut(fh, dir ? P.FOPEN_KEEP_CACHE | P.FOPEN_CACHE_DIR : P.FOPEN_KEEP_CACHE)];
      }
      case P.FUSE_RELEASE:
      case P.FUSE_RELEASEDIR:
        fs.release(Number(body.readBigUInt64LE(0)));
        return [];
      case P.FUSE_READ: {
        const fh = Number(body.readBigUInt64LE(0));
        return [await fs.read(fh, Number(body.readBigUInt64LE(8)), body.readUInt32LE(16))];
      }
      case P.FUSE_READDIR:
        return [await this.readdir(Number(body.readBigUInt64LE(0)), Number(body.readBigUInt64LE(8)), body.readUInt32LE(16))];
      case P.FUSE_STATFS:
        return [P.statfsOut(fs.statfs())];
      case P.FUSE_GETXATTR:
      case P.FUSE_LISTXATTR:
        return [await this.xattr(req)];
      case P.FUSE_IOCTL: {
        const flags = body.readUInt32LE(8);
        if (flags & P.FUSE_IOCTL_COMPAT) throw new FuseError(P.errno.ENOTTY);
        const data = await fs.ioctl(nodeid, body.readUInt32LE(12), body.readUInt32LE(28), (flags & P.FUSE_IOCTL_DIR) !== 0);
        return [P.ioctlOut(0, data)];
      }
      case P.FUSE_FLUSH:
      case P.FUSE_FSYNC:
      case P.FUSE_FSYNCDIR:
        return [];
      default:
        throw new FuseError(P.WRITE_OPCODES.has(req.opcode) ? P.errno.EROFS : P.errno.ENOSYS);
    }
  }

  private init(k: P.InitIn): Buffer {
    if (k.major < P.FUSE_KERNEL_VERSION) throw new Error(`the kernel speaks FUSE ${k.major}.${k.minor}, older than 7`);
    const base = { maxReadahead: 0, flags: 0, maxBackground: 0, congestionThreshold: 0, maxWrite: 0, timeGran: 0, maxPages: 0 };
    // A newer major: answer ours and wait for the kernel's next INIT.
    if (k.major > P.FUSE_KERNEL_VERSION) return P.initOut({ ...base, major: P.FUSE_KERNEL_VERSION, minor: P.FUSE_KERNEL_MINOR_VERSION });
    const wanted = P.FUSE_ASYNC_READ | P.FUSE_PARALLEL_DIROPS | P.FUSE_POSIX_ACL | P.FUSE_MAX_PAGES | P.FUSE_CACHE_SYMLINKS;
    const out = P.initOut({
      major: P.FUSE_KERNEL_VERSION,
      minor: Math.min(k.minor, P.FUSE_KERNEL_MINOR_VERSION),
      maxReadahead: k.maxReadahead,
      flags: k.flags & wanted,
      maxBackground: 64,
      congestionThreshold: 48,
      maxWrite: 4096,
      timeGran: 1,
      // 1 MiB per READ where the kernel allows it
      maxPages: 256,
    });
    queueMicrotask(this.initDone);
    return out;
  }

  private async readdir(fh: number, offset: number, size: number): Promise<Buffer> {
    const entries = await this.fs.readdir(fh);
    const out = Buffer.allocUnsafe(size);
    let at = 0;
    for (let i = offset; i < entries.length; i++) {
      const e = entries[i];
      if (at + P.direntSize(e.name.length) > size) break;
      at = P.writeDirent(out, at, e.ino, i + 1, e.type, e.name);
    }
    return out.subarray(0, at);
  }

  private async xattr(req: P.FuseRequest): Promise<Uint8Array> {
    const size = req.body.readUInt32LE(0);
    const all = await this.fs.xattrs(req.nodeid);
    let value: Uint8Array;
    if (req.opcode === P.FUSE_LISTXATTR) {
      value = Buffer.concat(all.flatMap((x) => [x.name, Buffer.from([0])]));
    } else {
      const name = P.cString(req.body.subarray(8));
      const found = all.find((x) => Buffer.compare(x.name, name) === 0);
      if (!found) throw new FuseError(P.errno.ENODATA);
      value = found.value;
    }
    if (size === 0) return P.getxattrOut(value.length);
    if (size < value.length) throw new FuseError(P.errno.ERANGE);
    return value;
  }
}
