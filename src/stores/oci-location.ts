// desync's OCI registry locators, so that one repository serves both tools:
// `oci+http(s)://[user:password@]host[:port]/repository` names a chunk store,
// whose chunk `<id>` is the artifact tagged `<id>.cacnk` (desync's oci.go);
// the same followed by `/NAME.caibx` (or .caidx, .catar, and a .minisig beside
// them) names a file kept as an artifact tagged NAME.caibx, which desync has
// no place for and wasync adds in the same shape (oci-fetch.ts).  Repository
// names are lowercase path components as the distribution spec has them; a
// tag is at most 128 of [A-Za-z0-9_.-], not starting with '.' or '-'.

import { usageError, withoutPasswords } from '../errors.ts';

export interface OciLocation {
  /** `http://host:port` or `https://…`, without credentials */
  registry: string;
  /** `host[:port]`, how messages name the registry */
  host: string;
  repo: string;
  /** the tag of a file or chunk, or null for the repository itself */
  tag: string | null;
  /** user and password from the URL, if it has them */
  credentials: OciCredentials | null;
  /** the query ('' or `a=b&…`), which only the store's own requests use (oci-store.ts) */
  query: string;
}

export interface OciCredentials {
  username: string;
  password: string;
}

export const isOciLocator = (loc: string) => /^oci\+https?:\/\//i.test(loc);

const REPO_RE = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
/** The last path segment names a file, not a repository component, when it is one of casync's. */
const FILE_RE = /\.(?:caibx|caidx|catar)(?:\.minisig)?$|^[0-9a-f]{64}\.cacnk(?:\.[A-Za-z0-9_.-]+)?$/;

const FORM = 'oci+http(s)://host[:port]/repository[/NAME.caibx]';

/** `loc` taken apart; a locator without a repository, or with one or a tag the registry would refuse, is refused. */
export function parseOciLocator(loc: string): OciLocation {
  const m = /^oci\+(https?):\/\/(?:([^@/?#]*)@)?([^@/?#]+)([^?#]*)(?:\?([^#]*))?$/i.exec(loc);
  if (!m) throw usageError(`${redact(loc)}: not an OCI locator (${FORM})`);
  const [, scheme, userinfo, host, path, query = ''] = m;
  const parts = path.split('/').filter((p) => p !== '');
  const tag = parts.length > 1 && FILE_RE.test(parts[parts.length - 1]) ? decodeURIComponent(parts.pop()!) : null;
  const repo = parts.join('/');
  if (!repo) throw usageError(`${redact(loc)}: no repository named (${FORM})`);
  if (!REPO_RE.test(repo)) throw usageError(`${redact(loc)}: ${repo} is not a valid OCI repository name (lowercase letters, digits, and . _ - between them)`);
  if (tag !== null && !TAG_RE.test(tag)) throw usageError(`${redact(loc)}: ${tag} cannot be an OCI tag (at most 128 of A-Z a-z 0-9 _ . -)`);
  let credentials: OciCredentials | null = null;
  if (userinfo !== undefined) {
    const colon = userinfo.indexOf(':');
    const username = decodeURIComponent(colon < 0 ? userinfo : userinfo.slice(0, colon));
    credentials = { username, password: colon < 0 ? '' : decodeURIComponent(userinfo.slice(colon + 1)) };
  }
  return { registry: `${scheme.toLowerCase()}://${host}`, host, repo, tag, credentials, query };
}

/** The locator of `tag` in the repository of `l` (null: the repository), credentials and `query` kept. */
export function ociLocator(l: OciLocation, tag: string | null, query = ''): string {
  const auth = l.credentials ? `${encodeURIComponent(l.credentials.username)}:${encodeURIComponent(l.credentials.password)}@` : '';
  return `oci+${l.registry.replace('://', `://${auth}`)}/${l.repo}${tag === null ? '' : `/${tag}`}${query ? `?${query}` : ''}`;
}

/** How messages name an artifact: `OCI registry H, repository R[, tag T]`. */
export const ociWhere = (l: OciLocation, tag = l.tag) => `OCI registry ${l.host}, repository ${l.repo}${tag === null ? '' : `, tag ${tag}`}`;

/** `loc` without the password of its userinfo, for messages and store names. */
export const redact = withoutPasswords;
