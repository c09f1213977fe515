// keygen() and sign(): minisign key pairs, and a `.minisig` beside an index or
// archive whose trusted comment states the file's name, size, SHA-256 and a
// version, so that `extract --trusted-key` (and `minisign -V`) can check it and
// `--min-version` can refuse an older one.  Files are written under a
// temporary name and renamed into place; a secret key is readable by its
// owner only.

import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import { ioError, usageError } from '../../../errors.ts';
import { openIndexStream } from '../../../engine/index-stream.ts';
import { hasSuffix } from '../../../stores/locator.ts';
import { formatPublicKey, formatSignature, globalMessage, publicKeyBase64, SIG_SUFFIX } from '../../../trust/minisign.ts';
import { commentSafe, wasyncComment } from '../../../trust/trusted-comment.ts';
import { AtomicFile } from '../io/atomic-file.ts';
import { openIndexInput } from '../io/index-input.ts';
import { formatSecretKey, generateSecretKey, openSecretKey, secretKeyProtected, signWith } from '../trust/secret-key.ts';

export interface KeygenOptions {
  /** where the secret key goes (minisign's `-s`) */
  secretKey: string;
  /** where the public key goes (minisign's `-p`) */
  publicKey: string;
  /** seals the secret key (scrypt, as minisign); null leaves it in the clear, as `minisign -W` */
  password: string | null;
  /** replace existing key files */
  force?: boolean;
}

export interface KeygenResult {
  /** the key id, as minisign prints it */
  keyId: string;
  /** the public key's base64 line (what `--trusted-key=` and `minisign -P` take) */
  publicKey: string;
}

export async function keygen(o: KeygenOptions): Promise<KeygenResult> {
  if (typeof o?.secretKey !== 'string' || typeof o.publicKey !== 'string') throw usageError('keygen: `secretKey` and `publicKey` (paths) are required');
  if (o.password === '') throw usageError('keygen: an empty password; pass null for a key without one');
  for (const f of [o.secretKey, o.publicKey]) {
    if (!o.force && existsSync(f)) throw usageError(`${f} exists already; refusing to replace a key (use --force)`);
  }
  const k = generateSecretKey();
  writeAtomically(o.secretKey, formatSecretKey(k, o.password ?? null), 0o600);
  writeAtomically(o.publicKey, formatPublicKey(k.publicKey), 0o644);
  return { keyId: k.publicKey.id, publicKey: publicKeyBase64(k.publicKey) };
}

export interface SignOptions {
  /** the secret key file (minisign's or wasync keygen's) */
  key: string;
  /** asked for when the key is sealed with a password */
  password?: () => string | Promise<string>;
  /** the index (.caibx, .caidx) or archive (.catar) to sign */
  input: string;
  /** the version the signature states (default: the time, in seconds since 1970) */
  version?: number;
  /** where the signature goes (default: the input's path with .minisig appended) */
  output?: string;
}

export interface SignResult {
  signature: string;
  keyId: string;
  version: number;
  trustedComment: string;
}

export async function sign(o: SignOptions): Promise<SignResult> {
  if (typeof o?.input !== 'string' || typeof o.key !== 'string') throw usageError('sign: `input` and `key` (paths) are required');
  if (!['.caibx', '.caidx', '.catar'].some((s) => hasSuffix(o.input, s))) throw usageError(`${o.input}: only indexes (.caibx, .caidx) and archives (.catar) are signed`);
  const version = o.version ?? Math.floor(Date.now() / 1000);
  if (!Number.isSafeInteger(version) || version < 0) throw usageError(`--version=${o.version}: expected a whole number`);
  const name = basename(o.input);
  if (!commentSafe(name)) throw usageError(`${o.input}: a name with control characters cannot go into a trusted comment`);
  let keyText: string;
  try {
    keyText = readFileSync(o.key, 'utf8');
  } catch (e) {
    throw ioError('EINPUT', o.key, e);
  }
  if (secretKeyProtected(keyText, o.key) && !o.password) throw usageError(`${o.key}: the key is protected by a password, and none can be asked for`);
  const k = await openSecretKey(keyText, o.key, o.password ?? (() => ''));
  if (hasSuffix(o.input, '.caibx') || hasSuffix(o.input, '.caidx')) await checkIndex(o.input);
  const { blake2b512, sha256, size } = await digests(o.input);
  const trustedComment = wasyncComment({ timestamp: Math.floor(Date.now() / 1000), file: name, size, sha256, version });
  const signature = signWith(k, blake2b512);
  const globalSignature = signWith(k, globalMessage(signature, trustedComment));
  const out = o.output ?? o.input + SIG_SUFFIX;
  const text = formatSignature({ prehashed: true, keyNum: k.keyNum, signature, untrustedComment: `signature from wasync secret key ${k.publicKey.id}`, trustedComment, globalSignature });
  writeAtomically(out, text, 0o644);
  return { signature: out, keyId: k.publicKey.id, version, trustedComment };
}

/** Refuses to sign what is not an index: every byte of it must parse. */
async function checkIndex(path: string): Promise<void> {
  const { entries } = await openIndexStream(openIndexInput(path).bytes, path);
  for await (const _ of entries);
}

async function digests(path: string) {
  const b2 = createHash('blake2b512');
  const s2 = createHash('sha256');
  let size = 0;
  try {
    for await (const piece of createReadStream(path, { highWaterMark: 1 << 20 })) {
      b2.update(piece as Buffer);
      s2.update(piece as Buffer);
      size += (piece as Buffer).length;
    }
  } catch (e) {
    throw ioError('EINPUT', path, e);
  }
  return { blake2b512: new Uint8Array(b2.digest()), sha256: s2.digest('hex'), size };
}

function writeAtomically(path: string, text: string, mode: number): void {
  const f = new AtomicFile(path, mode);
  try {
    writeSync(f.fd, text);
    f.chmod(mode);
    f.commit();
  } catch (e) {
    f.abort();
    throw ioError('EOUTPUT', path, e);
  }
}
