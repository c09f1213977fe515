// wasync gc BLOB_INDEX|ARCHIVE_INDEX…: removes from the store every chunk file
// (.cacnk) that none of the given indexes references, with casync's messages.
// All indexes are read completely before anything is removed, so an unreadable
// index stops gc instead of making it delete what that index needed.

import { readdirSync, rmdirSync, unlinkSync } from 'node:fs';
import { WasyncError, ioError, usageError } from '../errors.ts';
import { CHUNK_SUFFIX, isChunkIdHex, toHex } from '../chunk/chunk-id.ts';
import { openIndexStream } from '../engine/index-stream.ts';
import { openIndexInput } from '../platform/node/io/index-input.ts';
import { classifyLocator, stripFileUrl } from '../stores/locator.ts';
import type { GlobalOptions } from './options.ts';
import { primaryStore } from './stores.ts';

export async function gc(indexArgs: string[], opts: GlobalOptions) {
  if (!indexArgs.length) throw usageError('gc: expected at least one index');
  const indexes = indexArgs.map(stripFileUrl);
  const store = primaryStore(opts, indexes[0]);
  if (store === null) throw usageError('gc: cannot determine the store; use --store=PATH');
  if (classifyLocator(store) !== 'path') throw usageError(`gc: ${store} is remote; gc works on a local store only`);
  const used = new Set<string>();
  let references = 0;
  for (const path of indexes) {
    const index = openIndexInput(path);
    const { entries } = await openIndexStream(index.bytes, index.name);
    for await (const batch of entries) {
      for (const e of batch) {
        used.add(toHex(e.id));
        references++;
      }
    }
  }
  const say = (line: string) => process.stdout.write(`${line}\n`);
  if (opts.verbose) say(`Chunk store usage: ${references} references, ${used.size} chunks`);

  let all = 0;
  let removed = 0;
  let removedDirs = 0;
  let subdirs: string[];
  try {
    subdirs = readdirSync(store);
  } catch (e) {
    throw ioError('EINPUT', store, e);
  }
  for (const sub of subdirs) {
    const dir = `${store}/${sub}`;
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOTDIR') continue;
      throw ioError('EINPUT', dir, e);
    }
    for (const name of names) {
      if (!name.endsWith(CHUNK_SUFFIX)) continue;
      all++;
      const id = name.slice(0, -CHUNK_SUFFIX.length);
      if (!isChunkIdHex(id)) {
        process.stderr.write(`wasync: ${dir}/${name}: not a chunk id, ignoring\n`);
        continue;
      }
      if (used.has(id)) continue;
      if (opts.verbose) say(`${opts.dryRun ? 'Would remove' : 'Removing'} chunk ${name}.`);
      if (!opts.dryRun) {
        try {
          unlinkSync(`${dir}/${name}`);
        } catch (e) {
          process.stderr.write(`wasync: ${new WasyncError('EOUTPUT', `${dir}/${name}: cannot remove: ${(e as Error).message}`).message}\n`);
          continue;
        }
        try {
          rmdirSync(dir);
          removedDirs++;
        } catch {}
      }
      removed++;
    }
  }
  if (opts.dryRun) say(`Would remove ${removed} chunks, ${all - removed} chunks remaining.`);
  else if (opts.verbose) say(`Removed ${removed} chunks, ${removedDirs} directories, ${all - removed} chunks remaining.`);
}
