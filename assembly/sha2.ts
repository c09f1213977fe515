// SHA-512/256 and SHA-256 (FIPS 180-4) for hosts without them: browsers offer
// neither SHA-512/256 nor, outside a secure context, WebCrypto at all.  casync
// names chunks by one of the two (casync-format.md §5).
//
// One running hash per instance, in static memory: the host writes input into
// the buffer that sha2Buffer() points at (SHA2_BUFFER bytes), calls
// sha2Update(len) for each piece, and sha2Final() leaves the 32-byte digest at
// the start of that buffer.  sha2Init(256) starts SHA-256, sha2Init(512)
// SHA-512/256 (the SHA-512 compression with its own initial values, truncated).
//
// The compressions are written out round by round, for speed: the page hashes
// every byte it verifies, and SHA-512 went from 290 to 410 MB/s a core (V8,
// 64 KiB inputs) against a loop over rounds and a schedule in memory.  The
// eight working variables and the message schedule (a rolling window of 16
// words, W[t] replacing W[t-16]) stay in wasm locals, which the engine keeps in
// registers; the 16 rounds of a window are spelled out with the variables'
// roles rotating, and run five times (SHA-512) or four (SHA-256) per block, the
// window advanced between.  The state is loaded once per call, not per block.

export const SHA2_BUFFER: i32 = 1 << 16;

const buffer = memory.data(SHA2_BUFFER, 16);
const block = memory.data(128, 16);
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
    compress(block, 1);
    blockUsed = 0;
  }
  const whole = (len - at) / size;
  if (whole > 0) {
    compress(buffer + at, whole);
    at += whole * size;
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
    compress(block, 1);
    blockUsed = 0;
  }
  memory.fill(block + blockUsed, 0, size - blockUsed);
  store<u64>(block + size - 8, bswap<u64>(total << 3));
  if (kind == 512) store<u64>(block + size - 16, bswap<u64>(total >> 61));
  compress(block, 1);
  if (kind == 512) {
    for (let i = 0; i < 4; i++) store<u64>(buffer + (<usize>i << 3), bswap<u64>(load<u64>(state + (<usize>i << 3))));
  } else {
    for (let i = 0; i < 8; i++) store<u32>(buffer + (<usize>i << 2), bswap<u32>(load<u32>(state + (<usize>i << 2))));
  }
}

/** `blocks` blocks from `p` into the running state. */
function compress(p: usize, blocks: i32): void {
  if (kind == 512) compress512(p, blocks);
  else compress256(p, blocks);
}

// FIPS 180-4 §4.1: Ch and Maj in forms with one operation fewer.
// @ts-ignore: decorator
@inline function ch<T>(e: T, f: T, g: T): T {
  return g ^ (e & (f ^ g));
}
// @ts-ignore: decorator
@inline function maj<T>(a: T, b: T, c: T): T {
  return (a & b) | (c & (a | b));
}
// @ts-ignore: decorator
@inline function S0_64(x: u64): u64 {
  return rotr<u64>(x, 28) ^ rotr<u64>(x, 34) ^ rotr<u64>(x, 39);
}
// @ts-ignore: decorator
@inline function S1_64(x: u64): u64 {
  return rotr<u64>(x, 14) ^ rotr<u64>(x, 18) ^ rotr<u64>(x, 41);
}
// @ts-ignore: decorator
@inline function s0_64(x: u64): u64 {
  return rotr<u64>(x, 1) ^ rotr<u64>(x, 8) ^ (x >> 7);
}
// @ts-ignore: decorator
@inline function s1_64(x: u64): u64 {
  return rotr<u64>(x, 19) ^ rotr<u64>(x, 61) ^ (x >> 6);
}
// @ts-ignore: decorator
@inline function S0_32(x: u32): u32 {
  return rotr<u32>(x, 2) ^ rotr<u32>(x, 13) ^ rotr<u32>(x, 22);
}
// @ts-ignore: decorator
@inline function S1_32(x: u32): u32 {
  return rotr<u32>(x, 6) ^ rotr<u32>(x, 11) ^ rotr<u32>(x, 25);
}
// @ts-ignore: decorator
@inline function s0_32(x: u32): u32 {
  return rotr<u32>(x, 7) ^ rotr<u32>(x, 18) ^ (x >> 3);
}
// @ts-ignore: decorator
@inline function s1_32(x: u32): u32 {
  return rotr<u32>(x, 17) ^ rotr<u32>(x, 19) ^ (x >> 10);
}

