// wasync as a library, for Node, Bun and Deno (the package's "." export; web
// pages get src/browser.ts through the "browser" condition instead).
//
// Every operation is one async function taking one options object, and what
// it works on is passed in, never found in globals or the environment: inputs
// and outputs as paths or bytes, chunk stores as paths, URLs or objects
// (localStore, httpStore, MemoryStore, or anything with get/has/put),
// progress as a callback and cancellation as an AbortSignal.  The work is the
// command line's own engine, so what list, mtree, stat and digest return is
// what `wasync` prints, and the indexes make writes are the ones `wasync make`
// (and casync) writes.  Failures are WasyncError with a `code`.
//
// In-memory file systems (memfs and the like) plug in through bytes: a blob is
// made from a Uint8Array or an async iterable of them (a read stream of any
// file system) and extracted through onData.  Directory trees need the real
// Linux file system: extraction creates entries relative to directory
// descriptors with libc calls (openat, xattrs, ACLs, chattr flags), on worker
// threads, none of which an in-memory volume offers.

import './platform/node/stores/node-fetch.ts'; // HTTP requests on node:http (see there)

export { make, type MakeOptions, type MakeResult, type MakeWhat } from './api/make.ts';
export { extract, type ExtractOptions, type ExtractResult, type ExtractWhat } from './api/extract.ts';
export {
  digest,
  list,
  mtree,
  readIndex,
  stat,
  verify,
  type DigestOptions,
  type IndexInfo,
  type InspectOptions,
  type ListOptions,
  type VerifyOptions,
  type VerifyResult,
} from './api/inspect.ts';
export {
  MemoryStore,
  httpStore,
  localStore,
  type ChunkStore,
  type HttpStoreOptions,
  type LocatedStore,
  type RemoteOptions,
  type StoreLike,
} from './api/stores.ts';
export { COMPRESSIONS, compress, decompress, detectCompression } from './api/codecs.ts';
export type {
  ChunkSizes,
  Compression,
  DigestName,
  FeatureOptions,
  FetchStats,
  OperationOptions,
  ProgressReport,
} from './api/common.ts';
export { WasyncError, type ErrorCode } from './errors.ts';
export type { UidShift } from './platform/node/tree/apply-metadata.ts';
