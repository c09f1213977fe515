// SHA-512/256 and SHA-256 (FIPS 180-4) for hosts without them: browsers offer
// neither SHA-512/256 nor, outside a secure context, WebCrypto at all.  casync
// names chunks by one of the two (casync-format.md §5).
//
// One running hash per instance, in static memory: the host writes input into
// the buffer that sha2Buffer() points at (SHA2_BUFFER bytes), calls
// sha2Update(len) for each piece, and sha2Final() leaves the 32-byte digest at
// the start of that buffer.  sha2Init(256) starts SHA-256, sha2Init(512)
// SHA-512/256 (the SHA-512 compression with its own initial values, truncated).

export const SHA2_BUFFER: i32 = 1 << 16;

const buffer = memory.data(SHA2_BUFFER, 16);
const block = memory.data(128, 16);
const w64 = memory.data(80 * 8, 16);
const w32 = memory.data(64 * 4, 16);
const state = memory.data(8 * 8, 16);

let kind: i32 = 512;
let blockUsed: i32 = 0;
let total: u64 = 0;

const K512: StaticArray<u64> = [
  0x428a2f98d728ae22, 0x7137449123ef65cd, 0xb5c0fbcfec4d3b2f, 0xe9b5dba58189dbbc, 0x3956c25bf348b538,
  0x59f111f1b605d019, 0x923f82a4af194f9b, 0xab1c5ed5da6d8118, 0xd807aa98a3030242, 0x12835b0145706fbe,
  0x243185be4ee4b28c, 0x550c7dc3d5ffb4e2, 0x72be5d74f27b896f, 0x80deb1fe3b1696b1, 0x9bdc06a725c71235,
  0xc19bf174cf692694, 0xe49b69c19ef14ad2, 0xefbe4786384f25e3, 0x0fc19dc68b8cd5b5, 0x240ca1cc77ac9c65,
  0x2de92c6f592b0275, 0x4a7484aa6ea6e483, 0x5cb0a9dcbd41fbd4, 0x76f988da831153b5, 0x983e5152ee66dfab,
  0xa831c66d2db43210, 0xb00327c898fb213f, 0xbf597fc7beef0ee4, 0xc6e00bf33da88fc2, 0xd5a79147930aa725,
  0x06ca6351e003826f, 0x142929670a0e6e70, 0x27b70a8546d22ffc, 0x2e1b21385c26c926, 0x4d2c6dfc5ac42aed,
  0x53380d139d95b3df, 0x650a73548baf63de, 0x766a0abb3c77b2a8, 0x81c2c92e47edaee6, 0x92722c851482353b,
  0xa2bfe8a14cf10364, 0xa81a664bbc423001, 0xc24b8b70d0f89791, 0xc76c51a30654be30, 0xd192e819d6ef5218,
  0xd69906245565a910, 0xf40e35855771202a, 0x106aa07032bbd1b8, 0x19a4c116b8d2d0c8, 0x1e376c085141ab53,
  0x2748774cdf8eeb99, 0x34b0bcb5e19b48a8, 0x391c0cb3c5c95a63, 0x4ed8aa4ae3418acb, 0x5b9cca4f7763e373,
  0x682e6ff3d6b2b8a3, 0x748f82ee5defb2fc, 0x78a5636f43172f60, 0x84c87814a1f0ab72, 0x8cc702081a6439ec,
  0x90befffa23631e28, 0xa4506cebde82bde9, 0xbef9a3f7b2c67915, 0xc67178f2e372532b, 0xca273eceea26619c,
  0xd186b8c721c0c207, 0xeada7dd6cde0eb1e, 0xf57d4f7fee6ed178, 0x06f067aa72176fba, 0x0a637dc5a2c898a6,
  0x113f9804bef90dae, 0x1b710b35131c471b, 0x28db77f523047d84, 0x32caab7b40c72493, 0x3c9ebe0a15c9bebc,
  0x431d67c49c100d4c, 0x4cc5d4becb3e42b6, 0x597f299cfc657e2a, 0x5fcb6fab3ad6faec, 0x6c44198c4a475817,
];