function compress512(p: usize, blocks: i32): void {
  let a = load<u64>(state), b = load<u64>(state, 8), c = load<u64>(state, 16), d = load<u64>(state, 24);
  let e = load<u64>(state, 32), f = load<u64>(state, 40), g = load<u64>(state, 48), h = load<u64>(state, 56);
  const k0 = changetype<usize>(K512);
  for (let n = 0; n < blocks; n++, p += 128) {
    const a0 = a, b0 = b, c0 = c, d0 = d, e0 = e, f0 = f, g0 = g, h0 = h;
    let w0 = bswap<u64>(load<u64>(p, 0)), w1 = bswap<u64>(load<u64>(p, 8)), w2 = bswap<u64>(load<u64>(p, 16)), w3 = bswap<u64>(load<u64>(p, 24));
    let w4 = bswap<u64>(load<u64>(p, 32)), w5 = bswap<u64>(load<u64>(p, 40)), w6 = bswap<u64>(load<u64>(p, 48)), w7 = bswap<u64>(load<u64>(p, 56));
    let w8 = bswap<u64>(load<u64>(p, 64)), w9 = bswap<u64>(load<u64>(p, 72)), w10 = bswap<u64>(load<u64>(p, 80)), w11 = bswap<u64>(load<u64>(p, 88));
    let w12 = bswap<u64>(load<u64>(p, 96)), w13 = bswap<u64>(load<u64>(p, 104)), w14 = bswap<u64>(load<u64>(p, 112)), w15 = bswap<u64>(load<u64>(p, 120));
    for (let k = k0; ; k += 128) {
      h += S1_64(e) + ch(e, f, g) + load<u64>(k, 0) + w0; d += h; h += S0_64(a) + maj(a, b, c);
      g += S1_64(d) + ch(d, e, f) + load<u64>(k, 8) + w1; c += g; g += S0_64(h) + maj(h, a, b);
      f += S1_64(c) + ch(c, d, e) + load<u64>(k, 16) + w2; b += f; f += S0_64(g) + maj(g, h, a);
      e += S1_64(b) + ch(b, c, d) + load<u64>(k, 24) + w3; a += e; e += S0_64(f) + maj(f, g, h);
      d += S1_64(a) + ch(a, b, c) + load<u64>(k, 32) + w4; h += d; d += S0_64(e) + maj(e, f, g);
      c += S1_64(h) + ch(h, a, b) + load<u64>(k, 40) + w5; g += c; c += S0_64(d) + maj(d, e, f);
      b += S1_64(g) + ch(g, h, a) + load<u64>(k, 48) + w6; f += b; b += S0_64(c) + maj(c, d, e);
      a += S1_64(f) + ch(f, g, h) + load<u64>(k, 56) + w7; e += a; a += S0_64(b) + maj(b, c, d);
      h += S1_64(e) + ch(e, f, g) + load<u64>(k, 64) + w8; d += h; h += S0_64(a) + maj(a, b, c);
      g += S1_64(d) + ch(d, e, f) + load<u64>(k, 72) + w9; c += g; g += S0_64(h) + maj(h, a, b);
      f += S1_64(c) + ch(c, d, e) + load<u64>(k, 80) + w10; b += f; f += S0_64(g) + maj(g, h, a);
      e += S1_64(b) + ch(b, c, d) + load<u64>(k, 88) + w11; a += e; e += S0_64(f) + maj(f, g, h);
      d += S1_64(a) + ch(a, b, c) + load<u64>(k, 96) + w12; h += d; d += S0_64(e) + maj(e, f, g);
      c += S1_64(h) + ch(h, a, b) + load<u64>(k, 104) + w13; g += c; c += S0_64(d) + maj(d, e, f);
      b += S1_64(g) + ch(g, h, a) + load<u64>(k, 112) + w14; f += b; b += S0_64(c) + maj(c, d, e);
      a += S1_64(f) + ch(f, g, h) + load<u64>(k, 120) + w15; e += a; a += S0_64(b) + maj(b, c, d);
      if (k == k0 + 4 * 128) break;
      w0 += s0_64(w1) + w9 + s1_64(w14);
      w1 += s0_64(w2) + w10 + s1_64(w15);
      w2 += s0_64(w3) + w11 + s1_64(w0);
      w3 += s0_64(w4) + w12 + s1_64(w1);
      w4 += s0_64(w5) + w13 + s1_64(w2);
      w5 += s0_64(w6) + w14 + s1_64(w3);
      w6 += s0_64(w7) + w15 + s1_64(w4);
      w7 += s0_64(w8) + w0 + s1_64(w5);
      w8 += s0_64(w9) + w1 + s1_64(w6);
      w9 += s0_64(w10) + w2 + s1_64(w7);
      w10 += s0_64(w11) + w3 + s1_64(w8);
      w11 += s0_64(w12) + w4 + s1_64(w9);
      w12 += s0_64(w13) + w5 + s1_64(w10);
      w13 += s0_64(w14) + w6 + s1_64(w11);
      w14 += s0_64(w15) + w7 + s1_64(w12);
      w15 += s0_64(w0) + w8 + s1_64(w13);
    }
    a += a0; b += b0; c += c0; d += d0; e += e0; f += f0; g += g0; h += h0;
  }
  store<u64>(state, a); store<u64>(state, b, 8); store<u64>(state, c, 16); store<u64>(state, d, 24);
  store<u64>(state, e, 32); store<u64>(state, f, 40); store<u64>(state, g, 48); store<u64>(state, h, 56);
}

