// What `wasync serve --writable` accepts by PUT, checked before anything lands
// under its final name: a chunk whose bytes decompress to content with its name
// as SHA-512/256 or SHA-256 digest (stored once, never replaced), or an index or
// archive that parses completely, replaced atomically.
//
// Memory stays bounded whatever is sent.  A chunk is held whole (it must be, to
// be decompressed and hashed), so its body is capped by what the largest chunk
// accepted can compress to, and refused by Content-Length before it is read.
// An index or archive is checked as it streams: each piece goes through the
// incremental index parser or the catar decoder and on to a temporary file, and
// the first byte that does not parse ends the upload with its offset.

import type { IncomingMessage } from 'node:http';
import { createHash } from 'node:crypto';
import { close as closeCb, write as writeCb } from 'node:fs';
import { promisify } from 'node:util';
import { IndexParser } from '../../../format/index-file.ts';
import { CatarDecoder } from '../../../format/catar-decoder.ts';
import { ChunkCodec } from '../storage/chunk-codec.ts';
import { PutRefused, type ServedDir } from './served-dir.ts';

const CHUNK_PATH = /(^|\/)([0-9a-f]{4})\/(\2[0-9a-f]{60})\.cacnk$/;
/** The largest chunk content taken when the server is not told (64 × casync's default maximum). */
export const DEFAULT_CHUNK_MAX = 16 << 20;

const write = promisify(writeCb);
const close = promisify(closeCb);

/** The most bytes a chunk of `max` bytes takes compressed: zstd, gzip and xz add well under 1/64 plus headers. */
export const chunkBodyMax = (max: number) => max + Math.ceil(max / 64) + 4096;

const codec = new ChunkCodec();
/** zstd decodes into this, not into a fresh buffer per upload. */
let scratch: Uint8Array | null = null;

/** What an index or archive upload is fed through. */
interface Check {
  push(piece: Uint8Array): void;
  end(): void;
}

/**
 * Stores the upload at `path`; true if it created or replaced a file, false if
 * the chunk was there.  `reading` is called once the path and the declared
 * size have passed, just before the body is read.
 */
export async function acceptPut(dir: ServedDir, path: string, req: IncomingMessage, chunkMax: number, reading: () => void): Promise<boolean> {
  const chunk = CHUNK_PATH.exec(path);
  const kind = chunk ? 'chunk' : /\.(caibx|caidx)$/.test(path) ? 'index' : path.endsWith('.catar') ? 'archive' : null;
  if (!kind) throw new PutRefused(403, 'only chunks (<4hex>/<64hex>.cacnk), indexes and archives may be written');
  const declared = Number(req.headers['content-length'] ?? NaN);
  const cap = kind === 'chunk' ? chunkBodyMax(chunkMax) : Infinity;
  if (declared > cap) throw tooLarge(path, declared, cap, chunkMax);
  const place = dir.place(path);
  let temp: string | null = null;
  try {
    reading();
    if (kind === 'chunk') {
      const present = dir.exists(place);
      const body = await readBody(req, path, declared, cap, chunkMax, !present);
      if (present) return false;
      const why = await chunkProblem(chunk![3], body, chunkMax);
      if (why) throw new PutRefused(422, `chunk ${chunk![3]} refused: ${why}`);
      const t = dir.createTemp(place);
      temp = t.name;
      await writeAndClose(t.fd, body);
      return dir.commit(place, temp, true);
    }
    const check = kind === 'index' ? indexCheck(path) : archiveCheck(path);
    const t = dir.createTemp(place);
    temp = t.name;
    await streamChecked(req, path, declared, check, t.fd);
    return dir.commit(place, temp, false);
  } catch (e) {
    throw storageRefusal(path, e);
  } finally {
    if (temp !== null) dir.discard(place, temp);
    dir.release(place);
  }
}

