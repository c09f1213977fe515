// The ciphers of encrypted stores, as desync defines them (encrypt.go at
// folbricht/desync ff9ccfab): XChaCha20-Poly1305 (the default) or AES-256-GCM,
// a 256-bit key, a random nonce (24 or 12 bytes) before the ciphertext and its
// 16-byte tag, no associated data.  Chunk files are named
// `<id>.cacnk.<algorithm>-<keyid>`, the key id being the first 4 bytes of the
// key's SHA-256 in lower-case hex, so chunks under different keys, and plain
// ones, live side by side in one store.
//
// These are @noble/ciphers' (audited, plain JavaScript, so the same in a
// browser on plain http); a platform may bring faster ones of the same
// construction (node:crypto's AES-GCM on Node, store-graph.ts StoreLeaves).
// @noble/ciphers is imported at the first seal or open: its AES tables alone
// cost every process and worker thread some 20 ms of CPU at start.

import { sha256 } from '@noble/hashes/sha2.js';
import { fromHex, toHex } from '../chunk/chunk-id.ts';
import { usageError } from '../errors.ts';

export const CIPHERS = ['xchacha20-poly1305', 'aes-256-gcm'] as const;
export type CipherName = (typeof CIPHERS)[number];

export const KEY_SIZE = 32;
export const NONCE_SIZE: Record<CipherName, number> = { 'xchacha20-poly1305': 24, 'aes-256-gcm': 12 };
export const TAG_SIZE = 16;

/** Seals and opens whole stored chunks: nonce ‖ ciphertext ‖ tag. */
export interface ChunkCipher {
  readonly name: CipherName;
  seal(plain: Uint8Array): Uint8Array | Promise<Uint8Array>;
  /** the plain bytes, or null when `sealed` does not open with this key (wrong key, damaged, not encrypted) */
  open(sealed: Uint8Array): Uint8Array | null | Promise<Uint8Array | null>;
}

export type CipherFactory = (name: CipherName, key: Uint8Array) => ChunkCipher;

/** desync's key id: the first 4 bytes of the key's SHA-256, in hex. */
export const encryptionKeyId = (key: Uint8Array) => toHex(sha256(key).subarray(0, 4));

/** The file name extension after `<id>.cacnk` (desync's storageExtension of the encryption layer). */
export const encryptedExtension = (name: CipherName, key: Uint8Array) => `.${name}-${encryptionKeyId(key)}`;

/** A key as desync's config and `--encryption-key` give it: 64 hex digits. */
export function parseEncryptionKey(hex: string, what = 'encryption key'): Uint8Array {
  const key = fromHex(hex.trim().toLowerCase());
  if (!key) throw usageError(`${what}: expected ${KEY_SIZE * 2} hex digits (for example from \`openssl rand -hex 32\`)`);
  if (key.length !== KEY_SIZE) throw usageError(`${what}: must be ${KEY_SIZE} bytes (${KEY_SIZE * 2} hex digits), got ${key.length}`);
  return key;
}

export function cipherName(v: string | undefined): CipherName {
  if (v === undefined) return 'xchacha20-poly1305';
  if (!CIPHERS.includes(v as CipherName)) throw usageError(`encryption algorithm ${v}: not one of ${CIPHERS.join(', ')}`);
  return v as CipherName;
}

const randomNonce = (n: number) => globalThis.crypto.getRandomValues(new Uint8Array(n));

type Aead = (key: Uint8Array, nonce: Uint8Array) => { encrypt(b: Uint8Array): Uint8Array; decrypt(b: Uint8Array): Uint8Array };

const loadAead = async (name: CipherName): Promise<Aead> =>
  name === 'aes-256-gcm' ? (await import('@noble/ciphers/aes.js')).gcm : (await import('@noble/ciphers/chacha.js')).xchacha20poly1305;

/** The ciphers in plain JavaScript (@noble/ciphers). */
export const nobleCipher: CipherFactory = (name, key) => {
  if (key.length !== KEY_SIZE) throw usageError(`encryption key: must be ${KEY_SIZE} bytes, got ${key.length}`);
  const n = NONCE_SIZE[name];
  let loading: Promise<Aead> | undefined;
  const aeadOf = () => (loading ??= loadAead(name));
  return {
    name,
    async seal(plain) {
      const aead = await aeadOf();
      const nonce = randomNonce(n);
      const sealed = aead(key, nonce).encrypt(plain);
      const out = new Uint8Array(n + sealed.length);
      out.set(nonce);
      out.set(sealed, n);
      return out;
    },
    async open(sealed) {
      if (sealed.length < n + TAG_SIZE) return null;
      const aead = await aeadOf();
      try {
        return aead(key, sealed.subarray(0, n)).decrypt(sealed.subarray(n));
      } catch {
        return null;
      }
    },
  };
};
