// Chunk ids and chunk checks on Node: node:crypto's SHA-512/256 and SHA-256
// (OpenSSL), libzstd, node:zlib and liblzma (chunk-codec.ts).  One NodeChunks
// per thread: it keeps the codec contexts and the ids of all-zero chunks of
// each size, which images hold many of and which would otherwise be hashed
// again each time.

import { createHash } from 'node:crypto';
import type { DigestName } from '../../../chunk/digest.ts';
import type { ChunkCheck } from '../../../stores/checked-store.ts';
import { ChunkCodec } from './chunk-codec.ts';

export const digestOf = (name: DigestName, data: Uint8Array): Uint8Array => createHash(name).update(data).digest();

export class NodeChunks {
  readonly codec = new ChunkCodec();
  private readonly zeroIds = new Map<string, Uint8Array>();
  private readonly checks = new Map<DigestName, ChunkCheck>();
  private zeros = Buffer.alloc(0);

  /** The chunk id; all-zero chunks use a cached digest per size. */
  idOf(digest: DigestName, data: Uint8Array): Uint8Array {
    if (data.length >= 4096 && isZero(data, this.zeroBytes(data.length))) {
      const key = `${digest}:${data.length}`;
      let id = this.zeroIds.get(key);
      if (!id) this.zeroIds.set(key, (id = digestOf(digest, data)));
      return id;
    }
    return digestOf(digest, data);
  }

  matches(digest: DigestName, id: Uint8Array, data: Uint8Array): boolean {
    return Buffer.compare(this.idOf(digest, data), id) === 0;
  }

  /** `size` zero bytes (a view of a buffer kept for this; do not modify). */
  zeroBytes(size: number): Uint8Array {
    if (this.zeros.length < size) this.zeros = Buffer.alloc(size);
    return this.zeros.subarray(0, size);
  }

  /** The ChunkCheck of chunks with `digest` ids. */
  check(digest: DigestName): ChunkCheck {
    let c = this.checks.get(digest);
    if (!c) {
      c = { digest, decompress: (stored, size, into) => this.codec.decompress(stored, size, into), idOf: (data) => this.idOf(digest, data) };
      this.checks.set(digest, c);
    }
    return c;
  }
}

function isZero(data: Uint8Array, zeros: Uint8Array): boolean {
  // A first-byte test keeps the common (non-zero) case free; compare is memcmp.
  return data[0] === 0 && data[data.length - 1] === 0 && Buffer.compare(data, zeros) === 0;
}
