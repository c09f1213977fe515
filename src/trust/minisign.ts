// minisign's file formats (minisign.h; jedisct1/minisign), so that keys and
// signatures pass between wasync, minisign and signify-style tools unchanged:
//
//   public key  "untrusted comment: minisign public key <ID>\n" + base64("Ed" keynum[8] pk[32])
//   secret key  "untrusted comment: …\n" + base64("Ed" kdf[2] "B2" salt[32] opslimit[8]
//               memlimit[8] keynum[8] sk[64] chk[32]), the last 104 bytes XORed with
//               scrypt(password) unless kdf is "\0\0"
//   signature   "untrusted comment: …\n" + base64(alg[2] keynum[8] sig[64]) + "\n"
//               "trusted comment: …\n" + base64(global_sig[64]) + "\n"
//
// alg "ED" signs BLAKE2b-512 of the file (minisign's default since 0.8), "Ed"
// the file itself (legacy, still read).  global_sig signs sig || trusted
// comment, so the trusted comment cannot be changed without the key.  A key's
// id is its keynum as minisign prints it: the little-endian u64 in upper-case
// hex.  Only parsing and formatting live here (no Node): the verification is
// in signature-check.ts, key generation and signing on the Node edge.

import { signatureError } from '../errors.ts';

export const KEYNUM_SIZE = 8;
export const PUBLIC_KEY_SIZE = 32;
export const SIGNATURE_SIZE = 64;
export const SECRET_KEY_SIZE = 64;
export const SIG_SUFFIX = '.minisig';

const ALG_ED = [0x45, 0x64]; // "Ed"
const ALG_PREHASHED = [0x45, 0x44]; // "ED"
const UNTRUSTED = 'untrusted comment: ';
const TRUSTED = 'trusted comment: ';

export interface PublicKey {
  keyNum: Uint8Array;
  key: Uint8Array;
  /** the key id as minisign prints it */
  id: string;
}

export interface Signature {
  /** the file's BLAKE2b-512 was signed ("ED"), or the file itself ("Ed", legacy) */
  prehashed: boolean;
  keyNum: Uint8Array;
  /** the id of the key that made it */
  keyId: string;
  signature: Uint8Array;
  untrustedComment: string;
  trustedComment: string;
  globalSignature: Uint8Array;
}

/** The id minisign prints for a keynum. */
export function keyIdOf(keyNum: Uint8Array): string {
  let s = '';
  for (let i = keyNum.length - 1; i >= 0; i--) s += keyNum[i].toString(16).padStart(2, '0');
  return s.toUpperCase();
}

export function base64Decode(s: string): Uint8Array | null {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) return null;
  try {
    return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

export function base64Encode(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}

const same = (a: Uint8Array, b: readonly number[] | Uint8Array, at = 0) => b.every((v, i) => a[at + i] === v);

/**
 * A public key from a minisign .pub file's text or from its base64 line alone
 * (as `minisign -P` takes it); `name` says where it came from in messages.
 */
export function parsePublicKey(text: string, name: string): PublicKey {
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  const line = lines[0].startsWith(UNTRUSTED) ? lines[1] : lines[0];
  const b = line === undefined ? null : base64Decode(line.trim());
  if (!b || b.length !== 2 + KEYNUM_SIZE + PUBLIC_KEY_SIZE) throw signatureError(`${name}: not a minisign public key (expected base64 of ${2 + KEYNUM_SIZE + PUBLIC_KEY_SIZE} bytes)`);
  if (!same(b, ALG_ED)) throw signatureError(`${name}: not an Ed25519 minisign public key`);
  const keyNum = b.slice(2, 2 + KEYNUM_SIZE);
  return { keyNum, key: b.slice(2 + KEYNUM_SIZE), id: keyIdOf(keyNum) };
}

/** The base64 line of a public key (what `minisign -P` takes). */
export const publicKeyBase64 = (k: Pick<PublicKey, 'keyNum' | 'key'>) => base64Encode(new Uint8Array([...ALG_ED, ...k.keyNum, ...k.key]));

/** A .pub file as minisign writes it. */
export function formatPublicKey(k: Pick<PublicKey, 'keyNum' | 'key'>): string {
  return `${UNTRUSTED}minisign public key ${keyIdOf(k.keyNum)}\n${publicKeyBase64(k)}\n`;
}

/** A .minisig file's text, parsed and checked for shape (not for validity: see signature-check.ts). */
export function parseSignature(text: string, name: string): Signature {
  const bad = (why: string) => signatureError(`${name}: not a minisign signature (${why})`);
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  if (!lines[0]?.startsWith(UNTRUSTED)) throw bad(`the first line should start with "${UNTRUSTED}"`);
  const sig = base64Decode(lines[1]?.trim() ?? '');
  if (!sig || sig.length !== 2 + KEYNUM_SIZE + SIGNATURE_SIZE) throw bad('the second line is not the base64 of a signature');
  const prehashed = same(sig, ALG_PREHASHED);
  if (!prehashed && !same(sig, ALG_ED)) throw bad('unsupported signature algorithm');
  if (!lines[2]?.startsWith(TRUSTED)) throw bad(`the third line should start with "${TRUSTED}"`);
  const trustedComment = lines[2].slice(TRUSTED.length);
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(trustedComment)) throw bad('the trusted comment holds unprintable characters');
  const global = base64Decode(lines[3]?.trim() ?? '');
  if (!global || global.length !== SIGNATURE_SIZE) throw bad('the fourth line is not the base64 of the comment signature');
  if (lines.slice(4).some((l) => l.trim() !== '')) throw bad('text after the comment signature');
  const keyNum = sig.slice(2, 2 + KEYNUM_SIZE);
  return {
    prehashed,
    keyNum,
    keyId: keyIdOf(keyNum),
    signature: sig.slice(2 + KEYNUM_SIZE),
    untrustedComment: lines[0].slice(UNTRUSTED.length),
    trustedComment,
    globalSignature: global,
  };
}

/** A .minisig file as minisign writes it. */
export function formatSignature(s: Omit<Signature, 'keyId'>): string {
  const sig = new Uint8Array([...(s.prehashed ? ALG_PREHASHED : ALG_ED), ...s.keyNum, ...s.signature]);
  return `${UNTRUSTED}${s.untrustedComment}\n${base64Encode(sig)}\n${TRUSTED}${s.trustedComment}\n${base64Encode(s.globalSignature)}\n`;
}

/** What the comment signature covers: the signature, then the trusted comment's UTF-8 bytes. */
export function globalMessage(signature: Uint8Array, trustedComment: string): Uint8Array {
  const c = new TextEncoder().encode(trustedComment);
  const m = new Uint8Array(signature.length + c.length);
  m.set(signature);
  m.set(c, signature.length);
  return m;
}

/** The layout of a secret key's 158 bytes (minisign.h, SeckeyStruct). */
export const SECRET_KEY = {
  size: 2 + 2 + 2 + 32 + 8 + 8 + KEYNUM_SIZE + SECRET_KEY_SIZE + 32,
  kdfAt: 2,
  chkAlgAt: 4,
  saltAt: 6,
  opsAt: 38,
  memAt: 46,
  /** keynum, sk, chk: what the password's scrypt stream is XORed over */
  sealedAt: 54,
  sealedSize: KEYNUM_SIZE + SECRET_KEY_SIZE + 32,
  ALG_ED,
  KDF_SCRYPT: [0x53, 0x63], // "Sc"
  KDF_NONE: [0, 0],
  CHK_BLAKE2B: [0x42, 0x32], // "B2"
} as const;

export const UNTRUSTED_PREFIX = UNTRUSTED;
