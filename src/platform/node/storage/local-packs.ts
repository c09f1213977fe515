// The pack directory of a local store (format/pack-index.ts): reading it for
// PackStore, and writing it for `wasync pack`, `make --pack` and gc.
//
// Writing never leaves the directory in a state a reader cannot use: a pack is
// written under a temporary name, synced and linked into place under a number
// no pack has (a pack is never replaced), and only then does a new pack index,
// written and synced the same way, replace the old one by rename.  A pack the
// index does not name is dead weight, never wrong: gc removes those.  Two
// packers at once may lose one's entries (the last index wins); their chunks
// are then read from the plain chunk files, as before.

import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { threadId } from 'node:worker_threads';
import { WasyncError, formatError, ioError } from '../../../errors.ts';
import { encodePackHeader, encodePackIndex, PACK_DIR, PACK_HEADER_SIZE, PACK_INDEX_NAME, PACK_TARGET_SIZE, packFileName, packHeaderProblem, PackIndex, type PackEntry, type PackInfo } from '../../../format/pack-index.ts';
import type { PackFiles, Range } from '../../../stores/pack-store.ts';
import type { ChunkStore } from '../../../stores/store.ts';
import { fromHex, toHex } from '../../../chunk/chunk-id.ts';

let tmpCounter = 0;
const tmpName = (dir: string, what: string) => `${dir}/.${what}.${process.pid}-${threadId}-${tmpCounter++}.tmp`;

export const packDir = (store: string) => `${store}/${PACK_DIR}`;

/** The store's pack index, or null where it has none. */
export function readPackIndex(store: string): PackIndex | null {
  const path = `${packDir(store)}/${PACK_INDEX_NAME}`;
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw ioError('EINPUT', path, e);
  }
  return new PackIndex(bytes, path);
}

/** Positioned reads of a local store's packs; each pack file is opened once and checked. */
export class LocalPackFiles implements PackFiles {
  readonly base: string;
  private readonly fds = new Map<number, number>();

  constructor(store: string) {
    this.base = packDir(store);
  }

