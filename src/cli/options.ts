// The options wasync shares with casync, turned from strings into the typed
// values the operations take, with messages that name the option and the bad
// value.  The environment is read here, and only here: $CASYNC_STORE for the
// store, $WASYNC_TOKEN for the bearer token, $NOTIFY_SOCKET for the service
// manager (service.ts), $WASYNC_TRUSTED_KEYS for the keys indexes must be
// signed with, $WASYNC_ENCRYPTION_KEY for encrypted stores, and
// $XDG_CONFIG_HOME (or $HOME) for the configuration file (--config), whose
// per-store options and S3 credentials the operations take as data.
//
// casync parses every option before it looks at the verb, so a bad value fails
// whatever the verb; checkOptions() does the same (main.ts calls it before
// every verb) with the very parsers the verbs use.

import { readFileSync } from 'node:fs';
import { checkTls } from '../platform/node/storage/node-tls.ts';
import type { TlsOptions } from '../stores/http-client.ts';
import type { ServerTls } from '../platform/node/operations/serve.ts';
import { ioError, usageError } from '../errors.ts';
import { cipherName, parseEncryptionKey } from '../stores/chunk-cipher.ts';
import { COMPRESSIONS, type Compression } from '../chunk/compression.ts';
import { DIGESTS, type DigestName } from '../chunk/digest.ts';
import { parseChunkSizeOption } from '../chunker/sizes.ts';
import { parseFeatureFlagName } from '../format/feature-flag-names.ts';
import { parseSize } from '../format/units.ts';
import type { FeatureOptions } from '../platform/node/operations/common.ts';
import { WHATS, whatName, type What } from '../platform/node/operations/resolve.ts';
import { classifyLocator, isFailoverGroup, stripFileUrl } from '../stores/locator.ts';
import { effectiveOptions, loadConfig } from '../platform/node/operations/config.ts';
import type { WasyncConfig } from '../stores/store-config.ts';
import { progressMode } from './progress.ts';
import type { NetworkOptions } from '../platform/node/operations/network.ts';
import type { StoreChoice } from '../platform/node/operations/stores.ts';
import type { UidShift } from '../platform/node/tree/apply-metadata.ts';
import type { TrustOptions } from '../platform/node/trust/signed-input.ts';

export interface GlobalOptions {
  verbose?: boolean;
  /** make: pack the store afterwards */
  pack?: boolean;
  dryRun?: boolean;
  store?: string;
  extraStore?: string[];
  seed?: string[];
  seedOutput?: string;
  chunkSize?: string;
  digest?: string;
  compression?: string;
  what?: string;
  with?: string[];
  without?: string[];
  excludeNodump?: string;
  excludeSubmounts?: string;
  excludeFile?: string;
  delete?: string;
  undoImmutable?: string;
  punchHoles?: string;
  uidShift?: string;
  uidRange?: string;
  reflink?: string;
  hardlink?: string;
  concurrency?: string;
  rateLimitBps?: string;
  cache?: string;
  cacheAuto?: boolean;
  token?: string;
  progress?: string;
  logLevel?: string;
  recursive?: string;
  listen?: string;
  writable?: boolean;
  trustedKey?: string[];
  minVersion?: string;
  encryptionKey?: string;
  encryptionKeyFile?: string;
  encryption?: string;
  /** info */
  json?: boolean;
  /** verify */
  repair?: boolean;
  outputFormat?: string;
  /** cat */
  offset?: string;
  length?: string;
  /** list-chunks */
  detailed?: boolean;
  /** make */
  inputFormat?: string;
  /** the configuration file (--config) */
  config?: string;
  /** TLS of HTTPS and S3 clients: CAs trusted instead of the system's, a client certificate */
  caCert?: string;
  clientCert?: string;
  clientKey?: string;
  /** serve: stores to fetch the chunks DIR lacks from (repeatable) */
  upstream?: string[];
  /** serve: HTTPS with this certificate and key; client certificates signed by --client-ca */
  cert?: string;
  key?: string;
  clientCa?: string;
}

/** make's --input-format=tar. */
export function inputFormat(v: string | undefined): 'tar' | undefined {
  if (v !== undefined && v !== 'tar') throw usageError(`--input-format=${v}: not one of tar`);
  return v;
}

