// The library as it runs in a browser (package.json's "browser" condition): what
// needs no file system and no Node, only fetch, WebAssembly and Web Workers.
//
//   readIndex            a .caibx or .caidx held in memory → chunk table, distinct chunks
//   HttpStore/HttpClient casync's HTTP store layout over plain fetch, with retries
//   ChainStore, CacheStore, FailoverStore, CheckedStore, MemoryStore,
//   EncryptedStore                                                     stores over stores
//   webStores            HTTP stores checked with browser codecs + wasm digests, for the readers below
//   verifyChunk, verifyWithWorkers   one chunk; every chunk of an index on every core
//   decompressChunk      zstd, gzip and xz chunks (decode only)
//   digestBytes          SHA-512/256 and SHA-256 from the wasm core (no WebCrypto needed)
//   ArchiveTree, fileBytes           a .caidx's tree, and one file's bytes by random access
//   ChunkShare           one fetch per chunk between the tree and verifyWithWorkers
//   WasyncError          every failure, with a literal `code`
//
// Nothing reachable from here may import a `node:` module; test/web.test.ts
// bundles this entry for the browser and fails on any.

export { readIndex, indexReader, webStores, webCheck, digestBytes, fetchVerified, type LoadedIndex } from './platform/web/access.ts';
export { ChunkShare, type ChunkShareOptions } from './platform/web/chunk-share.ts';
export { decompressChunk, loadCodecs } from './platform/web/codecs.ts';
export { verifyWithWorkers, type PoolVerifyOptions, type PoolVerifyResult, type VerifyProgress } from './platform/web/verify-pool.ts';
export { ArchiveTree, fileBytes, spannedChunks, type TreeEntry } from './platform/web/archive-tree.ts';
export { DistinctChunks, verifyChunk, report, type ChunkVerdict, type VerifyReport } from './engine/verify.ts';
export { BytesReadAt, ChunkTable, IndexReadAt, loadFrom, readRange, type ChunkLoader, type ReadAt } from './engine/random-access.ts';
export type { ChunkRead, ChunkSource, ChunkStore, WriteStore } from './stores/store.ts';
export { ChainStore } from './stores/chain-store.ts';
export { CacheStore } from './stores/cache-store.ts';
export { FailoverStore } from './stores/failover-store.ts';
export { CheckedStore, checkStored, type ChunkCheck } from './stores/checked-store.ts';
export { MemoryStore } from './stores/memory-store.ts';
export { EncryptedStore, type EncryptionOptions } from './stores/encrypted-store.ts';
export { CIPHERS, encryptedExtension, encryptionKeyId, type CipherName } from './stores/chunk-cipher.ts';
export { HttpStore, storeBaseUrl } from './stores/http-store.ts';
export { HttpClient, type HttpOptions } from './stores/http-client.ts';
export { defaultStoreFor } from './stores/locator.ts';
export { parseIndex, IndexParser, type IndexEntry, type IndexHeader } from './format/index-file.ts';
export { CatarLookup, type CatarNodeLocation } from './format/catar-lookup.ts';
export { CatarNodeReader } from './format/catar-node-records.ts';
export { CatarDecoder, type CatarEvent } from './format/catar-decoder.ts';
export { detectCompression, type Compression } from './chunk/compression.ts';
export { digestOfFlags, type DigestName } from './format/feature-flags.ts';
export { wasmHashFactory } from './wasm/sha2.ts';
export { toHex, fromHex } from './chunk/chunk-id.ts';
export { WasyncError, type ErrorCode } from './errors.ts';
