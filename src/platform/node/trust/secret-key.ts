// minisign secret keys on Node: generated, sealed with a password (scrypt, as
// libsodium's crypto_pwhash_scryptsalsa208sha256 derives it from the file's
// opslimit and memlimit), opened, and used to sign.  Ed25519 is node:crypto's;
// the key's checksum is BLAKE2b-256, which node:crypto lacks, from @noble/hashes.

import { createPrivateKey, generateKeyPairSync, randomBytes, scryptSync, sign, type KeyObject } from 'node:crypto';
import { blake2b } from '@noble/hashes/blake2.js';
import { signatureError } from '../../../errors.ts';
import { base64Decode, base64Encode, KEYNUM_SIZE, SECRET_KEY, SECRET_KEY_SIZE, UNTRUSTED_PREFIX, keyIdOf, type PublicKey } from '../../../trust/minisign.ts';

/** minisign's defaults: libsodium's OPSLIMIT_SENSITIVE and MEMLIMIT_SENSITIVE (scrypt N=2^20, r=8, p=1: 1 GiB). */
export const OPSLIMIT = 33554432n;
export const MEMLIMIT = 1073741824n;

export interface SecretKey {
  keyNum: Uint8Array;
  /** libsodium's secret key: the 32-byte seed, then the public key */
  sk: Uint8Array;
  publicKey: PublicKey;
}

export function generateSecretKey(): SecretKey {
  const { privateKey } = generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' });
  const seed = Buffer.from(jwk.d!, 'base64url');
  const pk = Buffer.from(jwk.x!, 'base64url');
  const keyNum = new Uint8Array(randomBytes(KEYNUM_SIZE));
  return { keyNum, sk: new Uint8Array(Buffer.concat([seed, pk])), publicKey: { keyNum, key: new Uint8Array(pk), id: keyIdOf(keyNum) } };
}

/** The key file's text: sealed with `password`, or, when it is null, in the clear (minisign -W). */
export function formatSecretKey(k: SecretKey, password: string | null, comment = 'minisign encrypted secret key'): string {
  const L = SECRET_KEY;
  const b = new Uint8Array(L.size);
  b.set(L.ALG_ED, 0);
  b.set(password === null ? L.KDF_NONE : L.KDF_SCRYPT, L.kdfAt);
  b.set(L.CHK_BLAKE2B, L.chkAlgAt);
  b.set(k.keyNum, L.sealedAt);
  b.set(k.sk, L.sealedAt + KEYNUM_SIZE);
  b.set(checksum(b), L.sealedAt + KEYNUM_SIZE + SECRET_KEY_SIZE);
  if (password !== null) {
    b.set(randomBytes(32), L.saltAt);
    const v = new DataView(b.buffer);
    v.setBigUint64(L.opsAt, OPSLIMIT, true);
    v.setBigUint64(L.memAt, MEMLIMIT, true);
    xorStream(b, password);
  }
  return `${UNTRUSTED_PREFIX}${comment}\n${base64Encode(b)}\n`;
}

/** Whether the key file's text is sealed with a password (so one must be asked for). */
export function secretKeyProtected(text: string, name: string): boolean {
  return raw(text, name)[SECRET_KEY.kdfAt] !== 0;
}

/** Opens a key file's text; `password` is asked only for a sealed key. */
export async function openSecretKey(text: string, name: string, password: () => string | Promise<string>): Promise<SecretKey> {
  const L = SECRET_KEY;
  const b = raw(text, name);
  const kdf = b.subarray(L.kdfAt, L.kdfAt + 2);
  if (kdf[0] === L.KDF_SCRYPT[0] && kdf[1] === L.KDF_SCRYPT[1]) xorStream(b, await password());
  else if (kdf[0] !== 0 || kdf[1] !== 0) throw signatureError(`${name}: unsupported key derivation function`);
  const sealed = kdf[0] !== 0;
  const chk = b.subarray(L.sealedAt + KEYNUM_SIZE + SECRET_KEY_SIZE, L.sealedAt + L.sealedSize);
  // minisign leaves the checksum of a key without password zero; a sealed one's proves the password.
  if (sealed && !Buffer.from(chk).equals(Buffer.from(checksum(b)))) throw signatureError(`${name}: wrong password for this key`);
  const keyNum = b.slice(L.sealedAt, L.sealedAt + KEYNUM_SIZE);
  const sk = b.slice(L.sealedAt + KEYNUM_SIZE, L.sealedAt + KEYNUM_SIZE + SECRET_KEY_SIZE);
  return { keyNum, sk, publicKey: { keyNum, key: sk.slice(32), id: keyIdOf(keyNum) } };
}

