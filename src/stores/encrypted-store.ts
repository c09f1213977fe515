// The encrypting store: a combinator over a store (a local directory, an HTTP
// store) that keeps every chunk sealed, in desync's layout (chunk-cipher.ts):
// the compressed chunk, sealed, under `<id>.cacnk.<algorithm>-<keyid>`.  The
// store beneath names its files with that extension (withSuffix), so plain
// chunks and chunks under other keys beside them are neither read nor
// listed nor removed through this one, as in desync.  What get() returns is
// the compressed chunk again, which CheckedStore then checks against its id
// like any other: the cipher authenticates the bytes under the key, the id
// what they are (an encrypted file renamed to another id is caught there).
//
// The chunk ids, and so the names of the files, stay visible, as in desync.

import { chunkCorrupt, unsupported } from '../errors.ts';
import { encryptedExtension, encryptionKeyId, nobleCipher, type CipherFactory, type CipherName, type ChunkCipher } from './chunk-cipher.ts';
import type { LeafSpec, StoreSpec } from './store-graph.ts';
import { absentOf, whereOf, writable, type ChunkStore, type WriteStore } from './store.ts';
import { CHUNK_SUFFIX, toHex } from '../chunk/chunk-id.ts';

/** A store whose chunk files can be given another name extension (local directories, HTTP stores). */
export interface SuffixedStore extends ChunkStore {
  /** the same store, its chunk files named `<id><suffix>` instead of `<id>.cacnk` */
  withSuffix(suffix: string): ChunkStore;
  /** the suffixes chunk `id` is kept under, where the store can tell (a directory can; HTTP cannot) */
  suffixesOf?(id: string): Promise<string[]>;
}

const suffixable = (s: ChunkStore): s is SuffixedStore => typeof (s as Partial<SuffixedStore>).withSuffix === 'function';

export interface EncryptionOptions {
  key: Uint8Array;
  /** default xchacha20-poly1305, as desync */
  cipher?: CipherName;
  /** the implementation of the cipher (default @noble/ciphers') */
  ciphers?: CipherFactory;
}

export class EncryptedStore implements WriteStore {
  readonly name: string;
  readonly cipherName: CipherName;
  /** desync's key id: the first 4 bytes of the key's SHA-256, in hex */
  readonly keyId: string;
  /** the store beneath, naming its files with the extension */
  readonly inner: ChunkStore;
  private readonly cipher: ChunkCipher;
  private readonly key: Uint8Array;
  private readonly suffix: string;

  constructor(store: ChunkStore, o: EncryptionOptions) {
    this.cipherName = o.cipher ?? 'xchacha20-poly1305';
    this.key = o.key;
    this.cipher = (o.ciphers ?? nobleCipher)(this.cipherName, o.key);
    this.keyId = encryptionKeyId(o.key);
    if (!suffixable(store)) throw unsupported(`${store.name}: cannot hold encrypted chunks (only local directories, HTTP, S3 and OCI stores can)`);
    this.suffix = CHUNK_SUFFIX + encryptedExtension(this.cipherName, o.key);
    this.inner = store.withSuffix(this.suffix);
    this.name = `${store.name} (${this.cipherName}, key ${this.keyId})`;
  }

  async get(id: string): Promise<Uint8Array | null> {
    const sealed = await this.inner.get(id);
    if (!sealed) return this.missing(id);
    const plain = await this.cipher.open(sealed);
    if (!plain) throw chunkCorrupt(id, whereOf(this.inner, id), `does not decrypt with ${this.cipherName} key ${this.keyId} (a wrong key, or damaged)`);
    return plain;
  }

  /** null; but a chunk kept under another key (or plain) is a wrong key, and says so. */
  private async missing(id: string): Promise<null> {
    const others = ((await (this.inner as Partial<SuffixedStore>).suffixesOf?.(id)) ?? []).filter((x) => x !== this.suffix);
    if (!others.length) return null;
    const keys = others.map((x) => (x === CHUNK_SUFFIX ? 'unencrypted' : (/^\.cacnk\.([a-z0-9-]+)-([0-9a-f]{8})$/.exec(x)?.slice(1).join(' key ') ?? x))).join(', ');
    throw chunkCorrupt(id, this.inner.name, `is not encrypted with ${this.cipherName} key ${this.keyId}, only: ${keys} (a wrong key?)`);
  }

  has(id: string): Promise<boolean> {
    return this.inner.has(id);
  }

  async put(id: string, chunk: Uint8Array): Promise<boolean> {
    return writable(this.inner).put(id, await this.cipher.seal(chunk));
  }

  remove(id: string): Promise<boolean> {
    return writable(this.inner).remove(id);
  }

  list(): AsyncIterable<string> {
    return writable(this.inner).list();
  }

  where(id: string): string {
    return whereOf(this.inner, id);
  }

  absent = () => absentOf(this.inner);

  close(): Promise<void> {
    return this.inner.close();
  }

  describe(inner: (s: ChunkStore) => StoreSpec): StoreSpec {
    const store = inner(this.inner);
    if (store.kind !== 'local' && store.kind !== 'http' && store.kind !== 's3' && store.kind !== 'oci') throw unsupported(`${this.name}: an encrypted store over ${store.kind} cannot be passed to worker threads`);
    return { kind: 'encrypted', store: store as LeafSpec, cipher: this.cipherName, key: toHex(this.key) };
  }
}
