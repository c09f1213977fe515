// wasync's configuration file as plain data: per-store options keyed by store
// location (a URL or a path, with globs), and S3 credentials keyed by endpoint,
// in desync's shape (`store-options`, `s3-credentials`) so that one file can
// serve both tools where their keys overlap.  This module checks the parsed
// JSON and turns it into typed values; reading the file is the platform's
// (platform/node/config-file.ts), and which entries a store gets is
// config-match.ts's.  The result is plain data, so jobs carry it to worker
// threads, which apply it as the calling thread does.
//
// A value that is wrong is refused with one line naming the file and the JSON
// path at fault (`FILE: store-options["https://x/*"].timeout: …`), and so is a
// key wasync does not know: a misspelt key would otherwise be a silent no-op.

import { usageError } from '../errors.ts';
import { parseSize } from '../format/units.ts';
import { CIPHERS, parseEncryptionKey, type CipherName } from './chunk-cipher.ts';
import { checkPattern } from './config-match.ts';

/** What the file may set for the stores (and indexes) at a location. */
export interface StoreOptions {
  /** a request gives up after this long without a byte */
  timeoutMs?: number;
  /** retries after the first attempt (desync's error-retry) */
  retries?: number;
  /** the first retry's delay; it doubles with each retry */
  retryBaseMs?: number;
  /** requests in flight at once to this store, over all threads */
  concurrency?: number;
  /** bytes per second for this store's requests, over all threads */
  rateLimitBps?: number;
  /** TLS: the CA certificates to trust, and a client certificate and its key (PEM files) */
  caCert?: string;
  clientCert?: string;
  clientKey?: string;
  /** the store holds chunks sealed with this key (64 hex digits), or the key in a file */
  encryptionKey?: string;
  encryptionKeyFile?: string;
  encryption?: CipherName;
  /** minisign public keys (base64 or .pub files) indexes read from here must be signed with */
  trustedKeys?: string[];
}

/** Static S3 credentials for an endpoint, or a profile of an AWS credentials file. */
export interface S3CredentialOptions {
  accessKey?: string;
  secretKey?: string;
  sessionToken?: string;
  region?: string;
  credentialsFile?: string;
  profile?: string;
}

export interface WasyncConfig {
  /** where the configuration was read from (null: none) */
  file: string | null;
  /** patterns (paths made absolute) in the file's order; a later match wins */
  storeOptions: [string, StoreOptions][];
  s3Credentials: [string, S3CredentialOptions][];
}

export const EMPTY_CONFIG: WasyncConfig = { file: null, storeOptions: [], s3Credentials: [] };

/** The JSON keys of store-options and what they become. */
const STORE_KEYS: Record<string, (v: unknown, at: string) => Partial<StoreOptions>> = {
  timeout: (v, at) => ({ timeoutMs: duration(v, at) }),
  'error-retry': (v, at) => ({ retries: whole(v, at, 0) }),
  'error-retry-base-interval': (v, at) => ({ retryBaseMs: duration(v, at) }),
  concurrency: (v, at) => ({ concurrency: whole(v, at, 1) }),
  n: (v, at) => ({ concurrency: whole(v, at, 1) }), // desync's name
  'rate-limit-bps': (v, at) => ({ rateLimitBps: bytes(v, at) }),
  'ca-cert': (v, at) => ({ caCert: text(v, at) }),
  'client-cert': (v, at) => ({ clientCert: text(v, at) }),
  'client-key': (v, at) => ({ clientKey: text(v, at) }),
  'encryption-key': (v, at) => (parseEncryptionKey(text(v, at), at), { encryptionKey: text(v, at) }),
  'encryption-key-file': (v, at) => ({ encryptionKeyFile: text(v, at) }),
  'encryption-algorithm': (v, at) => {
    if (!CIPHERS.includes(v as CipherName)) throw bad(at, `not one of ${CIPHERS.join(', ')}`);
    return { encryption: v as CipherName };
  },
  encryption: (v, at) => {
    if (typeof v !== 'boolean') throw bad(at, 'expected true or false');
    return {};
  },
  'trusted-keys': (v, at) => {
    if (!Array.isArray(v) || !v.length) throw bad(at, 'expected a list of minisign public keys or .pub files');
    return { trustedKeys: v.map((k, i) => text(k, `${at}[${i}]`)) };
  },
};

/** desync's keys wasync has no use for: accepted when they ask for desync's default. */
const DESYNC_DEFAULTS: Record<string, unknown> = { 'skip-verify': false, uncompressed: false, 'trust-insecure': false, 'http-auth': '', 'http-cookie': '' };

const S3_KEYS: Record<string, keyof S3CredentialOptions> = {
  'access-key': 'accessKey',
  'secret-key': 'secretKey',
  'session-token': 'sessionToken',
  'aws-region': 'region',
  'aws-credentials-file': 'credentialsFile',
  'aws-profile': 'profile',
};

/**
 * The configuration in `json` (JSON.parse's result of `file`); `absolute`
 * makes a path pattern absolute (relative ones are taken from the working
 * directory, as desync takes them).
 */
