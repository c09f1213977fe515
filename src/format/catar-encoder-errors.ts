// The wasm catar encoder's exports, and its refusals turned into WasyncErrors.
//
// The core returns a negative code (assembly/catar-encoder-format.ts, E_*) and
// keeps the offending value (a uid, a length, a mode, the encoder state) in
// encoderDetail(); the message is written here, where the node is at hand.
// EUSAGE: the caller broke the protocol or passed impossible values.
// EUNSUPPORTED: valid metadata that casync cannot archive (or could only archive
// in a form its own reader rejects).

import { WasyncError, type ErrorCode } from '../errors.ts';
import {
  E_ACL_ID_16BIT, E_ACL_ID_INVALID, E_ACL_NAME_INVALID, E_ACL_NAME_NUMERIC, E_ACL_PERMISSIONS, E_BODY_MISSING,
  E_DEVICE_NUMBER, E_FCAPS_SIZE, E_FILENAME_INVALID, E_FILENAME_ORDER, E_FLAGS, E_GID_16BIT, E_GID_INVALID,
  E_GROUP_NAME_INVALID, E_MTIME, E_NODE_TYPE, E_NOT_ARCHIVED,
  E_PAYLOAD_SIZE, E_ROOT_NOT_DIR, E_SELINUX_LABEL, E_STATE, E_SYMLINK_TARGET, E_UID_16BIT, E_UID_INVALID,
  E_USER_NAME_INVALID, E_XATTR_DUPLICATE, E_XATTR_NAME,
  E_XATTR_VALUE_SIZE,
} from '../generated/core-constants.ts';
import type { CatarAclEntry, CatarNode } from './catar-node.ts';
import { hex64 } from './feature-flags.ts';

export interface EncoderCore {
  memory: WebAssembly.Memory;
  encoderInit(flags: bigint): number;
  encoderInput(len: number): number;
  encoderOutput(): number;
  encoderOffset(): bigint;
  encoderDetail(): bigint;
  encoderBegin(mode: number, uid: number, gid: number, mtime: bigint, flags: bigint): number;
  encoderUser(len: number): number;
  encoderGroup(len: number): number;
  encoderXattr(nameLen: number, valueLen: number): number;
  encoderAcl(kind: number, id: number, perm: number, nameLen: number): number;
  encoderAclGroupObj(perm: number): number;
  encoderAclDefault(userObj: number, groupObj: number, other: number, mask: number): number;
  encoderSelinux(len: number): number;
  encoderFcaps(len: number): number;
  encoderProjid(id: number): number;
  encoderPayloadSize(size: bigint): number;
  encoderSymlink(len: number): number;
  encoderDevice(major: number, minor: number): number;
  encoderEmit(): number;
  encoderPayloadDone(bytes: bigint): number;
  encoderSkipNode(bytes: bigint): number;
  encoderFilename(len: number): number;
  encoderGoodbye(): number;
  bstPermutation(n: number, out: number): void;
  allocate(size: number): number;
}

export interface ErrorContext {
  op: string;
  flags: bigint;
  name?: Uint8Array;
  node?: CatarNode;
  aclEntry?: CatarAclEntry;
  bytes?: number;
}

const STATES = [
  'not initialized',
  'the root node is expected',
  'the node of the last filename() is expected',
  'a node is being staged',
  'a directory is open (filename() or endDirectory() expected)',
  "a file's payload is being streamed",
  'the archive is complete',
];

const ADD_UIDS = 'archive with --with=32bit-uids (or 16bit-uids), or without user-names';
const NAME_RULE =
  "casync's reader accepts only names of letters, digits, '_' and '-' that start with a letter or '_', " +
  'are at most 255 bytes and are not "root"';

const quote = (b: Uint8Array | undefined) => JSON.stringify(new TextDecoder().decode(b ?? new Uint8Array()));
const octal = (m: bigint) => `0${m.toString(8)}`;

/** The WasyncError for core result `code` (< 0). */
export function encoderError(code: number, detail: bigint, ctx: ErrorContext): WasyncError {
  const [kind, text] = describe(code, detail, ctx);
  return new WasyncError(kind, `catar encoder: ${text}`);
}

