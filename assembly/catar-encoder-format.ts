// The encoder's refusal codes; the format constants it uses come from catar-format.ts.

export * from './catar-format';

// Results of the encoder's calls: >= 0 is success (often an output length), these
// are refusals; encoderDetail() holds the offending value (a uid, a length, …).
export const E_STATE: i32 = -1;
export const E_FLAGS: i32 = -2;
export const E_NODE_TYPE: i32 = -3;
export const E_NOT_ARCHIVED: i32 = -4;
export const E_ROOT_NOT_DIR: i32 = -5;
export const E_UID_INVALID: i32 = -6;
export const E_GID_INVALID: i32 = -7;
export const E_UID_16BIT: i32 = -8;
export const E_GID_16BIT: i32 = -9;
export const E_USER_NAME_INVALID: i32 = -14;
export const E_GROUP_NAME_INVALID: i32 = -15;
export const E_ACL_ID_INVALID: i32 = -16;
export const E_ACL_ID_16BIT: i32 = -17;
export const E_ACL_NAME_NUMERIC: i32 = -18;
export const E_ACL_NAME_INVALID: i32 = -19;
export const E_ACL_PERMISSIONS: i32 = -20;
export const E_XATTR_NAME: i32 = -21;
export const E_XATTR_VALUE_SIZE: i32 = -22;
export const E_XATTR_DUPLICATE: i32 = -23;
export const E_SELINUX_LABEL: i32 = -24;
export const E_FCAPS_SIZE: i32 = -25;
export const E_SYMLINK_TARGET: i32 = -26;
export const E_DEVICE_NUMBER: i32 = -27;
export const E_BODY_MISSING: i32 = -28;
export const E_MTIME: i32 = -29;
export const E_FILENAME_INVALID: i32 = -30;
export const E_FILENAME_ORDER: i32 = -31;
export const E_PAYLOAD_SIZE: i32 = -32;
