// casync 2 magic numbers shared by the index and archive formats
// (casync-format.md §2, §4.2).  Names are casync's own.

export const CA_FORMAT_INDEX = 0x96824d9c7b129ff9n;
export const CA_FORMAT_TABLE = 0xe75b9e112f17417dn;
export const CA_FORMAT_TABLE_TAIL_MARKER = 0x4b4f050e5549ecd1n;

/** A chunk id is always 32 bytes, whichever digest made it. */
export const CHUNK_ID_SIZE = 32;

export const CA_CHUNK_SIZE_LIMIT_MIN = 1;
export const CA_CHUNK_SIZE_LIMIT_MAX = 128 * 1024 * 1024;
export const CA_CHUNK_SIZE_DEFAULT = 64 * 1024;
