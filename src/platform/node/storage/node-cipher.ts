// The ciphers of encrypted stores on Node: AES-256-GCM from node:crypto
// (OpenSSL, some five times @noble/ciphers' speed here), XChaCha20-Poly1305
// from @noble/ciphers, which node:crypto lacks.  Same construction and layout
// as the core's (stores/chunk-cipher.ts): nonce, ciphertext, 16-byte tag.

import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { nobleCipher, NONCE_SIZE, TAG_SIZE, type CipherFactory } from '../../../stores/chunk-cipher.ts';

export const nodeCiphers: CipherFactory = (name, key) => {
  if (name !== 'aes-256-gcm') return nobleCipher(name, key);
  nobleCipher(name, key); // checks the key's size as the core does
  const n = NONCE_SIZE[name];
  return {
    name,
    seal(plain) {
      const nonce = randomBytes(n);
      const c = createCipheriv('aes-256-gcm', key, nonce);
      return new Uint8Array(Buffer.concat([nonce, c.update(plain), c.final(), c.getAuthTag()]));
    },
    open(sealed) {
      if (sealed.length < n + TAG_SIZE) return null;
      try {
        const d = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, n));
        d.setAuthTag(sealed.subarray(sealed.length - TAG_SIZE));
        return new Uint8Array(Buffer.concat([d.update(sealed.subarray(n, sealed.length - TAG_SIZE)), d.final()]));
      } catch {
        return null;
      }
    },
  };
};