const K256: StaticArray<u32> = [
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

const IV512_256: StaticArray<u64> = [
  0x22312194fc2bf72c, 0x9f555fa3c84c64c2, 0x2393b86b6f53b151, 0x963877195940eabd,
  0x96283ee2a88effe3, 0xbe5e1e2553863992, 0x2b0199fc2c85b8aa, 0x0eb72ddc81c52ca2,
];

const IV256: StaticArray<u32> = [
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

export function sha2Buffer(): usize {
  return buffer;
}

/** 256: SHA-256; 512: SHA-512/256. */
export function sha2Init(which: i32): void {
  kind = which;
  blockUsed = 0;
  total = 0;
  if (kind == 512) {
    for (let i = 0; i < 8; i++) store<u64>(state + (<usize>i << 3), unchecked(IV512_256[i]));
  } else {
    for (let i = 0; i < 8; i++) store<u32>(state + (<usize>i << 2), unchecked(IV256[i]));
  }
}

export function sha2Update(len: i32): void {
  const size: i32 = kind == 512 ? 128 : 64;
  total += <u64>len;
  let at: i32 = 0;
  if (blockUsed > 0) {
    const take = min(size - blockUsed, len);
    memory.copy(block + blockUsed, buffer, take);
    blockUsed += take;
    at = take;
    if (blockUsed < size) return;
    compress(block);
    blockUsed = 0;
  }
  while (len - at >= size) {
    compress(buffer + at);
    at += size;
  }
  if (at < len) {
    memory.copy(block, buffer + at, len - at);
    blockUsed = len - at;
  }
}

/** Pads, finishes, and writes the 32-byte digest at sha2Buffer(). */
export function sha2Final(): void {
  const size: i32 = kind == 512 ? 128 : 64;
  const lengthBytes: i32 = kind == 512 ? 16 : 8;
  store<u8>(block + blockUsed, 0x80);
  blockUsed++;
  if (blockUsed > size - lengthBytes) {
    memory.fill(block + blockUsed, 0, size - blockUsed);
    compress(block);
    blockUsed = 0;
  }
  memory.fill(block + blockUsed, 0, size - blockUsed);
  store<u64>(block + size - 8, bswap<u64>(total << 3));
  if (kind == 512) store<u64>(block + size - 16, bswap<u64>(total >> 61));
  compress(block);
  if (kind == 512) {
    for (let i = 0; i < 4; i++) store<u64>(buffer + (<usize>i << 3), bswap<u64>(load<u64>(state + (<usize>i << 3))));
  } else {
    for (let i = 0; i < 8; i++) store<u32>(buffer + (<usize>i << 2), bswap<u32>(load<u32>(state + (<usize>i << 2))));
  }
}

function compress(p: usize): void {
  if (kind == 512) compress512(p);
  else compress256(p);
}

// @ts-ignore: decorator
@inline function rotr64(x: u64, n: u64): u64 {
  return rotr<u64>(x, n);
}

function compress512(p: usize): void {
  for (let t = 0; t < 16; t++) store<u64>(w64 + (<usize>t << 3), bswap<u64>(load<u64>(p + (<usize>t << 3))));
  for (let t = 16; t < 80; t++) {
    const w15 = load<u64>(w64 + (<usize>(t - 15) << 3));
    const w2 = load<u64>(w64 + (<usize>(t - 2) << 3));
    const s0 = rotr64(w15, 1) ^ rotr64(w15, 8) ^ (w15 >> 7);
    const s1 = rotr64(w2, 19) ^ rotr64(w2, 61) ^ (w2 >> 6);
    store<u64>(w64 + (<usize>t << 3), load<u64>(w64 + (<usize>(t - 16) << 3)) + s0 + load<u64>(w64 + (<usize>(t - 7) << 3)) + s1);
  }
  let a = load<u64>(state), b = load<u64>(state + 8), c = load<u64>(state + 16), d = load<u64>(state + 24);
  let e = load<u64>(state + 32), f = load<u64>(state + 40), g = load<u64>(state + 48), h = load<u64>(state + 56);
  for (let t = 0; t < 80; t++) {
    const S1 = rotr64(e, 14) ^ rotr64(e, 18) ^ rotr64(e, 41);
    const ch = (e & f) ^ (~e & g);
    const t1 = h + S1 + ch + unchecked(K512[t]) + load<u64>(w64 + (<usize>t << 3));
    const S0 = rotr64(a, 28) ^ rotr64(a, 34) ^ rotr64(a, 39);
    const maj = (a & b) ^ (a & c) ^ (b & c);
    const t2 = S0 + maj;
    h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
  }
  store<u64>(state, load<u64>(state) + a);
  store<u64>(state + 8, load<u64>(state + 8) + b);
  store<u64>(state + 16, load<u64>(state + 16) + c);
  store<u64>(state + 24, load<u64>(state + 24) + d);
  store<u64>(state + 32, load<u64>(state + 32) + e);
  store<u64>(state + 40, load<u64>(state + 40) + f);
  store<u64>(state + 48, load<u64>(state + 48) + g);
  store<u64>(state + 56, load<u64>(state + 56) + h);
}

function compress256(p: usize): void {
  for (let t = 0; t < 16; t++) store<u32>(w32 + (<usize>t << 2), bswap<u32>(load<u32>(p + (<usize>t << 2))));
  for (let t = 16; t < 64; t++) {
    const w15 = load<u32>(w32 + (<usize>(t - 15) << 2));
    const w2 = load<u32>(w32 + (<usize>(t - 2) << 2));
    const s0 = rotr<u32>(w15, 7) ^ rotr<u32>(w15, 18) ^ (w15 >> 3);
    const s1 = rotr<u32>(w2, 17) ^ rotr<u32>(w2, 19) ^ (w2 >> 10);
    store<u32>(w32 + (<usize>t << 2), load<u32>(w32 + (<usize>(t - 16) << 2)) + s0 + load<u32>(w32 + (<usize>(t - 7) << 2)) + s1);
  }
  let a = load<u32>(state), b = load<u32>(state + 4), c = load<u32>(state + 8), d = load<u32>(state + 12);
  let e = load<u32>(state + 16), f = load<u32>(state + 20), g = load<u32>(state + 24), h = load<u32>(state + 28);
  for (let t = 0; t < 64; t++) {
    const S1 = rotr<u32>(e, 6) ^ rotr<u32>(e, 11) ^ rotr<u32>(e, 25);
    const ch = (e & f) ^ (~e & g);
    const t1 = h + S1 + ch + unchecked(K256[t]) + load<u32>(w32 + (<usize>t << 2));
    const S0 = rotr<u32>(a, 2) ^ rotr<u32>(a, 13) ^ rotr<u32>(a, 22);
    const maj = (a & b) ^ (a & c) ^ (b & c);
    const t2 = S0 + maj;
    h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
  }
  store<u32>(state, load<u32>(state) + a);
  store<u32>(state + 4, load<u32>(state + 4) + b);
  store<u32>(state + 8, load<u32>(state + 8) + c);
  store<u32>(state + 12, load<u32>(state + 12) + d);
  store<u32>(state + 16, load<u32>(state + 16) + e);
  store<u32>(state + 20, load<u32>(state + 20) + f);
  store<u32>(state + 24, load<u32>(state + 24) + g);
  store<u32>(state + 28, load<u32>(state + 28) + h);
}
