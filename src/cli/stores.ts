// Which stores a command uses: --store, else $CASYNC_STORE, else default.castr
// beside the index (casync-format.md §7.4); then every --extra-store.

import { unsupported, usageError } from '../errors.ts';
import { classifyLocator, defaultStoreFor, stripFileUrl } from './locator.ts';
import type { GlobalOptions } from './options.ts';

/** The write (primary) store for an index locator, or null if none can be derived. */
export function primaryStore(opts: GlobalOptions, indexLoc: string | null): string | null {
  const explicit = opts.store ?? process.env.CASYNC_STORE;
  if (explicit !== undefined && explicit !== '') return localStore(explicit);
  if (indexLoc === null || indexLoc === '-') return null;
  return localStore(defaultStoreFor(indexLoc));
}

/** The primary store (if any) followed by the extra stores, for reading. */
export function readStores(opts: GlobalOptions, indexLoc: string | null): string[] {
  const primary = primaryStore(opts, indexLoc);
  const extra = (opts.extraStore ?? []).map(localStore);
  const all = primary === null ? extra : [primary, ...extra];
  if (!all.length) throw usageError('no chunk store: give --store=PATH (the index is read from standard input)');
  return all;
}

function localStore(loc: string): string {
  const path = stripFileUrl(loc);
  const cls = classifyLocator(path);
  if (cls !== 'path') {
    throw unsupported(`${loc}: ${cls === 'url' ? 'HTTP' : 'ssh'} stores are not supported by this version of wasync; use a local store`);
  }
  return path;
}
