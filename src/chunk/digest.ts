// Digest algorithms for chunk ids and archive digests (casync-format.md §5, §6).
// The platform supplies the implementation; node:crypto, Bun and Deno have both.

import type { DigestName } from '../format/feature-flags.ts';

export type { DigestName };
export const DIGESTS: readonly DigestName[] = ['sha512-256', 'sha256'];

export interface Hasher {
  update(data: Uint8Array): unknown;
  digest(): Uint8Array;
}

export type HashFactory = (name: DigestName) => Hasher;