/** What the file system said, as an answer the client can act on. */
function storageRefusal(path: string, e: unknown): unknown {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return new PutRefused(507, `${path}: no space left on the server`);
  if (code === 'EISDIR' || code === 'ENOTEMPTY') return new PutRefused(409, `${path}: is a directory`);
  return e;
}

function indexCheck(path: string): Check {
  const p = new IndexParser(path);
  // The entries are only counted here: none is kept.
  return { push: (b) => void p.push(b), end: () => void p.end() };
}

function archiveCheck(path: string): Check {
  const d = new CatarDecoder(path);
  const drain = () => {
    while (d.next());
  };
  return {
    push(b) {
      d.push(b);
      drain();
    },
    end() {
      d.end();
      drain();
    },
  };
}

/** Every piece through the check, then into the file at `fd` (closed on return). */
async function streamChecked(req: IncomingMessage, path: string, declared: number, check: Check, fd: number) {
  let size = 0;
  try {
    for await (const piece of pieces(req)) {
      size += (piece as Buffer).length;
      try {
        check.push(piece as Buffer);
      } catch (e) {
        throw notParsed(path, e);
      }
      await writeAll(fd, piece as Buffer);
    }
    checkLength(size, declared);
    try {
      check.end();
    } catch (e) {
      throw notParsed(path, e);
    }
  } finally {
    await close(fd);
  }
}

/** The body of a chunk upload, counted against the cap (and thrown away unless `keep`). */
async function readBody(req: IncomingMessage, path: string, declared: number, cap: number, chunkMax: number, keep: boolean) {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const piece of pieces(req)) {
    size += (piece as Buffer).length;
    if (size > cap) throw tooLarge(path, size, cap, chunkMax);
    if (keep) parts.push(piece as Buffer);
  }
  checkLength(size, declared);
  return Buffer.concat(parts);
}

/**
 * The body as it arrives.  Leaving the loop early (a refusal) must not destroy
 * the request, as for-await on it would: that resets the connection, and the
 * client loses the answer saying why.
 */
const pieces = (req: IncomingMessage): AsyncIterable<Buffer> => ({ [Symbol.asyncIterator]: () => req.iterator({ destroyOnReturn: false }) });

function checkLength(size: number, declared: number) {
  if (Number.isFinite(declared) && size !== declared) throw new PutRefused(400, `body of ${size} bytes, ${declared} declared`);
}

const tooLarge = (path: string, size: number, cap: number, chunkMax: number) =>
  new PutRefused(413, `${path}: body of ${size} bytes or more, larger than the ${cap} bytes a chunk of at most ${chunkMax} bytes takes (serve --chunk-size sets the largest)`);

function notParsed(path: string, e: unknown): PutRefused {
  const what = path.endsWith('.catar') ? 'archive' : 'index';
  return new PutRefused(422, `${what} refused: ${(e as Error).message}`);
}

async function writeAll(fd: number, b: Uint8Array) {
  for (let o = 0; o < b.length; ) o += (await write(fd, b, o, b.length - o)).bytesWritten;
}

async function writeAndClose(fd: number, b: Uint8Array) {
  try {
    await writeAll(fd, b);
  } finally {
    await close(fd);
  }
}

/** Why `body` is not the stored form of chunk `hex` (of at most `max` bytes), or null if it is. */
export async function chunkProblem(hex: string, body: Uint8Array, max: number): Promise<string | null> {
  let data: Uint8Array | null;
  try {
    // zstd answers synchronously into the scratch buffer: hash it before yielding.
    if (!scratch || scratch.length < max) scratch = new Uint8Array(max);
    const out = codec.decompress(body, max, scratch);
    data = out instanceof Promise ? await out : out;
  } catch (e) {
    return `does not decompress to at most ${max} bytes (${(e as Error).message})`;
  }
  if (!data) return 'not in a known compression format (zstd, gzip, xz)';
  for (const digest of ['sha512-256', 'sha256']) {
    if (createHash(digest).update(data).digest('hex') === hex) return null;
  }
  return 'its content does not match its name (neither SHA-512/256 nor SHA-256)';
}