export function parseConfig(json: unknown, file: string, absolute: (path: string) => string): WasyncConfig {
  const fail = (at: string, why: string) => usageError(`${file}: ${at}: ${why}`);
  const top = object(json, '(top level)', fail);
  const config: WasyncConfig = { file, storeOptions: [], s3Credentials: [] };
  for (const [section, value] of Object.entries(top)) {
    if (section === 'store-options') {
      for (const [pattern, entry] of Object.entries(object(value, section, fail))) {
        const at = `${section}[${JSON.stringify(pattern)}]`;
        config.storeOptions.push([patternOf(pattern, at, absolute, fail), storeEntry(entry, at, fail)]);
      }
    } else if (section === 's3-credentials') {
      for (const [pattern, entry] of Object.entries(object(value, section, fail))) {
        const at = `${section}[${JSON.stringify(pattern)}]`;
        config.s3Credentials.push([patternOf(pattern, at, (p) => p, fail), s3Entry(entry, at, fail)]);
      }
    } else if (section !== 'oci-credentials') {
      throw fail(section, 'not a section wasync knows (store-options, s3-credentials)');
    }
  }
  return config;
}

type Fail = (at: string, why: string) => Error;

/** Thrown by the value parsers, and given the file's name by storeEntry. */
class BadValue extends Error {
  constructor(
    readonly at: string,
    why: string,
  ) {
    super(why);
  }
}
const bad = (at: string, why: string) => new BadValue(at, why);

function object(v: unknown, at: string, fail: Fail): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw fail(at, 'expected an object');
  return v as Record<string, unknown>;
}

function patternOf(pattern: string, at: string, absolute: (p: string) => string, fail: Fail): string {
  const why = checkPattern(pattern);
  if (why) throw fail(at, why);
  return /^[a-z][a-z0-9+.-]+:\/\//i.test(pattern) ? pattern.replace(/\/+$/, '') : absolute(pattern);
}

function storeEntry(v: unknown, at: string, fail: Fail): StoreOptions {
  const out: StoreOptions = {};
  for (const [key, value] of Object.entries(object(v, at, fail))) {
    const where = `${at}.${key}`;
    if (key in DESYNC_DEFAULTS) {
      if (value !== DESYNC_DEFAULTS[key]) throw fail(where, "desync's option is not supported by wasync");
      continue;
    }
    const parse = STORE_KEYS[key];
    if (!parse) throw fail(where, `not an option wasync knows (${Object.keys(STORE_KEYS).join(', ')})`);
    try {
      Object.assign(out, parse(value, where));
    } catch (e) {
      if (e instanceof BadValue) throw fail(e.at, e.message);
      throw fail(where, (e as Error).message.replace(/^.*?: /, ''));
    }
  }
  if (out.encryptionKey !== undefined && out.encryptionKeyFile !== undefined) throw fail(at, 'encryption-key and encryption-key-file: give one');
  const on = (v as Record<string, unknown>).encryption;
  if (on === false && (out.encryptionKey ?? out.encryptionKeyFile ?? out.encryption) !== undefined) {
    throw fail(`${at}.encryption`, 'false while a key or algorithm is set (desync refuses this too)');
  }
  if (on === true && out.encryptionKey === undefined && out.encryptionKeyFile === undefined) throw fail(`${at}.encryption`, 'true without encryption-key or encryption-key-file');
  return out;
}

function s3Entry(v: unknown, at: string, fail: Fail): S3CredentialOptions {
  const out: S3CredentialOptions = {};
  for (const [key, value] of Object.entries(object(v, at, fail))) {
    const name = S3_KEYS[key];
    if (!name) throw fail(`${at}.${key}`, `not a key wasync knows (${Object.keys(S3_KEYS).join(', ')})`);
    if (typeof value !== 'string') throw fail(`${at}.${key}`, 'expected a string');
    out[name] = value;
  }
  if (!out.accessKey !== !out.secretKey) throw fail(at, 'give access-key and secret-key together');
  if (!out.accessKey && !out.credentialsFile && !out.profile) throw fail(at, 'expected access-key and secret-key, or aws-credentials-file or aws-profile');
  return out;
}

function text(v: unknown, at: string): string {
  if (typeof v !== 'string' || !v) throw bad(at, 'expected a non-empty string');
  return v;
}

function whole(v: unknown, at: string, min: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw bad(at, `expected a whole number${min ? ` of at least ${min}` : ''}`);
  return v;
}

function bytes(v: unknown, at: string): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' ? parseSize(v) : null;
  if (n === null || !Number.isSafeInteger(n) || n < 1) throw bad(at, 'expected bytes per second (a positive number, or a string with a suffix K, M, G)');
  return n;
}

const UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A duration in milliseconds: Go's "1m30s", "500ms", or a number of nanoseconds (desync's JSON). */
export function duration(v: unknown, at: string): number {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v / 1e6;
  const s = typeof v === 'string' ? v.trim() : '';
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let ms = 0;
  let at2 = 0;
  for (let m; (m = re.exec(s)); at2 = re.lastIndex) ms += Number(m[1]) * UNITS[m[2]];
  if (!s || at2 !== s.length) throw bad(at, 'expected a duration such as "30s", "500ms" or "1m30s" (or nanoseconds, as desync writes it)');
  return ms;
}
