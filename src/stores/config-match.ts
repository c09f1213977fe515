// Which entries of the configuration (store-config.ts) a location gets, and
// what they make of a remote store's requests.  Keys are matched as desync
// matches them: a URL with path.Match's globs (`*` and `?` stop at '/',
// `[…]` classes), a trailing '/' ignored; a path made absolute first.  Unlike
// desync, several entries may match one location: they apply in the file's
// order, a later one's keys winning, so that a glob can give defaults and an
// exact entry refine them.  S3 credentials are matched against the endpoint
// (`http://host:port`, desync's key).
//
// Options given on the command line or in the environment win over the file:
// the caller drops the keys it was given (withoutKeys) before the
// configuration travels to the threads.

import type { S3CredentialOptions, StoreOptions, WasyncConfig } from './store-config.ts';
import type { NetSpec } from './store-graph.ts';

const isUrl = (loc: string) => /^[a-z][a-z0-9+.-]+:\/\//i.test(loc);

/** Why `pattern` is not a glob path.Match accepts, or null. */
export function checkPattern(pattern: string): string | null {
  try {
    globRegExp(pattern);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

const compiled = new Map<string, RegExp>();

function globRegExp(pattern: string): RegExp {
  let re = compiled.get(pattern);
  if (re) return re;
  let src = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') src += '[^/]*';
    else if (c === '?') src += '[^/]';
    else if (c === '\\') {
      if (++i >= pattern.length) throw new Error('a glob pattern cannot end in \\');
      src += escape(pattern[i]);
    } else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) throw new Error('unterminated [ in the glob pattern');
      let body = pattern.slice(i + 1, end);
      const negate = body.startsWith('^') || body.startsWith('!');
      if (negate) body = body.slice(1);
      src += `[${negate ? '^/' : ''}${body.replace(/[\]\\]/g, '\\$&')}]`;
      i = end;
    } else src += escape(c);
  }
  compiled.set(pattern, (re = new RegExp(`^${src}$`)));
  return re;
}

const escape = (c: string) => c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** A location as keys are matched against it: URLs without a trailing '/', paths absolute. */
export const locationKey = (loc: string, absolute: (p: string) => string) => (isUrl(loc) ? loc.replace(/\/+$/, '') : absolute(loc));

export const locationMatches = (pattern: string, key: string) => globRegExp(pattern).test(key);

/** The options the file gives the location `key` (locationKey), later entries winning. */
export function storeOptionsFor(config: WasyncConfig | undefined, key: string): StoreOptions {
  const out: StoreOptions = {};
  for (const [pattern, o] of config?.storeOptions ?? []) if (locationMatches(pattern, key)) Object.assign(out, o);
  return out;
}

/** The credentials the file gives an S3 endpoint (`http(s)://host[:port]`), if any (the last match). */
export function s3CredentialsFor(config: WasyncConfig | undefined, endpoint: string): S3CredentialOptions | null {
  let found: S3CredentialOptions | null = null;
  for (const [pattern, c] of config?.s3Credentials ?? []) if (locationMatches(pattern, endpoint)) found = c;
  return found;
}

/** `config` without the keys the command line or environment gave (they win). */
export function withoutKeys(config: WasyncConfig, given: readonly (keyof StoreOptions)[]): WasyncConfig {
  if (!given.length) return config;
  const drop = (o: StoreOptions): StoreOptions => Object.fromEntries(Object.entries(o).filter(([k]) => !given.includes(k as keyof StoreOptions)));
  return { ...config, storeOptions: config.storeOptions.map(([p, o]) => [p, drop(o)]) };
}

/** How requests to one remote store are made. */
export interface LeafSettings {
  attempts: number;
  timeoutMs: number;
  backoffMs?: number;
  /** the store's own bound on requests in flight over all threads, or null: the operation's */
  concurrency: number | null;
  /** the store's own bandwidth, or null: the operation's */
  rateLimit: { bytesPerSecond: number; state: SharedArrayBuffer | ArrayBuffer } | null;
  tls: Pick<StoreOptions, 'caCert' | 'clientCert' | 'clientKey'>;
}

/** The settings of the store at `key` under the operation's `net`. */
export function leafSettings(net: NetSpec, key: string): LeafSettings {
  const o = storeOptionsFor(net.config, key);
  return {
    attempts: o.retries !== undefined ? o.retries + 1 : net.attempts,
    timeoutMs: o.timeoutMs ?? net.timeoutMs,
    backoffMs: o.retryBaseMs ?? net.backoffMs,
    concurrency: o.concurrency ?? null,
    rateLimit: o.rateLimitBps === undefined ? null : (net.limits?.[key] ?? { bytesPerSecond: o.rateLimitBps, state: new ArrayBuffer(8) }),
    tls: { caCert: o.caCert, clientCert: o.clientCert, clientKey: o.clientKey },
  };
}

const MASK = '***';

/** A duration as the file would say it. */
const formatDuration = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);

/** Options in the file's names, secrets masked. */
export function optionsJson(o: StoreOptions): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (o.timeoutMs !== undefined) out.timeout = formatDuration(o.timeoutMs);
  if (o.retries !== undefined) out['error-retry'] = o.retries;
  if (o.retryBaseMs !== undefined) out['error-retry-base-interval'] = formatDuration(o.retryBaseMs);
  if (o.concurrency !== undefined) out.concurrency = o.concurrency;
  if (o.rateLimitBps !== undefined) out['rate-limit-bps'] = o.rateLimitBps;
  if (o.caCert !== undefined) out['ca-cert'] = o.caCert;
  if (o.clientCert !== undefined) out['client-cert'] = o.clientCert;
  if (o.clientKey !== undefined) out['client-key'] = o.clientKey;
  if (o.encryptionKey !== undefined) out['encryption-key'] = MASK;
  if (o.encryptionKeyFile !== undefined) out['encryption-key-file'] = o.encryptionKeyFile;
  if (o.encryption !== undefined) out['encryption-algorithm'] = o.encryption;
  if (o.trustedKeys !== undefined) out['trusted-keys'] = o.trustedKeys;
  return out;
}

/** S3 credentials in the file's names, the secret and session token masked. */
export function credentialsJson(c: S3CredentialOptions): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (c.accessKey !== undefined) out['access-key'] = c.accessKey;
  if (c.secretKey !== undefined) out['secret-key'] = MASK;
  if (c.sessionToken !== undefined) out['session-token'] = MASK;
  if (c.region !== undefined) out['aws-region'] = c.region;
  if (c.credentialsFile !== undefined) out['aws-credentials-file'] = c.credentialsFile;
  if (c.profile !== undefined) out['aws-profile'] = c.profile;
  return out;
}

/** The whole configuration as `wasync config` prints it. */
export function configJson(config: WasyncConfig): Record<string, unknown> {
  return {
    'config-file': config.file,
    'store-options': Object.fromEntries(config.storeOptions.map(([p, o]) => [p, optionsJson(o)])),
    's3-credentials': Object.fromEntries(config.s3Credentials.map(([p, c]) => [p, credentialsJson(c)])),
  };
}
