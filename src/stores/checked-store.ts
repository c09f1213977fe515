// Chunk checking, the one place where a stored copy becomes a chunk: it must
// decompress (zstd, gzip or xz, by its magic) to the size the index states,
// and its digest must be its id.  A copy that fails is corrupt, never used,
// and reported with where it was and why, so that the chain it is part of
// can take the next store's copy.
//
// CheckedStore wraps one store: get and has pass through, read() checks.  The
// platform brings the codecs and the hash (node:crypto and libzstd on Node;
// the wasm core and wasm decoders in a browser), so this runs everywhere.

import { toHex } from '../chunk/chunk-id.ts';
import type { DigestName } from '../chunk/digest.ts';
import { chunkCorrupt, isUnsupported } from '../errors.ts';
import { absentOf, whereOf, writable, type ChunkRead, type ChunkSource, type ChunkStore, type WriteStore } from './store.ts';

export interface ChunkCheck {
  readonly digest: DigestName;
  /**
   * The bytes of a stored chunk of `size` bytes, in memory of their own or
   * in `into` when given; null when the copy is in no known format.  Throws
   * when it does not decompress.
   */
  decompress(stored: Uint8Array, size: number, into?: Uint8Array): Uint8Array | null | Promise<Uint8Array | null>;
  /** the chunk id of `data` */
  idOf(data: Uint8Array): Uint8Array | Promise<Uint8Array>;
}

/** The chunk's bytes, or why the stored copy is not chunk `id` of `size` bytes. */
export async function checkStored(check: ChunkCheck, id: string, size: number, stored: Uint8Array, into?: Uint8Array): Promise<Uint8Array | string> {
  let data: Uint8Array | null;
  try {
    data = await check.decompress(stored, size, into);
  } catch (e) {
    // A codec this platform cannot run is no verdict on the copy.
    if (isUnsupported(e)) throw e;
    return `does not decompress (${(e as Error).message})`;
  }
  if (!data) return 'not in a known compression format (zstd, gzip, xz)';
  if (data.length !== size) return `holds ${data.length} bytes, the index says ${size}`;
  if (toHex(await check.idOf(data)) !== id) return `its ${check.digest} digest does not match its id`;
  return data;
}

export interface CheckedStoreOptions {
  /** a copy that fails is read once more (a download damaged in transit) */
  rereadCorrupt?: boolean;
  onWarning?(message: string): void;
}

export class CheckedStore implements ChunkSource, WriteStore {
  readonly name: string;
  /** where stored copies are read for a caller that reuses its memory too (read with `into`) */
  private scratch: Uint8Array | null = null;

  constructor(
    readonly inner: ChunkStore,
    private readonly check: ChunkCheck,
    private readonly o: CheckedStoreOptions = {},
  ) {
    this.name = inner.name;
  }

  async read(id: string, size: number, into?: Uint8Array): Promise<ChunkRead | null> {
    const stored = await this.inner.get(id, into && (this.scratch ??= new Uint8Array(1 << 20)));
    if (!stored) return null;
    const data = await checkStored(this.check, id, size, stored, into);
    if (typeof data !== 'string') return { data, stored, store: this.inner };
    const where = whereOf(this.inner, id);
    if (this.o.rereadCorrupt) {
      const again = await this.inner.get(id, into && this.scratch!);
      const second = again && (await checkStored(this.check, id, size, again, into));
      if (again && typeof second !== 'string' && second) {
        this.o.onWarning?.(`chunk ${id} from ${where} was corrupt (${data}); downloaded it again`);
        return { data: second, stored: again, store: this.inner };
      }
    }
    throw chunkCorrupt(id, where, data);
  }

  get = (id: string, into?: Uint8Array) => this.inner.get(id, into);
  has = (id: string) => this.inner.has(id);
  absent = () => absentOf(this.inner);
  close = () => this.inner.close();
  where = (id: string) => whereOf(this.inner, id);

  put(id: string, chunk: Uint8Array) {
    return writable(this.inner).put(id, chunk);
  }

  remove(id: string) {
    return writable(this.inner).remove(id);
  }

  list() {
    return writable(this.inner).list();
  }
}