  async index(): Promise<Uint8Array | null> {
    try {
      return readFileSync(`${this.base}/${PACK_INDEX_NAME}`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw ioError('EINPUT', `${this.base}/${PACK_INDEX_NAME}`, e);
    }
  }

  async read(pack: number, ranges: readonly Range[]): Promise<Uint8Array[]> {
    const path = `${this.base}/${packFileName(pack)}`;
    const fd = this.open(pack, path);
    return ranges.map((r) => {
      const b = new Uint8Array(r.end - r.start);
      let got = 0;
      try {
        while (got < b.length) {
          const n = readSync(fd, b, got, b.length - got, r.start + got);
          if (n === 0) break;
          got += n;
        }
      } catch (e) {
        throw ioError('EINPUT', path, e);
      }
      // A short pack reads as a corrupt chunk, which its check reports with the place.
      return b.subarray(0, got);
    });
  }

  private open(pack: number, path: string): number {
    let fd = this.fds.get(pack);
    if (fd !== undefined) return fd;
    try {
      fd = openSync(path, 'r');
      const head = new Uint8Array(PACK_HEADER_SIZE);
      readSync(fd, head, 0, PACK_HEADER_SIZE, 0);
      const problem = packHeaderProblem(head, pack);
      if (problem) {
        closeSync(fd);
        throw formatError(path, 0, problem);
      }
    } catch (e) {
      if (e instanceof WasyncError) throw e;
      throw ioError('EINPUT', path, e);
    }
    this.fds.set(pack, fd);
    return fd;
  }

  async close(): Promise<void> {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
  }
}

export interface PackResult {
  /** chunks added to packs, their bytes, and the packs written */
  chunks: number;
  bytes: number;
  packs: number[];
  /** chunks the index now names in all */
  total: number;
}

/**
 * Appends the chunks `ids` names that no pack holds yet to new packs, in that
 * order (ids the store lacks are passed over), and commits a new pack index.
 */
export async function appendPacks(store: ChunkStore, dir: string, ids: AsyncIterable<string> | Iterable<string>): Promise<PackResult> {
  const pdir = packDir(dir);
  const old = readPackIndex(dir);
  const entries: PackEntry[] = old ? [...old.entries()] : [];
  const packs: PackInfo[] = old ? [...old.packs] : [];
  const have = new Set(entries.map((e) => toHex(e.id)));
  let number = Math.max(0, ...packs.map((p) => p.number), ...existingPacks(pdir));
  const r: PackResult = { chunks: 0, bytes: 0, packs: [], total: 0 };
  let out: { fd: number; tmp: string; number: number; size: number } | null = null;
  const finish = () => {
    if (!out) return;
    const o = out;
    out = null;
    try {
      fsyncSync(o.fd);
      closeSync(o.fd);
      linkSync(o.tmp, `${pdir}/${packFileName(o.number)}`);
    } catch (e) {
      throw ioError('EOUTPUT', `${pdir}/${packFileName(o.number)}`, e);
    } finally {
      unlinkQuiet(o.tmp);
    }
    packs.push({ number: o.number, size: o.size });
    r.packs.push(o.number);
  };
  try {
    mkdirSync(pdir, { recursive: true });
    for await (const id of ids) {
      if (have.has(id)) continue;
      const chunk = await store.get(id);
      if (!chunk) continue;
      have.add(id);
      if (out && out.size + chunk.length > PACK_TARGET_SIZE) finish();
      if (!out) {
        const tmp = tmpName(pdir, 'pack');
        out = { fd: openSync(tmp, 'wx', 0o444), tmp, number: ++number, size: 0 };
        writeAll(out.fd, encodePackHeader(out.number), tmp);
        out.size = PACK_HEADER_SIZE;
      }
      writeAll(out.fd, chunk, out.tmp);
      entries.push({ id: fromHex(id)!, pack: out.number, offset: out.size, size: chunk.length });
      out.size += chunk.length;
      r.chunks++;
      r.bytes += chunk.length;
    }
    finish();
  } catch (e) {
    const o = out as { fd: number; tmp: string } | null;
    if (o) {
      closeSync(o.fd);
      unlinkQuiet(o.tmp);
    }
    throw e instanceof WasyncError ? e : ioError('EOUTPUT', pdir, e);
  }
  if (r.chunks) writePackIndex(dir, packs, entries);
  r.total = entries.length;
  return r;
}

/**
 * Keeps in the pack index only the chunks `keep` accepts, and removes the
 * packs no kept entry lies in (and any pack file the index does not name).
 * The new index is in place before any chunk file is removed, so the index
 * never names a chunk gc took away.  Returns the entries dropped and the
 * pack files removed.
 */
export function prunePacks(dir: string, keep: (id: string) => boolean, dryRun = false): { dropped: number; removed: string[] } {
  const old = readPackIndex(dir);
  const pdir = packDir(dir);
  if (!old) return { dropped: 0, removed: [] };
  const kept = [...old.entries()].filter((e) => keep(toHex(e.id)));
  const live = new Set(kept.map((e) => e.pack));
  const packs = old.packs.filter((p) => live.has(p.number));
  const removed = existingPacks(pdir).filter((n) => !live.has(n)).map((n) => `${pdir}/${packFileName(n)}`);
  if (dryRun) return { dropped: old.count - kept.length, removed };
  if (kept.length !== old.count) writePackIndex(dir, packs, kept);
  for (const f of removed) unlinkQuiet(f);
  return { dropped: old.count - kept.length, removed };
}

function writePackIndex(dir: string, packs: PackInfo[], entries: PackEntry[]): void {
  const pdir = packDir(dir);
  const tmp = tmpName(pdir, 'index');
  const path = `${pdir}/${PACK_INDEX_NAME}`;
  try {
    const fd = openSync(tmp, 'wx', 0o444);
    try {
      writeAll(fd, encodePackIndex(packs, entries), tmp);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    unlinkQuiet(tmp);
    throw ioError('EOUTPUT', path, e);
  }
}

/** The numbers of the pack files in the directory. */
function existingPacks(pdir: string): number[] {
  try {
    return readdirSync(pdir)
      .filter((n) => /^\d{8}\.pack$/.test(n))
      .map((n) => Number(n.slice(0, 8)));
  } catch {
    return [];
  }
}

function writeAll(fd: number, b: Uint8Array, path: string): void {
  for (let at = 0; at < b.length; ) {
    try {
      at += writeSync(fd, b, at, b.length - at);
    } catch (e) {
      throw ioError('EOUTPUT', path, e);
    }
  }
}

function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch {}
}
