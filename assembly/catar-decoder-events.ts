// What the catar decoder's host reads back: the event codes decoderStep()
// returns and the result-block slots an error's message refers to.  The host
// gets them from src/generated/core-constants.ts (scripts/build-wasm.mjs), not
// from copies of its own.

// Event codes returned by decoderStep().
export const EV_MORE: i32 = 0;
export const EV_ERROR: i32 = 1;
export const EV_FILENAME: i32 = 2;
export const EV_ENTRY: i32 = 3;
export const EV_USER: i32 = 4;
export const EV_GROUP: i32 = 5;
export const EV_XATTR: i32 = 6;
export const EV_ACL_USER: i32 = 7;
export const EV_ACL_GROUP: i32 = 8;
export const EV_ACL_GROUP_OBJ: i32 = 9;
export const EV_ACL_DEFAULT: i32 = 10;
export const EV_ACL_DEFAULT_USER: i32 = 11;
export const EV_ACL_DEFAULT_GROUP: i32 = 12;
export const EV_SELINUX: i32 = 13;
export const EV_FCAPS: i32 = 14;
export const EV_QUOTA_PROJID: i32 = 15;
export const EV_NODE: i32 = 16;
export const EV_PAYLOAD: i32 = 17;
export const EV_PAYLOAD_END: i32 = 18;
export const EV_DIRECTORY_END: i32 = 19;
export const EV_END: i32 = 20;

// Slots of the result block (catar-decoder-state.ts): the record's offset, the
// first of an error's three values, the two (pointer, length) names.
export const R_OFFSET: i32 = 0;
export const R_D0: i32 = 3;
export const R_N0: i32 = 6;
export const R_N1: i32 = 8;
