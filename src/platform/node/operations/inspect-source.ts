// What `list`, `mtree`, `stat` and `digest` read: an archive (.catar; a file,
// a URL or standard input), an archive index (.caidx, chunks from the stores)
// or a directory (encoded on the fly), and one way to walk any of them:
// runTarget() decodes the node at a path and its subtree.
//
// Archives and indexes are read at offsets, so a path is found through the GOODBYE
// tables (format/catar-lookup.ts) and only that node's bytes are decoded; standard
// input is read into memory first for the same reason.  A directory's stream can
// only be produced from the top, so there the events are cut down to the path.

import { statSync } from 'node:fs';
import { createHash, type Hash } from 'node:crypto';
import { WasyncError, usageError } from '../../../errors.ts';
import { BytesReadAt, type ReadAt } from '../../../engine/random-access.ts';
import { CatarLookup, subtreeEvents } from '../../../format/catar-lookup.ts';
import type { CatarEvent } from '../../../format/catar-decoder.ts';
import { S_IFDIR, S_IFMT, S_IFREG } from '../../../format/catar-node.ts';
import { hex64 } from '../../../format/feature-flags.ts';
import { HttpReadAt } from '../../../stores/http-read-at.ts';
import { classifyLocator } from '../../../stores/locator.ts';
import { FileReadAt } from '../io/random-access.ts';
import type { DigestName } from '../../../chunk/digest.ts';
import { archiveFlags, type FeatureOptions, type OperationOptions } from './common.ts';
import { Extraction } from './extraction.ts';
import { DirectoryStream } from './inspect-directory.ts';
import { PathFilter } from './inspect-walk.ts';
import { Network, type NetworkOptions } from './network.ts';
import type { TreeWhat } from './resolve.ts';
import type { StoreChoice } from './stores.ts';
import { checkSignedFile, trustPolicy, type TrustOptions } from '../trust/signed-input.ts';

export type TreeKind = TreeWhat;

/** Where a tree is read from, and how a directory would be archived. */
export interface TreeSourceOptions extends NetworkOptions, StoreChoice, TrustOptions, Pick<OperationOptions, 'notify'> {
  features?: FeatureOptions;
  /** directories: the digest their archive would use */
  digest?: DigestName;
}

/** An opened archive, index or directory. */
export interface TreeInput {
  kind: TreeKind;
  name: string;
  /** the archive's feature flags (for a directory: those `make` would use) */
  featureFlags: bigint;
  /** path lookups at offsets (archives and indexes) */
  lookup: CatarLookup | null;
  /** the encoded stream (directories) */
  dir: DirectoryStream | null;
  close(): Promise<void>;
}

/** Opens the input; null stands for standard input. */
export async function openTree(kind: TreeKind, input: string | null, o: TreeSourceOptions): Promise<TreeInput> {
  const name = input ?? 'standard input';
  if (kind === 'directory') {
    if (input === null) throw usageError('a directory cannot be read from standard input');
    const st = statSync(input, { throwIfNoEntry: false });
    if (!st?.isDirectory()) throw usageError(`${input} is not a directory`);
    const dir = new DirectoryStream(input, archiveFlags(o.features, o.digest));
    return { kind, name, featureFlags: dir.featureFlags, lookup: null, dir, close: async () => {} };
  }
  let r: ReadAt;
  let close = async () => {};
  let indexFlags: bigint | null = null;
  if (kind === 'archive') {
    const net = new Network(o);
    await checkSignedFile(input, trustPolicy(o), net.client);
    if (input === null) r = new BytesReadAt(await readStdin(), name);
    else if (classifyLocator(input) === 'url') r = await HttpReadAt.open(input, net.client);
    else {
      const f = await FileReadAt.open(input);
      r = f;
      close = () => f.close();
    }
  } else {
    const ex = await Extraction.open({ index: input, stores: o, network: o, trust: o });
    try {
      r = await ex.reader({ cacheChunks: 32, readAhead: 2 });
    } catch (e) {
      await ex.close();
      throw e;
    }
    indexFlags = ex.header.flags;
    close = () => ex.close();
  }
  try {
    const lookup = new CatarLookup(r, name);
    await lookup.root();
    // casync's decoder refuses an archive whose flags are not the index's.
    if (indexFlags !== null && lookup.featureFlags !== indexFlags) {
      throw new WasyncError('EFORMAT', `${name}: the archive's feature flags ${hex64(lookup.featureFlags)} differ from the index's ${hex64(indexFlags)}`);
    }
    return { kind, name, featureFlags: lookup.featureFlags, lookup, dir: null, close };
  } catch (e) {
    await close();
    throw e;
  }
}