function compress256(p: usize, blocks: i32): void {
  let a = load<u32>(state), b = load<u32>(state, 4), c = load<u32>(state, 8), d = load<u32>(state, 12);
  let e = load<u32>(state, 16), f = load<u32>(state, 20), g = load<u32>(state, 24), h = load<u32>(state, 28);
  const k0 = changetype<usize>(K256);
  for (let n = 0; n < blocks; n++, p += 64) {
    const a0 = a, b0 = b, c0 = c, d0 = d, e0 = e, f0 = f, g0 = g, h0 = h;
    let w0 = bswap<u32>(load<u32>(p, 0)), w1 = bswap<u32>(load<u32>(p, 4)), w2 = bswap<u32>(load<u32>(p, 8)), w3 = bswap<u32>(load<u32>(p, 12));
    let w4 = bswap<u32>(load<u32>(p, 16)), w5 = bswap<u32>(load<u32>(p, 20)), w6 = bswap<u32>(load<u32>(p, 24)), w7 = bswap<u32>(load<u32>(p, 28));
    let w8 = bswap<u32>(load<u32>(p, 32)), w9 = bswap<u32>(load<u32>(p, 36)), w10 = bswap<u32>(load<u32>(p, 40)), w11 = bswap<u32>(load<u32>(p, 44));
    let w12 = bswap<u32>(load<u32>(p, 48)), w13 = bswap<u32>(load<u32>(p, 52)), w14 = bswap<u32>(load<u32>(p, 56)), w15 = bswap<u32>(load<u32>(p, 60));
    for (let k = k0; ; k += 64) {
      h += S1_32(e) + ch(e, f, g) + load<u32>(k, 0) + w0; d += h; h += S0_32(a) + maj(a, b, c);
      g += S1_32(d) + ch(d, e, f) + load<u32>(k, 4) + w1; c += g; g += S0_32(h) + maj(h, a, b);
      f += S1_32(c) + ch(c, d, e) + load<u32>(k, 8) + w2; b += f; f += S0_32(g) + maj(g, h, a);
      e += S1_32(b) + ch(b, c, d) + load<u32>(k, 12) + w3; a += e; e += S0_32(f) + maj(f, g, h);
      d += S1_32(a) + ch(a, b, c) + load<u32>(k, 16) + w4; h += d; d += S0_32(e) + maj(e, f, g);
      c += S1_32(h) + ch(h, a, b) + load<u32>(k, 20) + w5; g += c; c += S0_32(d) + maj(d, e, f);
      b += S1_32(g) + ch(g, h, a) + load<u32>(k, 24) + w6; f += b; b += S0_32(c) + maj(c, d, e);
      a += S1_32(f) + ch(f, g, h) + load<u32>(k, 28) + w7; e += a; a += S0_32(b) + maj(b, c, d);
      h += S1_32(e) + ch(e, f, g) + load<u32>(k, 32) + w8; d += h; h += S0_32(a) + maj(a, b, c);
      g += S1_32(d) + ch(d, e, f) + load<u32>(k, 36) + w9; c += g; g += S0_32(h) + maj(h, a, b);
      f += S1_32(c) + ch(c, d, e) + load<u32>(k, 40) + w10; b += f; f += S0_32(g) + maj(g, h, a);
      e += S1_32(b) + ch(b, c, d) + load<u32>(k, 44) + w11; a += e; e += S0_32(f) + maj(f, g, h);
      d += S1_32(a) + ch(a, b, c) + load<u32>(k, 48) + w12; h += d; d += S0_32(e) + maj(e, f, g);
      c += S1_32(h) + ch(h, a, b) + load<u32>(k, 52) + w13; g += c; c += S0_32(d) + maj(d, e, f);
      b += S1_32(g) + ch(g, h, a) + load<u32>(k, 56) + w14; f += b; b += S0_32(c) + maj(c, d, e);
      a += S1_32(f) + ch(f, g, h) + load<u32>(k, 60) + w15; e += a; a += S0_32(b) + maj(b, c, d);
      if (k == k0 + 3 * 64) break;
      w0 += s0_32(w1) + w9 + s1_32(w14);
      w1 += s0_32(w2) + w10 + s1_32(w15);
      w2 += s0_32(w3) + w11 + s1_32(w0);
      w3 += s0_32(w4) + w12 + s1_32(w1);
      w4 += s0_32(w5) + w13 + s1_32(w2);
      w5 += s0_32(w6) + w14 + s1_32(w3);
      w6 += s0_32(w7) + w15 + s1_32(w4);
      w7 += s0_32(w8) + w0 + s1_32(w5);
      w8 += s0_32(w9) + w1 + s1_32(w6);
      w9 += s0_32(w10) + w2 + s1_32(w7);
      w10 += s0_32(w11) + w3 + s1_32(w8);
      w11 += s0_32(w12) + w4 + s1_32(w9);
      w12 += s0_32(w13) + w5 + s1_32(w10);
      w13 += s0_32(w14) + w6 + s1_32(w11);
      w14 += s0_32(w15) + w7 + s1_32(w12);
      w15 += s0_32(w0) + w8 + s1_32(w13);
    }
    a += a0; b += b0; c += c0; d += d0; e += e0; f += f0; g += g0; h += h0;
  }
  store<u32>(state, a); store<u32>(state, b, 4); store<u32>(state, c, 8); store<u32>(state, d, 12);
  store<u32>(state, e, 16); store<u32>(state, f, 20); store<u32>(state, g, 24); store<u32>(state, h, 28);
}
