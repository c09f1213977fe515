// Chunk ids: 32-byte digests of the uncompressed chunk, named in stores by their
// lowercase hex (casync-format.md §5).

import { CHUNK_ID_SIZE } from '../format/constants.ts';

const DIGITS = Array.from('0123456789abcdef', (c) => c.charCodeAt(0));
const ascii = new TextDecoder();
let digits = new Uint8Array(2 * CHUNK_ID_SIZE);

/**
 * Lowercase hex.  The digits are written as bytes and decoded at once: a string
 * built by += is 32 intermediate strings per chunk id, and ids are named per
 * chunk read or stored (this takes a third of the time and leaves one string).
 */
export function toHex(bytes: Uint8Array): string {
  if (digits.length < 2 * bytes.length) digits = new Uint8Array(2 * bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    digits[2 * i] = DIGITS[bytes[i] >> 4];
    digits[2 * i + 1] = DIGITS[bytes[i] & 15];
  }
  return ascii.decode(digits.length === 2 * bytes.length ? digits : digits.subarray(0, 2 * bytes.length));
}

export function fromHex(hex: string): Uint8Array | null {
  if (hex.length % 2 || !/^[0-9a-f]*$/.test(hex)) return null;
  const b = new Uint8Array(hex.length / 2);
  for (let i = 0; i < b.length; i++) b[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return b;
}

export const isChunkIdHex = (s: string) => s.length === CHUNK_ID_SIZE * 2 && /^[0-9a-f]+$/.test(s);

/** `<4hex>/<64hex>` relative to a store; add the compressed suffix for .cacnk files. */
export const chunkPathBase = (hex: string) => `${hex.slice(0, 4)}/${hex}`;

export const CHUNK_SUFFIX = '.cacnk';
