// casync's locators (casync-format.md §7.4): a URL ("scheme://host/…"), an ssh
// location ("[user@]host:path") or a local path; the operation a locator implies
// from its suffix; and the default store beside an index.
//
// A URL of a scheme wasync cannot reach is refused where it is classified, so
// that no command tries one (casync hands every scheme to a helper program,
// and reaches ftp:// and sftp:// that way).

import { unsupported } from '../errors.ts';

export type LocatorClass = 'url' | 'ssh' | 'path';

/**
 * The URL schemes wasync reaches (besides file://, which names a path).  The
 * one list: a new transport adds its scheme here and its store beside HttpStore.
 */
export const URL_SCHEMES: readonly string[] = ['http', 'https', 's3+http', 's3+https', 'oci+http', 'oci+https'];

/** What a locator may be, for messages about one that is none of them. */
export const SUPPORTED_LOCATORS = `${URL_SCHEMES.map((s) => `${s}://`).join(', ')} and file:// URLs, [user@]host:path (ssh) or a local path`;

const URL_RE = /^[a-z][a-z0-9+.-]*:\/\/[A-Za-z0-9_.@:[\]-]+(?:[/;?]|$)/;
const SSH_RE = /^(?:[A-Za-z0-9_.-]+@)?[A-Za-z0-9_.-]+:./;

/** What `loc` is; a URL whose scheme wasync cannot reach is refused (EUNSUPPORTED). */
export function classifyLocator(loc: string): LocatorClass {
  if (loc.startsWith('/') || loc.startsWith('./') || loc === '.' || loc === '..') return 'path';
  if (URL_RE.test(loc)) {
    const scheme = loc.slice(0, loc.indexOf(':')).toLowerCase();
    if (scheme !== 'file' && !URL_SCHEMES.includes(scheme)) {
      throw unsupported(`${loc}: unsupported URL scheme ${scheme}://; wasync reaches ${SUPPORTED_LOCATORS}`);
    }
    return 'url';
  }
  if (SSH_RE.test(loc)) return 'ssh';
  return 'path';
}

/**
 * Whether `loc` is a failover group, `a|b` in desync's notation: members
 * split at '|', each a locator of its own (classify them one by one).
 */
export const isFailoverGroup = (loc: string) => loc.includes('|');

/** file:// URLs become paths (with %-unescaping), as casync does. */
export function stripFileUrl(loc: string): string {
  return loc.startsWith('file://') ? decodeURIComponent(loc.slice('file://'.length)) : loc;
}

/** The locator without URL query or ';' arguments. */
function locatorPath(loc: string): string {
  return classifyLocator(loc) === 'url' ? loc.replace(/[?;].*$/, '') : loc;
}

export const hasSuffix = (loc: string, suffix: string) => locatorPath(loc).endsWith(suffix);

/**
 * `dir/x.caibx` → `dir/default.castr`; likewise for URLs and ssh locations.
 * An index in an OCI repository has the repository for its store (desync's
 * chunk store is a repository of its own).
 */
export function defaultStoreFor(indexLoc: string): string {
  const loc = locatorPath(indexLoc);
  const cls = classifyLocator(loc);
  if (/^oci\+https?:\/\//i.test(loc)) return loc.slice(0, loc.lastIndexOf('/'));
  const slash = loc.lastIndexOf('/');
  if (cls === 'ssh' && (slash < 0 || slash < loc.indexOf(':'))) {
    return `${loc.slice(0, loc.indexOf(':') + 1)}default.castr`;
  }
  return slash < 0 ? 'default.castr' : `${loc.slice(0, slash + 1)}default.castr`;
}