/** An Ed25519 signature of `message`. */
export function signWith(k: SecretKey, message: Uint8Array): Uint8Array {
  return new Uint8Array(sign(null, message, privateKeyOf(k)));
}

const objects = new WeakMap<SecretKey, KeyObject>();

function privateKeyOf(k: SecretKey): KeyObject {
  let o = objects.get(k);
  if (!o) {
    const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64url');
    o = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: b64(k.sk.subarray(0, 32)), x: b64(k.sk.subarray(32)) }, format: 'jwk' });
    objects.set(k, o);
  }
  return o;
}

function raw(text: string, name: string): Uint8Array {
  const lines = text.split('\n');
  const b = lines[0]?.startsWith(UNTRUSTED_PREFIX) ? base64Decode((lines[1] ?? '').trim()) : null;
  if (!b || b.length !== SECRET_KEY.size) throw signatureError(`${name}: not a minisign secret key`);
  const L = SECRET_KEY;
  if (b[0] !== L.ALG_ED[0] || b[1] !== L.ALG_ED[1]) throw signatureError(`${name}: not an Ed25519 minisign secret key`);
  if (b[L.chkAlgAt] !== L.CHK_BLAKE2B[0] || b[L.chkAlgAt + 1] !== L.CHK_BLAKE2B[1]) throw signatureError(`${name}: unsupported checksum function`);
  return b;
}

/** BLAKE2b-256 of the algorithm, keynum and secret key (minisign's seckey_compute_chk). */
function checksum(b: Uint8Array): Uint8Array {
  const L = SECRET_KEY;
  const h = blake2b.create({ dkLen: 32 });
  h.update(b.subarray(0, 2));
  h.update(b.subarray(L.sealedAt, L.sealedAt + KEYNUM_SIZE + SECRET_KEY_SIZE));
  return h.digest();
}

/** XORs keynum, sk and chk with the scrypt stream of `password` under the file's salt and limits. */
function xorStream(b: Uint8Array, password: string): void {
  const L = SECRET_KEY;
  const v = new DataView(b.buffer, b.byteOffset);
  const { N, r, p } = scryptParams(v.getBigUint64(L.opsAt, true), v.getBigUint64(L.memAt, true));
  let stream: Buffer;
  try {
    stream = scryptSync(Buffer.from(password, 'utf8'), b.subarray(L.saltAt, L.saltAt + 32), L.sealedSize, { N, r, p, maxmem: 256 * N * r * p + (64 << 20) });
  } catch (e) {
    throw signatureError(`cannot derive the key from the password (scrypt N=${N}, r=${r}, p=${p}): ${(e as Error).message}`);
  }
  for (let i = 0; i < L.sealedSize; i++) b[L.sealedAt + i] ^= stream[i];
}

/** libsodium's pickparams(): scrypt's N, r and p from an opslimit and a memlimit. */
export function scryptParams(opslimit: bigint, memlimit: bigint): { N: number; r: number; p: number } {
  const ops = opslimit < 32768n ? 32768n : opslimit;
  const r = 8n;
  let nLog2 = 1n;
  let p = 1n;
  const fits = (maxN: bigint) => {
    for (nLog2 = 1n; nLog2 < 63n; nLog2++) if (1n << nLog2 > maxN / 2n) break;
  };
  if (ops < memlimit / 32n) {
    fits(ops / (r * 4n));
  } else {
    fits(memlimit / (r * 128n));
    let maxrp = ops / 4n / (1n << nLog2);
    if (maxrp > 0x3fffffffn) maxrp = 0x3fffffffn;
    p = maxrp / r;
  }
  if (nLog2 > 30n || p < 1n) throw signatureError(`unusable key derivation limits (opslimit ${opslimit}, memlimit ${memlimit})`);
  return { N: 2 ** Number(nLog2), r: Number(r), p: Number(p) };
}
