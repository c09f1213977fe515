// Chunk ids: 32-byte digests of the uncompressed chunk, named in stores by their
// lowercase hex (casync-format.md §5).

import { CHUNK_ID_SIZE } from '../format/constants.ts';

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]];
  return s;
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
