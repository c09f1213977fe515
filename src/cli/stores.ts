// Which stores a command uses: --store, else $CASYNC_STORE, else default.castr
// beside the index (casync-format.md §7.4); then every --extra-store.  For
// reading they are tried in casync's order (§7.5): the local write store, the
// cache, the local extra stores, then the remote stores, the write store first.

import { unsupported, usageError } from '../errors.ts';
import { classifyLocator, defaultStoreFor, stripFileUrl } from '../stores/locator.ts';
import type { GlobalOptions } from './options.ts';

/**
 * The write (primary) store for an index locator, or null if none can be
 * derived.  `ssh`: the command can use ssh stores (extract, make).
 */
export function primaryStore(opts: GlobalOptions, indexLoc: string | null, ssh = false): string | null {
  const explicit = opts.store ?? process.env.CASYNC_STORE;
  if (explicit !== undefined && explicit !== '') return storeLocator(explicit, ssh);
  if (indexLoc === null || indexLoc === '-') return null;
  return storeLocator(defaultStoreFor(indexLoc), ssh);
}

/** Every store to read chunks from, in the order they are tried. */
export function readStores(opts: GlobalOptions, indexLoc: string | null, ssh = false): string[] {
  const primary = primaryStore(opts, indexLoc, ssh);
  const all = [...(primary === null ? [] : [primary]), ...(opts.extraStore ?? []).map((s) => storeLocator(s, ssh))];
  if (!all.length) throw usageError('no chunk store: give --store=PATH (the index is read from standard input)');
  const local = all.filter((s) => classifyLocator(s) === 'path');
  const remote = all.filter((s) => classifyLocator(s) !== 'path');
  if (opts.cache !== undefined) local.splice(primary !== null && local[0] === primary ? 1 : 0, 0, storeLocator(opts.cache));
  return [...local, ...remote];
}

/** A store given as a path, file:// URL, URL or (where `ssh`) [user@]host:path. */
export function storeLocator(loc: string, ssh = false): string {
  const path = stripFileUrl(loc);
  if (!ssh && classifyLocator(path) === 'ssh') {
    throw unsupported(`${loc}: ssh stores are not supported by this command`);
  }
  return path;
}
