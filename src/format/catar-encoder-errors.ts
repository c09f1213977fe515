// The wasm catar encoder's exports, and its refusals turned into WasyncErrors.
//
// The core returns a negative code (assembly/catar-encoder-format.ts, E_*) and
// keeps the offending value (a uid, a length, a mode, the encoder state) in
// encoderDetail(); the message is written here, where the node is at hand.
// EUSAGE: the caller broke the protocol or passed impossible values.
// EUNSUPPORTED: valid metadata that casync cannot archive (or could only archive
// in a form its own reader rejects).

import { WasyncError, type ErrorCode } from '../errors.ts';
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

/** Result codes of the core; the same values as E_* in assembly/catar-encoder-format.ts. */
const E = {
  STATE: -1,
  FLAGS: -2,
  NODE_TYPE: -3,
  NOT_ARCHIVED: -4,
  ROOT_NOT_DIR: -5,
  UID_INVALID: -6,
  GID_INVALID: -7,
  UID_16BIT: -8,
  GID_16BIT: -9,
  USER_NUMERIC: -10,
  GROUP_NUMERIC: -11,
  USER_ROOT_UNNAMED: -12,
  GROUP_ROOT_UNNAMED: -13,
  USER_NAME_INVALID: -14,
  GROUP_NAME_INVALID: -15,
  ACL_ID_INVALID: -16,
  ACL_ID_16BIT: -17,
  ACL_NAME_NUMERIC: -18,
  ACL_NAME_INVALID: -19,
  ACL_PERMISSIONS: -20,
  XATTR_NAME: -21,
  XATTR_VALUE_SIZE: -22,
  XATTR_DUPLICATE: -23,
  SELINUX_LABEL: -24,
  FCAPS_SIZE: -25,
  SYMLINK_TARGET: -26,
  DEVICE_NUMBER: -27,
  BODY_MISSING: -28,
  MTIME: -29,
  FILENAME_INVALID: -30,
  FILENAME_ORDER: -31,
  PAYLOAD_SIZE: -32,
} as const;

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
    case E.STATE: return usage(`${ctx.op}() is not valid now: ${STATES[Number(d)] ?? `state ${d}`}`);
    case E.FLAGS: return usage(`feature flags ${hex64(d)} are not normalized`);
    case E.NODE_TYPE: return unsupported(`file type of mode ${octal(d)} cannot be archived`);
    case E.NOT_ARCHIVED: return usage(`mode ${octal(d)} is not archived under flags ${hex64(ctx.flags)} (check CatarEncoder.archives first)`);
    case E.ROOT_NOT_DIR: return usage(`the archive root must be a directory, not mode ${octal(d)}`);
    case E.UID_INVALID: case E.GID_INVALID:
      return unsupported(`${code === E.UID_INVALID ? 'uid' : 'gid'} ${d} cannot be archived: casync's reader refuses ids 65535 and 4294967295`);
    case E.UID_16BIT: case E.GID_16BIT:
      return unsupported(`${code === E.UID_16BIT ? 'uid' : 'gid'} ${d} does not fit in 16 bits (16bit-uids); use 32bit-uids`);
    case E.USER_NUMERIC: case E.GROUP_NUMERIC: {
      const what = code === E.USER_NUMERIC ? 'uid' : 'gid';
      return unsupported(
        `${what} ${d} has no name; with user-names but no uid flags casync would store "${d}" as the name, ` +
          `which its reader refuses: ${ADD_UIDS}`,
      );
    }
    case E.USER_ROOT_UNNAMED: case E.GROUP_ROOT_UNNAMED:
      return unsupported(
        `${code === E.USER_ROOT_UNNAMED ? 'uid' : 'gid'} 0 (root) gets no name record, and with user-names but no uid flags ` +
          `casync's reader then refuses the archive: ${ADD_UIDS}`,
      );
    case E.USER_NAME_INVALID: case E.GROUP_NAME_INVALID: {
      const name = code === E.USER_NAME_INVALID ? n?.userName : n?.groupName;
      return unsupported(`${code === E.USER_NAME_INVALID ? 'user' : 'group'} name ${JSON.stringify(name)} of id ${d}: ${NAME_RULE}`);
    }
    case E.ACL_ID_INVALID: return unsupported(`ACL entry for id ${d}: casync's reader refuses ids 65535 and 4294967295`);
    case E.ACL_ID_16BIT: return unsupported(`ACL entry for id ${d} does not fit in 16 bits (16bit-uids); use 32bit-uids`);
    case E.ACL_NAME_NUMERIC:
      return unsupported(
        `ACL entry for id ${d} has no name; with user-names but no uid flags casync would store "${d}", ` +
          `which its reader refuses: ${ADD_UIDS}`,
      );
    case E.ACL_NAME_INVALID: return unsupported(`ACL entry name ${JSON.stringify(e?.name)} of id ${d}: ${NAME_RULE}`);
    case E.ACL_PERMISSIONS: return usage(`bad ACL permissions ${d} (read 4, write 2, execute 1)`);
    case E.XATTR_NAME: return usage(`bad extended attribute name ${quote(ctx.name)}`);
    case E.XATTR_VALUE_SIZE: return unsupported(`extended attribute ${quote(ctx.name)} has ${d} bytes; casync stores at most 65536`);
    case E.XATTR_DUPLICATE: return usage('the same extended attribute name was given twice');
    case E.SELINUX_LABEL: return usage(`bad SELinux label (${d} bytes; 1..4095 without NUL)`);
    case E.FCAPS_SIZE: return unsupported(`security.capability has ${d} bytes; casync stores at most 65536`);
    case E.SYMLINK_TARGET: return usage(`bad symlink target (${d} bytes; 1..4095 without NUL)`);
    case E.DEVICE_NUMBER: return unsupported(`device number ${d} is out of casync's range (12-bit major, 20-bit minor)`);
    case E.BODY_MISSING: return usage(`node of mode ${octal(d)} lacks its body (size, target or rdev)`);
    case E.MTIME:
      return unsupported(
        'mtime 1 ns before 1970 wraps to 18446744073709551615, which casync reserves for "no time"',
      );
    case E.FILENAME_INVALID: return usage(`invalid file name ${quote(ctx.name)} (1..255 bytes, no '/' or NUL, not "." or "..")`);
    case E.FILENAME_ORDER:
      return usage(`file name ${quote(ctx.name)} does not come strictly after the previous child's name in strcmp order`);
    case E.PAYLOAD_SIZE:
      return ctx.op === 'payloadDone'
        ? usage(`${ctx.bytes} payload bytes reported but only ${d} remain of the file's size`)
        : usage(`${ctx.op}() before the file's payload was complete: ${d} bytes missing`);
    default: return usage(`core error ${code} (${ctx.op})`);
  }
}
