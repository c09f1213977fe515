// Which JavaScript runtime runs this code, and the few ways Bun and Deno differ
// from Node that wasync has to work around.  Every runtime-specific branch in
// the Node platform layer keys off the constants here, so the differences are
// listed in one place:
//
//   * Deno's node:fs accepts only descriptors that node:fs opened on the same
//     thread: a descriptor from koffi (the Linux adapter's openat) or one a job
//     carries to a worker thread gives EBADF, although it is a valid descriptor
//     of the process.  fd-io.ts sends those calls to libc instead.
//   * Deno's node:fs stat times are whole milliseconds (mtimeNs ends in 000000);
//     archives need nanoseconds, so fd-io.ts takes the times from statx.
//   * Deno stops delivering BroadcastChannel messages posted by worker threads
//     once every channel of the main thread has been closed: channels opened
//     afterwards hear nothing from workers.  store-relay.ts keeps one unused,
//     unreferenced channel open for the life of the process.
//
// Bun behaves as Node does in everything wasync uses (worker threads,
// SharedArrayBuffer, N-API addons: zstd-napi, lzma-native, koffi).

export type RuntimeName = 'node' | 'bun' | 'deno';

const g = globalThis as { Deno?: { version?: { deno?: string } }; Bun?: { version?: string } };

export const RUNTIME: RuntimeName = g.Deno !== undefined ? 'deno' : g.Bun !== undefined ? 'bun' : 'node';

/** "node 20.20.2", "bun 1.4.5", "deno 2.9.5" */
export const RUNTIME_VERSION = `${RUNTIME} ${
  RUNTIME === 'deno' ? g.Deno?.version?.deno : RUNTIME === 'bun' ? g.Bun?.version : process.versions.node
}`;

/** node:fs refuses descriptors it did not open on the calling thread. */
export const FS_FOREIGN_FDS_REFUSED = RUNTIME === 'deno';

/** node:fs stat times are rounded to milliseconds. */
export const FS_STAT_TIMES_IN_MS = RUNTIME === 'deno';

/** Closing a thread's last BroadcastChannel breaks delivery from workers to channels opened later. */
export const BROADCAST_NEEDS_ANCHOR = RUNTIME === 'deno';

/**
 * Running as the single executable `bun build --compile` made (scripts/build-exe.mjs):
 * the bundled modules live under /$bunfs/, and there is no package directory.
 */
export const SINGLE_EXECUTABLE = RUNTIME === 'bun' && import.meta.url.startsWith('file:///$bunfs/');
