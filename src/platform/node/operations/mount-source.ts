// What `mount` serves: the input (a .catar, .caidx or .caibx, a path or an
// http(s) URL) opened for random access and wrapped in the FuseFs the FUSE
// session asks; and the random-access opening of an index mkdev shares.
//
//   .catar   local: read at offsets from the file; remote: HTTP Range requests
//   .caidx   the index's chunk table; chunks from the seeds, then the stores,
//            fetched and verified on the worker pool (pool/chunk-loader.ts),
//            cached, read ahead
//   .caibx   the same, shown as one regular file (blob-fs.ts)
//
// Index-backed readers keep enough decoded chunks for the read-ahead window of
// sequential readers (chunks are fetched ahead of them, at most 16 at a time),
// so that the kernel's next READs find their chunks decoded.

import { stat } from 'node:fs/promises';
import { usageError, WasyncError } from '../../../errors.ts';
import type { IndexReadAt, ReadAt } from '../../../engine/random-access.ts';
import { CatarLookup } from '../../../format/catar-lookup.ts';
import { hex64 } from '../../../format/feature-flags.ts';
import type { IndexHeader } from '../../../format/index-file.ts';
import { S_IFDIR, S_IFREG } from '../../../format/catar-node.ts';
import { FileReadAt } from '../io/random-access.ts';
import { ArchiveFs } from '../fuse/archive-fs.ts';
import { BlobFs } from '../fuse/blob-fs.ts';
import type { FuseFs } from '../fuse/fuse-session.ts';
import { HttpReadAt } from '../../../stores/http-read-at.ts';
import { classifyLocator } from '../../../stores/locator.ts';
import { linuxFs } from '../linux/index.ts';
import type { OperationOptions } from './common.ts';
import { Extraction } from './extraction.ts';
import { Network, type NetworkOptions } from './network.ts';
import type { StoreChoice } from './stores.ts';
import { checkSignedFile, trustPolicy, type TrustOptions } from '../trust/signed-input.ts';

/** What an index served by random access (mount, mkdev) reads from. */
export interface IndexServeOptions extends NetworkOptions, StoreChoice, TrustOptions, Pick<OperationOptions, 'workers' | 'onWarning' | 'notify'> {
  /** files, block devices or (archive indexes) directories whose chunks are used first */
  seeds?: string[];
}

export type MountWhat = 'archive' | 'archive-index' | 'blob-index';

export interface MountSource {
  fs: FuseFs;
  /** S_IFDIR, or S_IFREG for a blob mounted onto a file */
  rootMode: number;
  /** the archive's feature flags (null for a blob) */
  featureFlags: bigint | null;
  close(): Promise<void>;
}

const READ_AHEAD_BYTES = 8 << 20;
const READ_AHEAD_INFLIGHT = 16;

/**
 * Announced ranges → chunks fetched early, at most READ_AHEAD_INFLIGHT at once;
 * each finished fetch starts the next chunk of the latest window, so the
 * workers stay busy while the reader waits for its own request.
 */
function chunkReadAhead(r: IndexReadAt, remember: number): (offset: number, length: number) => void {
  const t = r.table;
  const asked = new Map<number, true>();
  let inflight = 0;
  let next = 0;
  let last = -1;
  const pump = () => {
    for (; next <= last && inflight < READ_AHEAD_INFLIGHT; next++) {
      if (asked.has(next)) continue;
      asked.set(next, true);
      if (asked.size > remember) asked.delete(asked.keys().next().value as number);
      inflight++;
      // Errors surface (once) when the chunk is really read.
      r.chunk(next).catch(() => {}).finally(() => {
        inflight--;
        pump();
      });
    }
  };
  return (offset, length) => {
    if (length <= 0 || offset >= t.size) return;
    next = t.find(offset);
    last = t.find(Math.min(t.size, offset + length) - 1);
    pump();
  };
}

/**
 * The index opened for random access: its chunks fetched, decompressed and
 * checked on the worker pool, from the seeds first, then the stores.
 */
