// Where `make X.catar T.tar` reads its tar from, and where file data waits.
//
// A tar's entries come in any order while a catar needs casync's, so the data
// of regular files must be reachable again after the whole tar has been read:
//   * an uncompressed tar in a regular file (a path, or standard input
//     redirected from one) is read twice through its descriptor: the headers
//     first (data skipped by position, never read), then each file's data at
//     its offset, in the catar's order; nothing is copied;
//   * anything else (a pipe, a compressed tar, an iterable of bytes) is read
//     once, gzip, xz and zstd decompressed as they stream, and each file's
//     data is copied to a spool file in $TMPDIR, unlinked as soon as it is
//     opened so that it goes when the process does, however it ends.
// Memory stays bounded either way: the stream is held one piece at a time.

import { closeSync, fstatSync, openSync, readSync, unlinkSync, writeSync, createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Readable, type Transform } from 'node:stream';
import { ioError } from '../../../errors.ts';
import { xzAddon, zstdAddon } from '../storage/chunk-codec.ts';
import type { TarByteSource } from '../../../format/tar-reader.ts';

const PEEK = 6;

/** An opened tar: its byte source, and the descriptor its data is read back from. */
export interface TarInput {
  source: TarByteSource;
  /** the tar itself when seekable, else null (its data goes to a spool) */
  fd: number | null;
  close(): void;
}

type Kind = 'gzip' | 'xz' | 'zstd' | null;

function kindOf(b: Uint8Array): Kind {
  if (b[0] === 0x1f && b[1] === 0x8b) return 'gzip';
  if (b[0] === 0xfd && b[1] === 0x37 && b[2] === 0x7a && b[3] === 0x58 && b[4] === 0x5a && b[5] === 0x00) return 'xz';
  if (b[0] === 0x28 && b[1] === 0xb5 && b[2] === 0x2f && b[3] === 0xfd) return 'zstd';
  return null;
}

// The addons as the codecs load them (a require() of this module's own would
// look for node_modules beside the single executable).
function decompressor(kind: Exclude<Kind, null>): Transform {
  if (kind === 'gzip') return createGunzip();
  return kind === 'xz' ? xzAddon().createDecompressor() : new (zstdAddon().DecompressStream)();
}

/** Opens `path` ('-': standard input) or reads `bytes`; `file` names it in messages. */
export function openTarInput(path: string | AsyncIterable<Uint8Array> | Uint8Array, file: string): TarInput {
  if (typeof path !== 'string') return streamInput(path instanceof Uint8Array ? once(path) : path, file, () => {});
  let fd: number;
  try {
    fd = path === '-' ? 0 : openSync(path, 'r');
  } catch (e) {
    throw ioError('EINPUT', file, e);
  }
  const close = () => {
    if (fd !== 0) closeSync(fd);
  };
  try {
    const st = fstatSync(fd);
    if (st.isFile()) {
      const head = Buffer.alloc(PEEK);
      const n = readSync(fd, head, 0, PEEK, 0);
      if (!kindOf(head.subarray(0, n))) return { source: new FdSource(fd, st.size, file), fd, close };
      return streamInput(createReadStream('', { fd, start: 0, autoClose: false }), file, close);
    }
    return streamInput(createReadStream('', { fd, autoClose: false }), file, close);
  } catch (e) {
    close();
    throw ioError('EINPUT', file, e);
  }
}

async function* once(b: Uint8Array) {
  yield b;
}

/** A seekable tar: reads by position; skipping costs nothing. */
class FdSource implements TarByteSource {
  private at = 0;

  constructor(
    private readonly fd: number,
    private readonly size: number,
    private readonly file: string,
  ) {}

  async read(n: number): Promise<Uint8Array> {
    const b = Buffer.allocUnsafe(Math.max(0, Math.min(n, this.size - this.at)));
    for (let got = 0; got < b.length; ) {
      let r: number;
      try {
        r = readSync(this.fd, b, got, b.length - got, this.at + got);
      } catch (e) {
        throw ioError('EINPUT', this.file, e);
      }
      if (r === 0) return this.advance(b.subarray(0, got));
      got += r;
    }
    return this.advance(b);
  }

