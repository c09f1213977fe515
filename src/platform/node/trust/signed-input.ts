// An index or archive read under --trusted-key: the file and its `.minisig`
// come from the same place (a path, an http(s) URL, an ssh host), and the
// file is read whole and its signature checked before anything it names is
// requested.  With no trusted key nothing here runs and nothing changes.

import { spawn } from 'node:child_process';
import { createReadStream, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { networkError, signatureError, usageError, ioError } from '../../../errors.ts';
import type { HttpClient } from '../../../stores/http-client.ts';
import { classifyLocator } from '../../../stores/locator.ts';
import { parsePublicKey, SIG_SUFFIX, type PublicKey } from '../../../trust/minisign.ts';
import { checkSignature, FileDigests, type FileDigest, type Signer, type TrustPolicy } from '../../../trust/signature-check.ts';
import { splitSshLocator } from '../ssh/ssh-process.ts';
import { signatureUrl, urlBaseName } from '../../../trust/signature-place.ts';

export interface TrustOptions {
  /**
   * minisign public keys (a .pub file's path, its base64 line as `minisign -P`
   * takes it, or a parsed key): when given, every index and archive read must
   * carry a `.minisig` made by one of them, checked before any chunk is read
   */
  trustedKeys?: readonly (string | PublicKey)[];
  /** refuse an index or archive whose signed version is lower (rollback protection) */
  minVersion?: number;
  /** an index passed as bytes: its signature (the .minisig's text) */
  signature?: string | Uint8Array;
}

/** The policy the options ask for, or null when they name no trusted key. */
export function trustPolicy(o: TrustOptions | undefined): TrustPolicy | null {
  const given = o?.trustedKeys ?? [];
  if (o?.minVersion !== undefined && !(Number.isSafeInteger(o.minVersion) && o.minVersion >= 0)) {
    throw usageError(`minVersion ${o.minVersion}: expected a whole number`);
  }
  if (!given.length) {
    if (o?.minVersion !== undefined) throw usageError('--min-version needs --trusted-key (the version is read from a checked signature)');
    return null;
  }
  return { keys: given.map(loadKey), minVersion: o?.minVersion };
}

/** A key given as the base64 line itself (56 characters, "RW…"), or as the path of a .pub file. */
function loadKey(k: string | PublicKey): PublicKey {
  if (typeof k !== 'string') return k;
  if (/^RW[A-Za-z0-9+/]{54}$/.test(k.trim())) return parsePublicKey(k.trim(), 'the trusted key');
  let text: string;
  try {
    text = readFileSync(k, 'utf8');
  } catch (e) {
    throw ioError('EINPUT', k, e);
  }
  return parsePublicKey(text, k);
}

/** Where the signature of `loc` is: `.minisig` appended to its path (before a URL's query). */
export const signatureLocator = (loc: string) => (classifyLocator(loc) === 'url' ? signatureUrl(loc) : loc + SIG_SUFFIX);

/** The base name a trusted comment states for `loc`. */
export function baseNameOf(loc: string): string {
  if (classifyLocator(loc) === 'url') return urlBaseName(loc);
  if (classifyLocator(loc) === 'ssh') return basename(splitSshLocator(loc).path);
  return basename(loc);
}

/** The signature's text, or null when there is none where `loc` is. */
export async function fetchSignature(loc: string, client: HttpClient): Promise<string | null> {
  const sigLoc = signatureLocator(loc);
  switch (classifyLocator(loc)) {
    case 'url': {
      const b = await client.get(sigLoc);
      return b && new TextDecoder().decode(b);
    }
    case 'ssh':
      return sshCat(sigLoc);
    default:
      try {
        return readFileSync(sigLoc, 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw ioError('EINPUT', sigLoc, e);
      }
  }
}

/** Checks the file at `loc` (its bytes or digests in hand) against its signature there. */
export async function checkSigned(loc: string, file: { bytes?: Uint8Array; digest?: FileDigest }, policy: TrustPolicy, client: HttpClient): Promise<Signer> {
  return checkSignature({ ...file, name: loc, baseName: baseNameOf(loc), signature: await fetchSignature(loc, client), signatureName: signatureLocator(loc) }, policy);
}

/** An index given as bytes, with the signature the caller passed beside it. */
export function checkSignedBytes(bytes: Uint8Array, signature: string | Uint8Array | undefined, policy: TrustPolicy, name = 'index'): Promise<Signer> {
  const text = signature === undefined ? null : typeof signature === 'string' ? signature : new TextDecoder().decode(signature);
  // Bytes have no name of their own, so the trusted comment's is taken as given.
  return checkSignature({ bytes, name, signature: text, signatureName: `the signature of ${name}` }, policy);
}

/**
 * An archive (or a blob mkdev serves as it is) under a trust policy: read once
 * whole to check its signature before it is used.  It is read again for use,
 * so a local file changed in between is not caught; an index has no such gap
 * (it is checked and used from the same bytes).
 */
export async function checkSignedFile(loc: string | null | Uint8Array, policy: TrustPolicy | null, client: HttpClient, signature?: string | Uint8Array): Promise<Signer | null> {
  if (!policy) return null;
  if (loc instanceof Uint8Array) return checkSignedBytes(loc, signature, policy, 'archive');
  if (loc === null || loc === '-') refuseUnsignable('an archive on standard input');
  const d = new FileDigests();
  const cls = classifyLocator(loc);
  if (cls === 'ssh') throw signatureError(`${loc}: a signed archive cannot be checked over ssh before it is used (casync's protocol streams it once); copy it, or use an index`);
  if (cls === 'url') {
    if (!(await client.stream(loc, (piece) => d.update(piece)))) throw networkError(`${loc}: not found (404)`);
  } else {
    try {
      for await (const piece of createReadStream(loc, { highWaterMark: 1 << 20 })) d.update(piece as Buffer);
    } catch (e) {
      throw ioError('EINPUT', loc, e);
    }
  }
  return checkSigned(loc, { digest: d.finish() }, policy, client);
}

/** Refuses what has no place a signature could come from. */
export function refuseUnsignable(what: string): never {
  throw signatureError(`${what} cannot be checked against --trusted-key: it has no .minisig beside it (read it from a file, URL or ssh host)`);
}

/** `host:path` over ssh: the file's text, or null when the far side has none (cat fails). */
function sshCat(loc: string): Promise<string | null> {
  const { host, path } = splitSshLocator(loc);
  const ssh = process.env.CASYNC_SSH_PATH || 'ssh';
  // ssh joins its arguments into a command line for the remote shell; a plain path needs no quoting.
  const arg = /^[A-Za-z0-9_./+-]+$/.test(path) ? path : `'${path.replace(/'/g, `'\\''`)}'`;
  return new Promise((resolve, reject) => {
    const child = spawn(ssh, [host, 'cat', '--', arg], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    let size = 0;
    child.stdout.on('data', (b: Buffer) => {
      size += b.length;
      if (size > 1 << 16) child.kill();
      else out.push(b);
    });
    child.stderr.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-2048)));
    child.on('error', (e) => reject(networkError(`cannot run ${ssh}: ${(e as NodeJS.ErrnoException).code ?? e.message}`, e)));
    child.on('close', (code) => {
      if (size > 1 << 16) return reject(signatureError(`${loc}: larger than any signature`));
      if (code === 0) return resolve(Buffer.concat(out).toString('utf8'));
      if (/no such file/i.test(err)) return resolve(null);
      reject(networkError(`ssh ${host} (cat ${path}): exited with status ${code}: ${err.trim().split('\n').pop() ?? ''}`));
    });
  });
}