export function parseYesNo(name: string, v: string | undefined, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (/^(yes|y|true|t|on|1)$/i.test(v)) return true;
  if (/^(no|n|false|f|off|0)$/i.test(v)) return false;
  throw usageError(`--${name}=${v}: expected yes or no`);
}

/** An option that is yes or no, as the operations take it: undefined when not given. */
const yesNo = (name: string, v: string | undefined) => (v === undefined ? undefined : parseYesNo(name, v, false));

export function parseDigest(v: string | undefined): DigestName | undefined {
  if (v === undefined || v === 'default') return undefined;
  if (!DIGESTS.includes(v as DigestName)) throw usageError(`--digest=${v}: not one of ${DIGESTS.join(', ')}`);
  return v as DigestName;
}

export function parseCompression(v: string | undefined): Compression | undefined {
  if (v === undefined || v === 'default') return undefined;
  if (!COMPRESSIONS.includes(v as Compression)) throw usageError(`--compression=${v}: not one of ${COMPRESSIONS.join(', ')}`);
  return v as Compression;
}

function positive(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = /^\d+$/.test(v) ? Number(v) : NaN;
  if (!(n >= 1 && Number.isSafeInteger(n))) throw usageError(`--${name}=${v}: expected a positive whole number`);
  return n;
}

/** --rate-limit-bps: a byte count as casync's parse_size reads it ("1M", "512K"), not zero. */
function rateLimit(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = parseSize(v);
  if (n === null) throw usageError(`--rate-limit-bps=${v}: expected bytes per second (a whole number, or with a suffix K, M, G, T, P or E)`);
  if (n === 0) throw usageError(`--rate-limit-bps=${v}: the rate limit cannot be zero`);
  return n;
}

/** cat's --offset=N and --length=N: a whole number of bytes. */
export function byteCount(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n)) throw usageError(`--${name}=${v}: expected a whole number of bytes`);
  return n;
}

/** --chunk-size=[MIN:]AVG[:MAX] as casync reads it; `auto` is the default. */
export const chunkSizeOption = (v: string | undefined): string | undefined => {
  if (v === undefined || v === 'auto') return undefined;
  parseChunkSizeOption(v);
  return v;
};

/** --what=, any of casync's names (which verbs take which is the operations' to say). */
export const whatOption = (v: string | undefined): What | undefined => whatName(v);

/** Store locators: a scheme wasync cannot reach is refused before anything starts. */
function locator(v: string | undefined): string | undefined {
  if (v !== undefined) for (const member of isFailoverGroup(v) ? v.split('|') : [v]) classifyLocator(member);
  return v;
}

/** Where the service manager listens (sd_notify), if anywhere. */
export const notifySocket = (): string | undefined => process.env.NOTIFY_SOCKET || undefined;

const configs = new Map<string | undefined, WasyncConfig>();

/** --config=FILE, else $XDG_CONFIG_HOME/wasync/config.json if there is one (read once). */
export function config(o: GlobalOptions): WasyncConfig {
  let c = configs.get(o.config);
  if (!c) configs.set(o.config, (c = loadConfig(o.config)));
  return c;
}

/** --concurrency, --rate-limit-bps, --token (default $WASYNC_TOKEN), the client's TLS, the configuration file; -v passes on what ssh peers say. */
export const network = (o: GlobalOptions): NetworkOptions => ({
  concurrency: positive('concurrency', o.concurrency),
  rateLimitBps: rateLimit(o.rateLimitBps),
  token: o.token ?? process.env.WASYNC_TOKEN,
  verbose: !!o.verbose,
  config: config(o),
  tls: clientTls(o),
});

/** The PEM text of an option's file. */
function pemFile(name: string, file: string | undefined): string | undefined {
  if (file === undefined) return undefined;
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw ioError('EINPUT', `--${name}=${file}`, e);
  }
}

/** --ca-cert, --client-cert and --client-key (desync's), read and checked: a key must be its certificate's. */
function clientTls(o: GlobalOptions): TlsOptions | undefined {
  if (o.caCert === undefined && o.clientCert === undefined && o.clientKey === undefined) return undefined;
  if ((o.clientCert === undefined) !== (o.clientKey === undefined)) throw usageError('--client-cert and --client-key: give both');
  const tls = { ca: pemFile('ca-cert', o.caCert), cert: pemFile('client-cert', o.clientCert), key: pemFile('client-key', o.clientKey) };
  const given = [o.caCert && `--ca-cert=${o.caCert}`, o.clientCert && `--client-cert=${o.clientCert} --client-key=${o.clientKey}`].filter(Boolean).join(' ');
  checkTls(tls, given);
  return tls;
}

