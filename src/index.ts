// wasync as a library, for Node, Bun and Deno (the package's "." export; web
// pages get src/browser.ts through the "browser" condition instead).
//
// Every operation is one async function taking one options object, and what
// it works on is passed in, never found in globals or the environment: inputs
// and outputs as paths or bytes, chunk stores as paths, URLs or objects
// (localStore, httpStore, MemoryStore, the combinators, or anything with get,
// has and put), progress as a callback and cancellation as an AbortSignal
// (which also stops mount, mkdev and serve).  These are the operations the
// command line runs, so what list, mtree, stat and digest return is what
// `wasync` prints, and the indexes make writes are the ones `wasync make` (and
// casync) writes.  Failures are WasyncError with a `code`.
//
// In-memory file systems (memfs and the like) plug in through bytes: a blob is
// made from a Uint8Array or an async iterable of them (a read stream of any
// file system) and extracted through onData.  Directory trees need the real
// Linux file system: extraction creates entries relative to directory
// descriptors with libc calls (openat, xattrs, ACLs, chattr flags), on worker
// threads, none of which an in-memory volume offers.

import { HttpStore } from './stores/http-store.ts';
import { LocalStore } from './platform/node/storage/local-store.ts';
import { httpClient } from './platform/node/storage/node-fetch.ts';
import { usageError } from './errors.ts';
import { classifyLocator } from './stores/locator.ts';
import type { TlsOptions } from './stores/http-client.ts';

export { make, type MakeOptions, type MakeResult, type MakeWhat } from './platform/node/operations/make.ts';
export { extract, type ExtractOptions, type ExtractResult, type ExtractWhat } from './platform/node/operations/extract.ts';
export { verify, type RemovedChunk, type VerifyOptions, type VerifyResult } from './platform/node/operations/verify.ts';
export { list, mtree, stat, type InspectOptions, type ListOptions } from './platform/node/operations/inspect.ts';
export { digest, type DigestOptions } from './platform/node/operations/digest.ts';
export { gc, type GcOptions, type GcResult } from './platform/node/operations/gc.ts';
export { pack, type PackOptions, type PackResult } from './platform/node/operations/pack.ts';
export { mount, type MountOptions, type MountResult } from './platform/node/operations/mount.ts';
export { mkdev, type MkdevOptions } from './platform/node/operations/mkdev.ts';
export { serve, type ServeOptions } from './platform/node/operations/serve.ts';
export { pull, push, type PullPushOptions } from './platform/node/operations/pull-push.ts';
export { readIndex, type IndexInfo } from './platform/node/operations/read-index.ts';
export { info, type InfoOptions, type InfoResult } from './platform/node/operations/info.ts';
export { chop, type ChopOptions, type ChopResult } from './platform/node/operations/chop.ts';
export { cat, type CatOptions, type CatResult } from './platform/node/operations/cat.ts';
export { chunk, type ChunkEntry, type ChunkOptions, type ChunkResult } from './platform/node/operations/chunk-file.ts';
export { listChunks, type ListChunksOptions, type ListChunksResult, type ListedChunk } from './platform/node/operations/list-chunks.ts';
export { keygen, sign, type KeygenOptions, type KeygenResult, type SignOptions, type SignResult } from './platform/node/operations/sign.ts';
export type { TrustOptions } from './platform/node/trust/signed-input.ts';
export { parsePublicKey, parseSignature, type PublicKey, type Signature } from './trust/minisign.ts';
export type { Signer } from './trust/signature-check.ts';
export { COMPRESSIONS, compress, decompress, detectCompression } from './platform/node/operations/codecs.ts';
export type { StoreChoice, StoreLike, StoreObject } from './platform/node/operations/stores.ts';
export type { NetworkOptions } from './platform/node/operations/network.ts';
export { configReport, defaultConfigFile, effectiveOptions, loadConfig } from './platform/node/operations/config.ts';
export { parseConfig, type S3CredentialOptions, type StoreOptions, type WasyncConfig } from './stores/store-config.ts';
export type { ChunkSizes, Compression, DigestName, FeatureOptions, FetchStats, OperationNotice, OperationOptions, ProgressReport } from './platform/node/operations/common.ts';
export type { ChunkRead, ChunkSource, ChunkStore, WriteStore } from './stores/store.ts';
export { CacheStore } from './stores/cache-store.ts';
export { ChainStore } from './stores/chain-store.ts';
export { CheckedStore, type ChunkCheck } from './stores/checked-store.ts';
export { FailoverStore } from './stores/failover-store.ts';
export { MemoryStore } from './stores/memory-store.ts';
export { EncryptedStore, type EncryptionOptions } from './stores/encrypted-store.ts';
export { CIPHERS, encryptedExtension, encryptionKeyId, type CipherName } from './stores/chunk-cipher.ts';
export { HttpStore, LocalStore };
export { WasyncError, type ErrorCode } from './errors.ts';
export type { TlsOptions } from './stores/http-client.ts';
export type { UidShift } from './platform/node/tree/apply-metadata.ts';

/** A casync store directory: <dir>/<4 hex>/<id>.cacnk. */
export const localStore = (dir: string) => new LocalStore(dir);

export interface HttpStoreOptions {
  /** sent as "Authorization: Bearer …" (a writable `wasync serve` needs it for put) */
  token?: string;
  /** for https://: the CAs trusted instead of the system's, a client certificate and key (PEM text) */
  tls?: TlsOptions;
}

/** A store served over HTTP(S) in casync's layout (put needs a server that takes PUT, such as `wasync serve --writable`). */
export function httpStore(url: string, o: HttpStoreOptions = {}): HttpStore {
  if (classifyLocator(url) !== 'url') throw usageError(`${url}: not an http:// or https:// URL`);
  return new HttpStore(url, httpClient({ token: o.token, tls: o.tls }));
}
