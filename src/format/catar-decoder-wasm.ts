// The catar decoder's side of the wasm core (assembly/catar-decoder.ts): its
// exports, event codes, and how an error in the result block becomes a message.
//
// Result block: 16 LE64 slots at decoderResult().  Slot 0 is the archive offset
// of the record concerned.  For an error, slots 1–2 point at a static UTF-16
// message whose placeholders name the other slots: {d0}–{d2} decimal, {x0}–{x2}
// hex, {f0}–{f2} 16-digit hex (feature flags), {o0}–{o2} octal, {r0}–{r2} a record
// type, all reading slots 3–5; {n0} and {n1} are byte strings at (6, 7), (8, 9).

import { instantiateCore } from '../wasm/core.ts';
import * as shared from '../generated/core-constants.ts';
import * as C from './catar-constants.ts';

export interface DecoderCore {
  memory: WebAssembly.Memory;
  decoderInit(windowSize: number, expectFlags: bigint, haveExpect: number): number;
  decoderPut(len: number): void;
  decoderEof(): void;
  decoderStep(): number;
  decoderResult(): number;
  decoderOffset(): bigint;
}

/** Event codes of decoderStep() (assembly/catar-decoder-events.ts). */
export const Ev = {
  More: shared.EV_MORE,
  Error: shared.EV_ERROR,
  Filename: shared.EV_FILENAME,
  Entry: shared.EV_ENTRY,
  User: shared.EV_USER,
  Group: shared.EV_GROUP,
  Xattr: shared.EV_XATTR,
  AclUser: shared.EV_ACL_USER,
  AclGroup: shared.EV_ACL_GROUP,
  AclGroupObj: shared.EV_ACL_GROUP_OBJ,
  AclDefault: shared.EV_ACL_DEFAULT,
  AclDefaultUser: shared.EV_ACL_DEFAULT_USER,
  AclDefaultGroup: shared.EV_ACL_DEFAULT_GROUP,
  Selinux: shared.EV_SELINUX,
  Fcaps: shared.EV_FCAPS,
  QuotaProjid: shared.EV_QUOTA_PROJID,
  Node: shared.EV_NODE,
  Payload: shared.EV_PAYLOAD,
  PayloadEnd: shared.EV_PAYLOAD_END,
  DirectoryEnd: shared.EV_DIRECTORY_END,
  End: shared.EV_END,
} as const;

/** A fresh decoder instance with its own memory; `expectFlags` null: take the root's. */
export function instantiateDecoder(windowSize: number, expectFlags: bigint | null) {
  const core = instantiateCore() as unknown as DecoderCore;
  const window = core.decoderInit(windowSize, expectFlags ?? 0n, expectFlags === null ? 0 : 1);
  return { core, window, result: core.decoderResult() };
}

const RECORD_NAMES = new Map<bigint, string>([
  [C.CA_FORMAT_ENTRY, 'ENTRY'],
  [C.CA_FORMAT_USER, 'USER'],
  [C.CA_FORMAT_GROUP, 'GROUP'],
  [C.CA_FORMAT_XATTR, 'XATTR'],
  [C.CA_FORMAT_ACL_USER, 'ACL_USER'],
  [C.CA_FORMAT_ACL_GROUP, 'ACL_GROUP'],
  [C.CA_FORMAT_ACL_GROUP_OBJ, 'ACL_GROUP_OBJ'],
  [C.CA_FORMAT_ACL_DEFAULT, 'ACL_DEFAULT'],
  [C.CA_FORMAT_ACL_DEFAULT_USER, 'ACL_DEFAULT_USER'],
  [C.CA_FORMAT_ACL_DEFAULT_GROUP, 'ACL_DEFAULT_GROUP'],
  [C.CA_FORMAT_FCAPS, 'FCAPS'],
  [C.CA_FORMAT_QUOTA_PROJID, 'QUOTA_PROJID'],
  [C.CA_FORMAT_SELINUX, 'SELINUX'],
  [C.CA_FORMAT_SYMLINK, 'SYMLINK'],
  [C.CA_FORMAT_DEVICE, 'DEVICE'],
  [C.CA_FORMAT_PAYLOAD, 'PAYLOAD'],
  [C.CA_FORMAT_FILENAME, 'FILENAME'],
  [C.CA_FORMAT_GOODBYE, 'GOODBYE'],
]);

export const recordName = (type: bigint) =>
  RECORD_NAMES.get(type) ?? `unknown record type 0x${type.toString(16).padStart(16, '0')}`;

/** A byte string for a message: quoted, with bytes outside printable ASCII as \xNN. */
export function quoteBytes(b: Uint8Array): string {
  let s = '"';
  for (const c of b) {
    s += c >= 0x20 && c < 0x7f && c !== 0x22 && c !== 0x5c ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, '0')}`;
  }
  return `${s}"`;
}

/** The message of the error in the result block. */
export function errorMessage(memory: WebAssembly.Memory, slots: BigUint64Array): string {
  const ptr = Number(slots[1]);
  const len = Number(slots[2]);
  const units = new Uint16Array(memory.buffer.slice(ptr, ptr + len));
  const template = String.fromCharCode(...units);
  const bytes = (slot: number) =>
    new Uint8Array(memory.buffer, Number(slots[slot]), Number(slots[slot + 1]));
  return template.replace(/\{([dxfor])([0-2])\}|\{n([01])\}/g, (_m, kind?: string, i?: string, n?: string) => {
    if (n !== undefined) return quoteBytes(bytes(n === '0' ? shared.R_N0 : shared.R_N1));
    const v = slots[shared.R_D0 + Number(i)];
    switch (kind) {
      case 'd':
        return v.toString();
      case 'x':
        return `0x${v.toString(16)}`;
      case 'f':
        return `0x${v.toString(16).padStart(16, '0')}`;
      case 'o':
        return `0${v.toString(8)}`;
      default:
        return recordName(v);
    }
  });
}
