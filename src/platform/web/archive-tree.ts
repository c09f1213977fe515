// Browsing the archive a .caidx describes without fetching all of it: the tree
// one directory at a time, and one file's bytes.
//
// A directory is listed from its GOODBYE table and its children's own records
// (format/catar-lookup.ts, catar-node-records.ts), so a listing fetches the chunks
// holding those few hundred bytes per entry, never a file's payload.  Those
// reads are made beforehand for all entries together, `concurrency` at a time
// (listing-prefetch.ts), and held in memory for the lookup (held-ranges.ts),
// which otherwise would wait for one small record after another.  A file is
// read from a reader of its own, chunk by chunk over exactly the chunks its
// payload spans, `window` of them in flight; each is verified against its id
// before a byte of it is handed out.

import { CatarLookup } from '../../format/catar-lookup.ts';
import type { CatarNodeLocation } from '../../format/catar-lookup.ts';
import { CatarNodeReader } from '../../format/catar-node-records.ts';
import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from '../../format/catar-node.ts';
import type { ChunkTable, IndexReadAt, ReadAt } from '../../engine/random-access.ts';
import { HeldRanges } from './held-ranges.ts';
import { prefetchListing } from './listing-prefetch.ts';

export interface TreeEntry {
  /** the name as stored (bytes), and as shown (UTF-8, invalid sequences replaced) */
  nameBytes: Uint8Array;
  name: string;
  /** '/'-joined shown names below the root */
  path: string;
  mode: number;
  kind: 'directory' | 'file' | 'symlink' | 'other';
  /** regular files: payload size and archive offset of its first byte */
  size: number | null;
  payloadOffset: number | null;
  /** symlinks: the target, as shown */
  target: string | null;
  mtimeNs: bigint;
  /** directories: where to list them from */
  location: CatarNodeLocation;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

function kindOf(mode: number): TreeEntry['kind'] {
  switch (mode & S_IFMT) {
    case S_IFDIR:
      return 'directory';
    case S_IFREG:
      return 'file';
    case S_IFLNK:
      return 'symlink';
    default:
      return 'other';
  }
}

/** The tree of one archive, read through `r` (an IndexReadAt, or bytes in memory). */
export class ArchiveTree {
  readonly lookup: CatarLookup;
  private readonly records: CatarNodeReader;
  private readonly held: HeldRanges;
  private readonly concurrency: number;

  /**
   * `r` should keep a few dozen chunks and not read ahead (readAhead 0): listing
   * jumps about; `concurrency` is how many entries' records are fetched at once.
   */
  constructor(
    private readonly r: ReadAt,
    file: string,
    o: { concurrency?: number } = {},
  ) {
    this.held = new HeldRanges(r, file);
    this.lookup = new CatarLookup(this.held, file);
    this.records = new CatarNodeReader(this.lookup);
    this.concurrency = Math.max(1, o.concurrency ?? 16);
  }

  /** The root directory (its own entry, name empty). */
  async root(): Promise<TreeEntry> {
    const loc = await this.lookup.root();
    const { node } = await this.records.read(loc);
    return { nameBytes: new Uint8Array(0), name: '', path: '', mode: loc.mode, kind: 'directory', size: null, payloadOffset: null, target: null, mtimeNs: node.mtimeNs, location: loc };
  }

  /** A directory's entries in archive (byte) order. */
  async list(dir: TreeEntry): Promise<TreeEntry[]> {
    // A prefetch that fails only makes the listing slower: the lookup meets the problem again and names it.
    const ahead = await prefetchListing(this.r, dir.location, this.concurrency).catch(() => []);
    const release = this.held.hold(ahead);
    let children: CatarNodeLocation[];
    let records: Awaited<ReturnType<CatarNodeReader['readChildren']>>;
    try {
      children = await this.lookup.children(dir.location);
      records = await this.records.readChildren(dir.location, children);
    } finally {
      release();
    }
    return children.map((loc, i) => {
      const { node, payloadOffset } = records[i];
      const nameBytes = loc.name!;
      const name = utf8.decode(nameBytes);
      return {
        nameBytes,
        name,
        path: dir.path ? `${dir.path}/${name}` : name,
        mode: loc.mode,
        kind: kindOf(loc.mode),
        size: payloadOffset === null ? null : (node.size ?? 0),
        payloadOffset,
        target: node.target ? utf8.decode(node.target) : null,
        mtimeNs: node.mtimeNs,
        location: loc,
      };
    });
  }

  /** The entry at a '/'-separated path, null if there is none. */
  async find(path: string): Promise<TreeEntry | null> {
    let at = await this.root();
    for (const part of path.split('/').filter((p) => p !== '')) {
      const next = (await this.list(at)).find((e) => e.name === part);
      if (!next) return null;
      at = next;
    }
    return at;
  }
}

/** The chunks [first, last] holding bytes [offset, offset + size); null for no bytes. */
export function spannedChunks(table: ChunkTable, offset: number, size: number): { first: number; last: number } | null {
  if (size <= 0) return null;
  return { first: table.find(offset), last: table.find(offset + size - 1) };
}

/**
 * A file's bytes in order, piece by piece (views of verified chunks), fetching
 * only the chunks its payload spans, up to `window` at once.  `reader` should be
 * one made for this read, with readAhead 0 and room for `window` chunks.
 */
export async function* fileBytes(reader: IndexReadAt, entry: TreeEntry, window = 8): AsyncGenerator<Uint8Array> {
  if (entry.payloadOffset === null || entry.size === null) throw new Error(`${entry.path}: not a regular file`);
  const span = spannedChunks(reader.table, entry.payloadOffset, entry.size);
  if (!span) return;
  const t = reader.table;
  const start = entry.payloadOffset;
  const end = start + entry.size;
  const pending: Promise<Uint8Array>[] = [];
  let ask = span.first;
  for (let i = span.first; i <= span.last; i++) {
    while (ask <= span.last && ask < i + window) pending.push(reader.chunk(ask++));
    const c = await pending.shift()!;
    const from = Math.max(start, t.start(i)) - t.start(i);
    const to = Math.min(end, t.end(i)) - t.start(i);
    yield c.subarray(from, to);
  }
}