/** serve's --cert, --key and --client-ca: HTTPS, and with a client CA, mutual TLS. */
export function serverTls(o: GlobalOptions): ServerTls | undefined {
  if (o.clientCa !== undefined && o.cert === undefined) throw usageError(`--client-ca=${o.clientCa} needs --cert=FILE and --key=FILE: client certificates are asked for over HTTPS only`);
  if (o.cert === undefined) return undefined;
  if (o.key === undefined) throw usageError(`--cert=${o.cert} needs --key=FILE, the certificate's private key`);
  const tls = { cert: pemFile('cert', o.cert)!, key: pemFile('key', o.key)!, clientCa: pemFile('client-ca', o.clientCa) };
  checkTls({ ca: tls.clientCa, cert: tls.cert, key: tls.key }, `--cert=${o.cert} --key=${o.key}${o.clientCa ? ` --client-ca=${o.clientCa}` : ''}`);
  return tls;
}

/** --store (default $CASYNC_STORE), --extra-store, --cache, and their encryption. */
export const storeChoice = (o: GlobalOptions): StoreChoice => ({
  store: locator(o.store ?? (process.env.CASYNC_STORE || undefined)),
  extraStores: o.extraStore?.map((s) => locator(s)!),
  cache: locator(o.cache),
  encryption: encryption(o),
});

/** --store (default $CASYNC_STORE) and its encryption: the one store make and chop write to and gc sweeps. */
export function oneStore(o: GlobalOptions): Pick<StoreChoice, 'store' | 'encryption'> {
  const { store, encryption } = storeChoice(o);
  return { store, encryption };
}

/** --with and --without, each name checked. */
function featureNames(o: GlobalOptions): Pick<FeatureOptions, 'with' | 'without'> {
  for (const n of o.with ?? []) parseFeatureFlagName(n, '--with');
  for (const n of o.without ?? []) parseFeatureFlagName(n, '--without');
  return { with: o.with, without: o.without };
}

/**
 * --encryption-key=HEX, --encryption-key-file=FILE (the hex digits in a file)
 * or $WASYNC_ENCRYPTION_KEY, and --encryption (desync's names); the
 * algorithm alone is refused, as desync refuses it, rather than writing plain chunks.
 */
function encryption(o: GlobalOptions): StoreChoice['encryption'] {
  if (o.encryptionKey !== undefined && o.encryptionKeyFile !== undefined) throw usageError('--encryption-key and --encryption-key-file: give one');
  let key = o.encryptionKey;
  if (o.encryptionKeyFile !== undefined) {
    try {
      key = readFileSync(o.encryptionKeyFile, 'utf8').trim();
    } catch (e) {
      throw ioError('EINPUT', o.encryptionKeyFile, e);
    }
  }
  key ??= process.env.WASYNC_ENCRYPTION_KEY || undefined;
  if (key === undefined) {
    if (o.encryption !== undefined) throw usageError(`--encryption=${o.encryption} without a key (--encryption-key, --encryption-key-file or $WASYNC_ENCRYPTION_KEY)`);
    return undefined;
  }
  const what = o.encryptionKeyFile ?? (o.encryptionKey !== undefined ? '--encryption-key' : '$WASYNC_ENCRYPTION_KEY');
  return { key: parseEncryptionKey(key, what), cipher: cipherName(o.encryption) };
}

/**
 * --trusted-key (repeatable; else $WASYNC_TRUSTED_KEYS, keys or .pub files
 * separated by whitespace or commas; else the configuration's trusted-keys
 * for the location of `input`) and --min-version.
 */
export function trust(o: GlobalOptions, input?: string): TrustOptions {
  let keys = o.trustedKey ?? (process.env.WASYNC_TRUSTED_KEYS ?? '').split(/[\s,]+/).filter(Boolean);
  if (!keys.length && input !== undefined && input !== '-') keys = effectiveOptions(config(o), stripFileUrl(input)).trustedKeys ?? [];
  let minVersion: number | undefined;
  if (o.minVersion !== undefined) {
    minVersion = /^\d+$/.test(o.minVersion) ? Number(o.minVersion) : NaN;
    if (!Number.isSafeInteger(minVersion)) throw usageError(`--min-version=${o.minVersion}: expected a whole number`);
  }
  return { trustedKeys: keys, minVersion };
}

