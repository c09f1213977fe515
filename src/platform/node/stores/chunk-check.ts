// Chunk ids and the checks every chunk passes before it is used: decompression to
// the size the index states and a digest equal to its id, whatever it came from.

import { createHash } from 'node:crypto';
import type { DigestName } from '../../../chunk/digest.ts';
import { ChunkCodec } from './chunk-codec.ts';

export class ChunkCheck {
  readonly codec = new ChunkCodec();
  private readonly zeroIds = new Map<string, Uint8Array>();
  private zeros = Buffer.alloc(0);

  /** The chunk id; all-zero chunks (common in images) use a cached digest per size. */
  idOf(digest: DigestName, data: Uint8Array): Uint8Array {
    if (data.length >= 4096 && isZero(data, this.zeroBytes(data.length))) {
      const key = `${digest}:${data.length}`;
      let id = this.zeroIds.get(key);
      if (!id) {
        id = createHash(digest).update(data).digest();
        this.zeroIds.set(key, id);
      }
      return id;
    }
    return createHash(digest).update(data).digest();
  }

  matches(digest: DigestName, id: Uint8Array, data: Uint8Array): boolean {
    return Buffer.compare(this.idOf(digest, data), id) === 0;
  }

  zeroBytes(size: number): Uint8Array {
    if (this.zeros.length < size) this.zeros = Buffer.alloc(size);
    return this.zeros.subarray(0, size);
  }

  /**
   * The chunk's bytes (valid until the next call: callers on one thread take turns,
   * as JobRunner's jobs do), or why the stored copy is not the chunk.
   */
  async unpack(digest: DigestName, id: Uint8Array, size: number, stored: Uint8Array, compressed: boolean): Promise<Uint8Array | string> {
    let data: Uint8Array | null;
    try {
      // zstd answers at once, into the shared buffer: no await (and no other
      // caller's turn) between decompressing and checking it.
      const r = compressed ? this.codec.decompress(stored, size) : stored;
      data = r instanceof Promise ? await r : r;
    } catch (e) {
      return `does not decompress (${(e as Error).message})`;
    }
    if (!data) return 'not in a known compression format (zstd, gzip, xz)';
    if (data.length !== size) return `holds ${data.length} bytes, the index says ${size}`;
    if (!this.matches(digest, id, data)) return `its ${digest} digest does not match its id`;
    return data;
  }
}

function isZero(data: Uint8Array, zeros: Uint8Array): boolean {
  // A first-byte test keeps the common (non-zero) case free; compare is memcmp.
  return data[0] === 0 && data[data.length - 1] === 0 && Buffer.compare(data, zeros) === 0;
}