function describe(code: number, d: bigint, ctx: ErrorContext): [ErrorCode, string] {
  const n = ctx.node;
  const e = ctx.aclEntry;
  const usage = (t: string): [ErrorCode, string] => ['EUSAGE', t];
  const unsupported = (t: string): [ErrorCode, string] => ['EUNSUPPORTED', t];
  switch (code) {
    case E_STATE: return usage(`${ctx.op}() is not valid now: ${STATES[Number(d)] ?? `state ${d}`}`);
    case E_FLAGS: return usage(`feature flags ${hex64(d)} are not normalized`);
    case E_NODE_TYPE: return unsupported(`file type of mode ${octal(d)} cannot be archived`);
    case E_NOT_ARCHIVED: return usage(`mode ${octal(d)} is not archived under flags ${hex64(ctx.flags)} (check CatarEncoder.archives first)`);
    case E_ROOT_NOT_DIR: return usage(`the archive root must be a directory, not mode ${octal(d)}`);
    case E_UID_INVALID: case E_GID_INVALID:
      return unsupported(`${code === E_UID_INVALID ? 'uid' : 'gid'} ${d} cannot be archived: casync's reader refuses ids 65535 and 4294967295`);
    case E_UID_16BIT: case E_GID_16BIT:
      return unsupported(`${code === E_UID_16BIT ? 'uid' : 'gid'} ${d} does not fit in 16 bits (16bit-uids); use 32bit-uids`);
    case E_USER_NAME_INVALID: case E_GROUP_NAME_INVALID: {
      const name = code === E_USER_NAME_INVALID ? n?.userName : n?.groupName;
      return unsupported(`${code === E_USER_NAME_INVALID ? 'user' : 'group'} name ${JSON.stringify(name)} of id ${d}: ${NAME_RULE}`);
    }
    case E_ACL_ID_INVALID: return unsupported(`ACL entry for id ${d}: casync's reader refuses ids 65535 and 4294967295`);
    case E_ACL_ID_16BIT: return unsupported(`ACL entry for id ${d} does not fit in 16 bits (16bit-uids); use 32bit-uids`);
    case E_ACL_NAME_NUMERIC:
      return unsupported(
        `ACL entry for id ${d} has no name; with user-names but no uid flags casync would store "${d}", ` +
          `which its reader refuses: ${ADD_UIDS}`,
      );
    case E_ACL_NAME_INVALID: return unsupported(`ACL entry name ${JSON.stringify(e?.name)} of id ${d}: ${NAME_RULE}`);
    case E_ACL_PERMISSIONS: return usage(`bad ACL permissions ${d} (read 4, write 2, execute 1)`);
    case E_XATTR_NAME: return usage(`bad extended attribute name ${quote(ctx.name)}`);
    case E_XATTR_VALUE_SIZE: return unsupported(`extended attribute ${quote(ctx.name)} has ${d} bytes; casync stores at most 65536`);
    case E_XATTR_DUPLICATE: return usage('the same extended attribute name was given twice');
    case E_SELINUX_LABEL: return usage(`bad SELinux label (${d} bytes; 1..4095 without NUL)`);
    case E_FCAPS_SIZE: return unsupported(`security.capability has ${d} bytes; casync stores at most 65536`);
    case E_SYMLINK_TARGET: return usage(`bad symlink target (${d} bytes; 1..4095 without NUL)`);
    case E_DEVICE_NUMBER: return unsupported(`device number ${d} is out of casync's range (12-bit major, 20-bit minor)`);
    case E_BODY_MISSING: return usage(`node of mode ${octal(d)} lacks its body (size, target or rdev)`);
    case E_MTIME:
      return unsupported(
        'mtime 1 ns before 1970 wraps to 18446744073709551615, which casync reserves for "no time"',
      );
    case E_FILENAME_INVALID: return usage(`invalid file name ${quote(ctx.name)} (1..255 bytes, no '/' or NUL, not "." or "..")`);
    case E_FILENAME_ORDER:
      return usage(`file name ${quote(ctx.name)} does not come strictly after the previous child's name in strcmp order`);
    case E_PAYLOAD_SIZE:
      return ctx.op === 'payloadDone'
        ? usage(`${ctx.bytes} payload bytes reported but only ${d} remain of the file's size`)
        : usage(`${ctx.op}() before the file's payload was complete: ${d} bytes missing`);
    default: return usage(`core error ${code} (${ctx.op})`);
  }
}