/** --with, --without and the exclusion options. */
export const features = (o: GlobalOptions): FeatureOptions => ({
  ...featureNames(o),
  excludeNodump: yesNo('exclude-nodump', o.excludeNodump),
  excludeSubmounts: yesNo('exclude-submounts', o.excludeSubmounts),
  excludeFile: yesNo('exclude-file', o.excludeFile),
});

/** What extraction restores and how: --delete, --undo-immutable, --punch-holes, --reflink, --hardlink, --uid-shift, --uid-range, --seed-output. */
export const extraction = (o: GlobalOptions) => ({
  seeds: o.seed,
  seedOutput: yesNo('seed-output', o.seedOutput),
  features: featureNames(o),
  delete: yesNo('delete', o.delete),
  undoImmutable: yesNo('undo-immutable', o.undoImmutable),
  punchHoles: yesNo('punch-holes', o.punchHoles),
  reflink: yesNo('reflink', o.reflink),
  hardlink: yesNo('hardlink', o.hardlink),
  uidShift: uidShift(o),
  outputFormat: outputFormat(o.outputFormat),
});

/** --output-format=tar: extract a tree as a tar stream. */
function outputFormat(v: string | undefined): 'tar' | undefined {
  if (v === undefined || v === 'tar') return v;
  throw usageError(`--output-format=${v}: not one of tar`);
}

/** --uid-shift=yes|no|SHIFT and --uid-range=N (1..2^32), casync's semantics. */
function uidShift(opts: GlobalOptions): UidShift | null {
  let apply = false;
  let shift = 0;
  let range = 0x10000;
  if (opts.uidShift !== undefined) {
    if (/^\d+$/.test(opts.uidShift)) {
      shift = Number(opts.uidShift);
      if (shift > 0xfffffffe) throw usageError(`--uid-shift=${opts.uidShift}: not a valid uid`);
      apply = true;
    } else apply = orYesNo('uid-shift', opts.uidShift, 'a uid to shift by');
  }
  if (opts.uidRange !== undefined) {
    const n = /^\d+$/.test(opts.uidRange) ? Number(opts.uidRange) : NaN;
    if (n >= 1 && n <= 2 ** 32) {
      range = n === 2 ** 32 ? 0 : n;
      apply = true;
    } else apply = orYesNo('uid-range', opts.uidRange, 'the number of ids, 1 to 4294967296');
  }
  return apply ? { shift, range } : null;
}

/** yes or no where a number is the other choice, the hint saying both. */
function orYesNo(name: string, v: string, number: string): boolean {
  try {
    return parseYesNo(name, v, false);
  } catch {
    throw usageError(`--${name}=${v}: expected yes, no or ${number}`);
  }
}

/** casync's log levels (-l, --log-level), passed to pull and push by its clients. */
const LOG_LEVELS = [['emerg', 'emergency'], ['alert'], ['crit', 'critical'], ['err', 'error'], ['warn', 'warning'], ['notice'], ['info'], ['debug']];

function logLevel(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = LOG_LEVELS.findIndex((names, i) => names.includes(v) || v === String(i));
  if (n < 0) throw usageError(`--log-level=${v}: not one of ${LOG_LEVELS.map((l) => l[0]).join(', ')} (or 0 to 7)`);
  return n;
}

/**
 * Every option's value checked, whatever the verb, with the parsers the verbs
 * use: a value one verb would refuse is refused by all of them.
 */
export function checkOptions(o: GlobalOptions): void {
  network(o);
  storeChoice(o);
  features(o);
  extraction(o);
  chunkSizeOption(o.chunkSize);
  parseDigest(o.digest);
  parseCompression(o.compression);
  whatOption(o.what);
  progressMode(o.progress);
  logLevel(o.logLevel);
  parseYesNo('recursive', o.recursive, true);
  byteCount('offset', o.offset);
  inputFormat(o.inputFormat);
  byteCount('length', o.length);
  o.upstream?.forEach((u) => locator(u));
  // --key is also sign's secret key: only --cert (and --client-ca) make it serve's.
  if (o.cert !== undefined || o.clientCa !== undefined) serverTls(o);
}

/** What `--what=help` prints (casync's list leaves out "archive"; this one does not). */
export const whatHelp = () => ['Allowed --what= selectors:', ...WHATS].join('\n') + '\n';
