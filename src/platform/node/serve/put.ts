// What `wasync serve --writable` accepts by PUT, checked before anything lands
// under its final name: a chunk whose bytes decompress to content with its name
// as SHA-512/256 or SHA-256 digest (stored once, never replaced), or an index
// (parsed completely) or archive, replaced atomically.

import type { IncomingMessage } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, realpathSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { IndexParser } from '../../../format/index-file.ts';
import { ChunkCodec } from '../storage/chunk-codec.ts';

const CHUNK_PATH = /(^|\/)([0-9a-f]{4})\/(\2[0-9a-f]{60})\.cacnk$/;
const CHUNK_MAX = 64 << 20;
const FILE_MAX = 4 * 2 ** 30;
/** Largest chunk casync allows (CA_CHUNK_SIZE_LIMIT_MAX). */
const CHUNK_SIZE_LIMIT = 128 << 20;

export class PutRefused extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const codec = new ChunkCodec();
/** zstd decodes into this (the largest chunk casync allows), not into a fresh buffer per upload. */
let scratch: Uint8Array | null = null;

export async function acceptPut(root: string, path: string, req: IncomingMessage): Promise<boolean> {
  const chunk = CHUNK_PATH.exec(path);
  const kind = chunk ? 'chunk' : /\.(caibx|caidx)$/.test(path) ? 'index' : path.endsWith('.catar') ? 'archive' : null;
  if (!kind) throw new PutRefused(403, 'only chunks (<4hex>/<64hex>.cacnk), indexes and archives may be written');
  const target = join(root, path);
  const dir = dirname(target);
  mkdirSync(dir, { recursive: true });
  const realDir = realpathSync(dir);
  if (realDir !== root && !realDir.startsWith(root + sep)) throw new PutRefused(403, 'outside the served directory');
  const body = await readBody(req, kind === 'chunk' ? CHUNK_MAX : FILE_MAX);
  if (kind === 'chunk') {
    if (statSync(target, { throwIfNoEntry: false })) return false;
    const why = await chunkProblem(chunk![3], body);
    if (why) throw new PutRefused(422, `chunk ${chunk![3]} refused: ${why}`);
  } else if (kind === 'index') {
    try {
      const p = new IndexParser(path);
      p.push(body);
      p.end();
    } catch (e) {
      throw new PutRefused(422, `index refused: ${(e as Error).message}`);
    }
  }
  const tmp = join(realDir, `.#${randomBytes(8).toString('hex')}.tmp`);
  writeFileSync(tmp, body, { flag: 'wx', mode: 0o644 });
  try {
    if (kind !== 'chunk') {
      renameSync(tmp, target);
      return true;
    }
    linkSync(tmp, target);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    try {
      unlinkSync(tmp);
    } catch {}
  }
}

async function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > max) throw new PutRefused(413, `body larger than ${max} bytes`);
  const parts: Buffer[] = [];
  let size = 0;
  for await (const piece of req) {
    size += (piece as Buffer).length;
    if (size > max) throw new PutRefused(413, `body larger than ${max} bytes`);
    parts.push(piece as Buffer);
  }
  if (Number.isFinite(declared) && size !== declared) throw new PutRefused(400, `body of ${size} bytes, ${declared} declared`);
  return Buffer.concat(parts);
}

async function chunkProblem(hex: string, body: Uint8Array): Promise<string | null> {
  let data: Uint8Array | null;
  try {
    // zstd answers synchronously into the scratch buffer: hash it before yielding.
    const out = codec.decompress(body, CHUNK_SIZE_LIMIT, (scratch ??= new Uint8Array(CHUNK_SIZE_LIMIT)));
    data = out instanceof Promise ? await out : out;
  } catch (e) {
    return `does not decompress (${(e as Error).message})`;
  }
  if (!data) return 'not in a known compression format (zstd, gzip, xz)';
  for (const digest of ['sha512-256', 'sha256']) {
    if (createHash(digest).update(data).digest('hex') === hex) return null;
  }
  return 'its content does not match its name (neither SHA-512/256 nor SHA-256)';
}
