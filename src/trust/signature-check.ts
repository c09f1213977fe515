// Checking a signed index or archive against the trusted keys, before anything
// it names is read.  The order makes each refusal say the most useful thing:
// the signature's shape, then whether its key is trusted at all, then the
// signature over the file, then the one over the trusted comment, then what
// the comment states (the file's name, size and SHA-256, the version and
// --min-version).  Ed25519 is WebCrypto's (node:crypto's own on Node, the
// browser's in the page); BLAKE2b and SHA-256 come from @noble/hashes, since
// WebCrypto has no BLAKE2b and a page on plain http has no crypto.subtle.digest.

import { blake2b } from '@noble/hashes/blake2.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { toHex } from '../chunk/chunk-id.ts';
import { signatureError, unsupported } from '../errors.ts';
import { globalMessage, parseSignature, type PublicKey, type Signature } from './minisign.ts';
import { commentFields } from './trusted-comment.ts';

export interface TrustPolicy {
  /** the keys a signature must be made with (one of them) */
  keys: readonly PublicKey[];
  /** refuse a file whose signed version is lower (rollback protection) */
  minVersion?: number;
}

/** Who signed a file that passed, and what its trusted comment states. */
export interface Signer {
  keyId: string;
  /** the signed version; null when the comment states none (a plain `minisign -S`) */
  version: number | null;
  trustedComment: string;
}

/** A file's digests as a signature check needs them, taken as it streams by. */
export class FileDigests {
  private readonly b2 = blake2b.create({ dkLen: 64 });
  private readonly s2 = sha256.create();
  size = 0;

  update(bytes: Uint8Array): void {
    this.b2.update(bytes);
    this.s2.update(bytes);
    this.size += bytes.length;
  }

  finish(): FileDigest {
    return { blake2b512: this.b2.digest(), sha256: toHex(this.s2.digest()), size: this.size };
  }
}

export interface FileDigest {
  blake2b512: Uint8Array;
  sha256: string;
  size: number;
}

export function digestsOf(bytes: Uint8Array): FileDigest {
  const d = new FileDigests();
  d.update(bytes);
  return d.finish();
}

export interface SignedFile {
  /** the file as messages name it (a path, a URL) */
  name: string;
  /** its base name, which the trusted comment must state if it states one (unset: not checked) */
  baseName?: string;
  /** the whole file (needed for a legacy signature), or its digests */
  bytes?: Uint8Array;
  digest?: FileDigest;
  /** the .minisig's text, or null when there is none; and where it was looked for */
  signature: string | null;
  signatureName: string;
}

/** The signer of `f` if `policy` trusts it; otherwise a one-line ESIGNATURE error. */
export async function checkSignature(f: SignedFile, policy: TrustPolicy): Promise<Signer> {
  if (f.signature === null) throw signatureError(`${f.name}: not signed (no ${f.signatureName}); a trusted key was given, so a signature is required`);
  const sig = parseSignature(f.signature, f.signatureName);
  const key = policy.keys.find((k) => k.keyNum.every((b, i) => sig.keyNum[i] === b));
  if (!key) {
    const trusted = policy.keys.map((k) => k.id).join(', ');
    throw signatureError(`${f.name}: signed by key ${sig.keyId}, which is not trusted (trusted: ${trusted})`);
  }
  const digest = f.digest ?? (f.bytes && digestsOf(f.bytes));
  if (!digest) throw new TypeError('checkSignature: bytes or digest required');
  let message: Uint8Array;
  if (sig.prehashed) message = digest.blake2b512;
  else if (f.bytes) message = f.bytes;
  else throw signatureError(`${f.signatureName}: a legacy (not prehashed) signature, which needs the whole file in memory; sign it again with wasync or minisign 0.8 or later`);
  if (!(await ed25519Verify(key, sig.signature, message))) {
    throw signatureError(`${f.name}: does not match its signature ${f.signatureName} by key ${key.id} (the file was changed, or the signature is another file's)`);
  }
  if (!(await ed25519Verify(key, sig.globalSignature, globalMessage(sig.signature, sig.trustedComment)))) {
    throw signatureError(`${f.signatureName}: the trusted comment does not match its signature by key ${key.id} (the comment was changed)`);
  }
  return checkComment(f, sig, key, digest, policy);
}

function checkComment(f: SignedFile, sig: Signature, key: PublicKey, digest: FileDigest, policy: TrustPolicy): Signer {
  const fields = commentFields(sig.trustedComment);
  const stated = fields.get('file');
  if (stated !== undefined && f.baseName !== undefined && stated !== f.baseName) {
    throw signatureError(`${f.name}: ${f.signatureName} is the signature of "${stated}", not of "${f.baseName}"`);
  }
  const size = fields.get('size');
  if (size !== undefined && size !== String(digest.size)) throw signatureError(`${f.name}: holds ${digest.size} bytes, its signed trusted comment says ${size}`);
  const sum = fields.get('sha256');
  if (sum !== undefined && sum !== digest.sha256) throw signatureError(`${f.name}: its SHA-256 is not the one its signed trusted comment states`);
  const v = fields.get('version');
  const version = v !== undefined && /^\d+$/.test(v) ? Number(v) : null;
  if (v !== undefined && version === null) throw signatureError(`${f.signatureName}: the trusted comment's version "${v}" is not a whole number`);
  if (policy.minVersion !== undefined) {
    if (version === null) throw signatureError(`${f.name}: its signature states no version, and --min-version=${policy.minVersion} requires one`);
    if (version < policy.minVersion) throw signatureError(`${f.name}: signed version ${version} is lower than --min-version=${policy.minVersion}; refusing (a rollback?)`);
  }
  return { keyId: key.id, version, trustedComment: sig.trustedComment };
}

const keys = new WeakMap<PublicKey, Promise<CryptoKey>>();

async function ed25519Verify(key: PublicKey, signature: Uint8Array, message: Uint8Array): Promise<boolean> {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) throw unsupported('checking Ed25519 signatures needs WebCrypto (in a browser: a page served over https or from localhost)');
  let k = keys.get(key);
  if (!k) keys.set(key, (k = subtle.importKey('raw', key.key as Uint8Array<ArrayBuffer>, { name: 'Ed25519' }, false, ['verify'])));
  try {
    return await subtle.verify({ name: 'Ed25519' }, await k, signature as Uint8Array<ArrayBuffer>, message as Uint8Array<ArrayBuffer>);
  } catch (e) {
    if ((e as Error).name === 'NotSupportedError') throw unsupported(`this platform's WebCrypto has no Ed25519 (${(e as Error).message})`);
    throw e;
  }
}