  private advance(b: Buffer) {
    this.at += b.length;
    return b;
  }

  async skip(n: number): Promise<number> {
    const k = Math.max(0, Math.min(n, this.size - this.at));
    this.at += k;
    return k;
  }
}

/** A tar read once from a stream, decompressed when its first bytes say so. */
function streamInput(input: AsyncIterable<Uint8Array>, file: string, close: () => void): TarInput {
  const source = new StreamSource(input, file);
  return { source, fd: null, close: () => { source.destroy(); close(); } };
}

class StreamSource implements TarByteSource {
  private it: AsyncIterator<Uint8Array> | null = null;
  private piece: Uint8Array = new Uint8Array(0);
  private done = false;
  private readable: Readable | null = null;
  private raw: AsyncIterator<Uint8Array> | null = null;

  constructor(
    private readonly input: AsyncIterable<Uint8Array>,
    private readonly file: string,
  ) {}

  /** The first bytes decide whether a decompressor goes in between. */
  private async start() {
    const raw = (this.raw = this.input[Symbol.asyncIterator]());
    const first: Uint8Array[] = [];
    let n = 0;
    while (n < PEEK) {
      const r = await raw.next();
      if (r.done) break;
      first.push(r.value);
      n += r.value.length;
    }
    const head = Buffer.concat(first);
    const kind = kindOf(head);
    async function* whole() {
      if (head.length) yield head;
      for (let r = await raw.next(); !r.done; r = await raw.next()) yield r.value;
    }
    if (!kind) {
      this.it = whole();
      return;
    }
    this.readable = Readable.from(whole(), { objectMode: false }).pipe(decompressor(kind));
    this.it = (this.readable as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  }

  /** The next piece of the stream into `piece`; false at its end. */
  private async more(): Promise<boolean> {
    if (this.done) return false;
    if (!this.it) await this.start();
    let r: IteratorResult<Uint8Array>;
    try {
      r = await this.it!.next();
    } catch (e) {
      throw ioError('EINPUT', this.file, e);
    }
    if (r.done) this.done = true;
    else this.piece = r.value;
    return !r.done;
  }

  async read(n: number): Promise<Uint8Array> {
    if (this.piece.length >= n) return this.take(n);
    // Gathered in parts and joined once: a read of a megabyte spans many pieces.
    const parts: Uint8Array[] = [];
    let got = 0;
    do {
      const b = this.take(Math.min(n - got, this.piece.length));
      parts.push(b);
      got += b.length;
    } while (got < n && (await this.more()));
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }

  private take(n: number): Uint8Array {
    const b = this.piece.subarray(0, n);
    this.piece = this.piece.subarray(n);
    return b;
  }

  async skip(n: number): Promise<number> {
    let skipped = 0;
    for (;;) {
      skipped += this.take(Math.min(n - skipped, this.piece.length)).length;
      if (skipped === n || !(await this.more())) return skipped;
    }
  }

  /** Stops reading (after a failure: the descriptor is closed next). */
  destroy() {
    this.readable?.destroy();
    void this.raw?.return?.();
  }
}

/** File data copied out of a tar stream, read back by offset; gone when closed or when the process ends. */
export class TarSpool {
  readonly fd: number;
  size = 0;

  constructor() {
    const path = join(process.env.TMPDIR || tmpdir(), `.wasync-tar-${process.pid}-${randomBytes(6).toString('hex')}`);
    try {
      this.fd = openSync(path, 'wx+', 0o600);
      unlinkSync(path);
    } catch (e) {
      throw ioError('EOUTPUT', path, e);
    }
  }

  append(b: Uint8Array): void {
    for (let done = 0; done < b.length; ) {
      try {
        done += writeSync(this.fd, b, done, b.length - done, this.size + done);
      } catch (e) {
        throw ioError('EOUTPUT', 'the tar spool file (in $TMPDIR)', e);
      }
    }
    this.size += b.length;
  }

  close(): void {
    closeSync(this.fd);
  }
}
