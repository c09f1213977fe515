import { createHash } from 'node:crypto';
import type { DigestName, Hasher } from '../../../chunk/digest.ts';

export const nodeHash = (name: DigestName): Hasher => createHash(name);

export const digestOf = (name: DigestName, data: Uint8Array): Uint8Array =>
  createHash(name).update(data).digest();