export async function openIndexReader(loc: string, o: IndexServeOptions, tuning: { cacheChunks: (h: IndexHeader) => number; readAhead: number; treeSeeds: boolean }) {
  const linux = tuning.treeSeeds && o.seeds?.length ? linuxFs() : null;
  const ex = await Extraction.open({ ...o, index: loc, stores: o, network: o, pool: true, trees: linux ?? undefined, trust: o });
  try {
    const reader = await ex.reader({ cacheChunks: tuning.cacheChunks(ex.header), readAhead: tuning.readAhead });
    return { header: ex.header, reader, close: () => ex.close() };
  } catch (e) {
    await ex.close();
    throw e;
  }
}

/** The index's reader, its cache sized for the read-ahead window. */
async function indexReader(loc: string, o: IndexServeOptions, treeSeeds: boolean) {
  const cacheChunks = (h: IndexHeader) => Math.max(64, Math.ceil((3 * READ_AHEAD_BYTES) / Math.max(1, h.avg)));
  const opened = await openIndexReader(loc, o, { cacheChunks, readAhead: 0, treeSeeds });
  return { ...opened, readAhead: chunkReadAhead(opened.reader, cacheChunks(opened.header) >> 1) };
}

/** The name a blob's file gets: the index's last path component without ".caibx". */
function blobName(loc: string): Uint8Array {
  const path = classifyLocator(loc) === 'url' ? new URL(loc).pathname : loc;
  const base = path.replace(/\/+$/, '').split('/').pop() ?? '';
  const name = base.endsWith('.caibx') && base.length > 6 ? base.slice(0, -6) : base || 'blob';
  return Buffer.from(name);
}

export async function openMountSource(
  input: string,
  what: MountWhat,
  mountpointIsFile: boolean,
  o: IndexServeOptions,
): Promise<MountSource> {
  const url = classifyLocator(input) === 'url';
  if (mountpointIsFile && what !== 'blob-index') {
    throw usageError(`an archive is mounted on a directory; the mount point is a regular file`);
  }
  if (what === 'archive' && o.seeds?.length) throw usageError('--seed applies to indexes (.caidx, .caibx), not to a .catar');
  if (what === 'blob-index') {
    const { reader, readAhead, close } = await indexReader(input, o, false);
    const mtimeNs = url ? BigInt(Date.now()) * 1_000_000n : (await stat(input, { bigint: true })).mtimeNs;
    const fs = new BlobFs(reader, {
      name: mountpointIsFile ? null : blobName(input),
      mtimeNs,
      uid: process.getuid?.() ?? 0,
      gid: process.getgid?.() ?? 0,
      readAhead,
      readAheadBytes: READ_AHEAD_BYTES,
    });
    return { fs, rootMode: mountpointIsFile ? S_IFREG : S_IFDIR, featureFlags: null, close };
  }
  let r: ReadAt;
  let close = async () => {};
  let indexFlags: bigint | null = null;
  let readAhead: ((offset: number, length: number) => void) | undefined;
  if (what === 'archive') {
    const net = new Network(o);
    await checkSignedFile(input, trustPolicy(o), net.client);
    if (url) r = await HttpReadAt.open(input, net.client);
    else {
      const f = await FileReadAt.open(input);
      r = f;
      close = () => f.close();
    }
  } else {
    const opened = await indexReader(input, o, true);
    r = opened.reader;
    readAhead = opened.readAhead;
    indexFlags = opened.header.flags;
    close = opened.close;
  }
  try {
    const lookup = new CatarLookup(r, input);
    const root = await lookup.root();
    if (indexFlags !== null && lookup.featureFlags !== indexFlags) {
      throw new WasyncError('EFORMAT', `${input}: the archive's feature flags ${hex64(lookup.featureFlags)} differ from the index's ${hex64(indexFlags)}`);
    }
    const fs = new ArchiveFs(lookup, root, { readAhead, readAheadBytes: READ_AHEAD_BYTES });
    return { fs, rootMode: S_IFDIR, featureFlags: lookup.featureFlags, close };
  } catch (e) {
    await close();
    throw e;
  }
}