async function readStdin(): Promise<Uint8Array> {
  const parts: Buffer[] = [];
  for await (const b of process.stdin) parts.push(b as Buffer);
  return Buffer.concat(parts);
}

export interface TargetResult {
  found: boolean;
  /** the requested digest of the node's bytes (ENTRY to end), null if not requested or not complete */
  digest: Uint8Array | null;
}

const isDir = (mode: number) => (mode & S_IFMT) === S_IFDIR;

/** What an event handler answers: true to stop; a promise to wait for first (output that is behind). */
export type EventAnswer = boolean | void | Promise<boolean | void>;

/**
 * Decodes the node at `path` and its subtree, events with depths counted from it,
 * until onEvent returns true; a promise it returns is waited for before the next
 * event.  `digestOf(mode)` names an algorithm to digest the node's own bytes with
 * (its ENTRY up to its end: the hardlink digest of a file, the subtree digest of
 * a directory), or null.
 */
export async function runTarget(
  t: TreeInput,
  path: readonly Uint8Array[],
  onEvent: (e: CatarEvent) => EventAnswer,
  digestOf: (mode: number) => DigestName | null = () => null,
): Promise<TargetResult> {
  if (t.lookup) {
    const loc = await t.lookup.lookup(path);
    if (!loc) return { found: false, digest: null };
    const alg = digestOf(loc.mode);
    const hash = alg ? createHash(alg) : null;
    let hashed = loc.entryOffset;
    const onBytes = (at: number, b: Uint8Array) => {
      const from = Math.max(at, hashed);
      const to = Math.min(at + b.length, loc.end);
      if (hash && to > from) {
        hash.update(b.subarray(from - at, to - at));
        hashed = to;
      }
    };
    for await (const e of subtreeEvents(t.lookup, loc, { onBytes })) {
      const answer = onEvent(e);
      if ((answer instanceof Promise ? await answer : answer) === true) break;
    }
    if (!hash) return { found: true, digest: null };
    await hashRest(t.lookup.r, hash, hashed, loc.end);
    return { found: true, digest: hash.digest() };
  }
  return runDirectory(t.dir!, path, onEvent, digestOf);
}

async function hashRest(r: ReadAt, hash: Hash, from: number, to: number) {
  for (let o = from; o < to; o += 1 << 20) hash.update(await r.read(o, Math.min(1 << 20, to - o)));
}

async function runDirectory(
  dir: DirectoryStream,
  path: readonly Uint8Array[],
  onEvent: (e: CatarEvent) => EventAnswer,
  digestOf: (mode: number) => DigestName | null,
): Promise<TargetResult> {
  const filter = new PathFilter(path);
  let digest: Uint8Array | null = null;
  /** the target is a regular file whose payload is still to come */
  let inPayload = false;
  let hashTo: number | null = null;
  let hashing = false;
  const finish = (to: number) => {
    digest = dir.hashResult(to);
    hashing = false;
  };
  await dir.run((raw) => {
    const e = filter.filter(raw);
    if (!e) return filter.done;
    const answer = onEvent(e);
    let stop = false;
    if (e.type === 'node' && e.depth === 0) {
      const mode = e.node.mode;
      const alg = digestOf(mode);
      if (alg) {
        // A non-directory's records (in one write, see encode-tree), then its payload.
        hashTo = isDir(mode) ? null : e.offset + dir.recordsAt(e.offset) + (e.node.size ?? 0);
        dir.hashFrom(e.offset, alg, hashTo);
        hashing = true;
      }
      inPayload = (mode & S_IFMT) === S_IFREG;
      if (!isDir(mode) && !inPayload) {
        if (hashing) finish(hashTo!);
        stop = true;
      }
    } else if (e.type === 'payload-end' && inPayload) {
      if (hashing) finish(hashTo!);
      stop = true;
    } else if (e.type === 'directory-end' && e.depth === 0) {
      if (hashing) finish(e.offset + dir.recordsAt(e.offset));
      stop = true;
    }
    const done = stop || filter.done;
    return answer instanceof Promise ? answer.then((a) => a === true || done) : answer === true || done;
  });
  return { found: filter.found, digest };
}
