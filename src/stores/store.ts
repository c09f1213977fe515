// What a chunk store is, whatever keeps the chunks: a local directory, an HTTP
// server, an ssh peer, memory, or a combinator of other stores (a chain, a
// cache, a failover group, chunk checking).  The interfaces are desync's idea,
// kept as small: a read store answers get and has, a write store adds put,
// remove and a listing.
//
// A store speaks in stored chunks: the bytes of a `.cacnk` file (zstd, gzip or
// xz, told apart by their magic), named by the 64 lowercase hex digits of the
// chunk id.  A store that holds a chunk uncompressed (casync's `<id>` files,
// an ssh peer's uncompressed CA_PROTOCOL_CHUNK) hands it out in a stored form
// all the same (compression.ts, storedUncompressed).  Nothing a store returns
// is trusted: what extraction, verification and random access use comes from
// a ChunkSource (checked-store.ts), which decompresses and hashes every copy.

import { WasyncError } from '../errors.ts';

export interface ChunkStore {
  /** how messages name the store (a path, a URL, a name the caller gave) */
  readonly name: string;
  /**
   * The stored chunk, or null if this store does not have it.  The bytes are
   * the caller's, or, when `into` is given and the store can use it, a view of
   * `into` (a caller that consumes each chunk at once saves an allocation).
   */
  get(id: string, into?: Uint8Array): Promise<Uint8Array | null>;
  has(id: string): Promise<boolean>;
  /** ends connections and sessions; the store is not used afterwards */
  close(): Promise<void>;
  /** where this store keeps chunk `id`, for messages (a file, a URL); default: the store's name */
  where?(id: string): string;
  /**
   * The names of the stores in this one that do not exist (a local store's
   * directory), asked when a chunk was found nowhere so that the message can
   * say why; a store that cannot tell leaves it out.
   */
  absent?(): string[];
}

export interface WriteStore extends ChunkStore {
  /** stores a chunk in stored form; false if the store had it already */
  put(id: string, chunk: Uint8Array): Promise<boolean>;
  /** false if the store did not have it */
  remove(id: string): Promise<boolean>;
  /** the ids of every chunk held, in no particular order */
  list(): AsyncIterable<string>;
}

/**
 * A store as a caller may write one: anything with get, has and put, whose
 * methods answer at once or with a promise.  Operations take these as they
 * take stores; a thread that runs jobs reaches one through the store relay.
 */
export interface StoreObject {
  /** how messages name the store */
  readonly name?: string;
  /** the stored chunk (a .cacnk's bytes), or null (or undefined) if the store lacks it */
  get(id: string): Promise<Uint8Array | null | undefined> | Uint8Array | null | undefined;
  has(id: string): Promise<boolean> | boolean;
  /** stores a chunk; false if it was already there (anything else counts as stored) */
  put(id: string, chunk: Uint8Array): unknown;
}

/**
 * A chunk read and checked: its bytes, the stored copy they came from, and the
 * store that held it.  Read with `into`, both may be views of reused memory.
 */
export interface ChunkRead {
  data: Uint8Array;
  stored: Uint8Array;
  /** the store (not a combinator) the copy was found in */
  store: ChunkStore;
}

/**
 * A store that hands out chunks checked against their ids.  read() gives the
 * chunk's bytes, null when no store has it, and throws ECHUNKCORRUPT when
 * copies exist but none is the chunk.  The bytes are in memory of their own,
 * or, when `into` is given (at least `size` bytes the caller reuses), possibly
 * in `into`: a reader that consumes each chunk at once saves an allocation.
 */
export interface ChunkSource extends ChunkStore {
  read(id: string, size: number, into?: Uint8Array): Promise<ChunkRead | null>;
}

export const isWriteStore = (s: ChunkStore): s is WriteStore =>
  typeof (s as Partial<WriteStore>).put === 'function' &&
  typeof (s as Partial<WriteStore>).remove === 'function' &&
  typeof (s as Partial<WriteStore>).list === 'function';

/** `s` as a write store, or a usage error naming it. */
export function writable(s: ChunkStore): WriteStore {
  if (!isWriteStore(s)) throw new WasyncError('EUSAGE', `${s.name}: this store cannot be written to`);
  return s;
}

export const whereOf = (s: ChunkStore, id: string) => s.where?.(id) ?? s.name;

/** The stores of `s` (one, or a combinator's members) that do not exist. */
export const absentOf = (s: ChunkStore): string[] => s.absent?.() ?? [];

/** read() of a member that must be a ChunkSource (graphs built by store-graph.ts are). */
export function readOf(s: ChunkStore, id: string, size: number, into?: Uint8Array): Promise<ChunkRead | null> {
  const read = (s as Partial<ChunkSource>).read;
  if (typeof read !== 'function') throw new TypeError(`${s.name}: not a checked store (build read graphs with buildSource)`);
  return read.call(s, id, size, into);
}
