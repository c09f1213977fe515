// SipHash-2-4 (Aumasson and Bernstein), used by catar GOODBYE tables to hash file
// names under casync's fixed key (casync-format.md §4.7).

const K0: u64 = 0x8574442b0f1d84b3;
const K1: u64 = 0x2736ed30d1c22ec1;

// @ts-ignore: decorator
@inline
function round(v: StaticArray<u64>): void {
  let v0 = unchecked(v[0]);
  let v1 = unchecked(v[1]);
  let v2 = unchecked(v[2]);
  let v3 = unchecked(v[3]);
  v0 += v1; v1 = rotl<u64>(v1, 13); v1 ^= v0; v0 = rotl<u64>(v0, 32);
  v2 += v3; v3 = rotl<u64>(v3, 16); v3 ^= v2;
  v0 += v3; v3 = rotl<u64>(v3, 21); v3 ^= v0;
  v2 += v1; v1 = rotl<u64>(v1, 17); v1 ^= v2; v2 = rotl<u64>(v2, 32);
  unchecked((v[0] = v0));
  unchecked((v[1] = v1));
  unchecked((v[2] = v2));
  unchecked((v[3] = v3));
}

const state = new StaticArray<u64>(4);

/** SipHash-2-4 of `len` bytes at `ptr` under casync's goodbye-table key. */
export function siphash24(ptr: usize, len: usize): u64 {
  unchecked((state[0] = K0 ^ 0x736f6d6570736575));
  unchecked((state[1] = K1 ^ 0x646f72616e646f6d));
  unchecked((state[2] = K0 ^ 0x6c7967656e657261));
  unchecked((state[3] = K1 ^ 0x7465646279746573));
  const full = len & ~(<usize>7);
  for (let i: usize = 0; i < full; i += 8) {
    const m = load<u64>(ptr + i);
    unchecked((state[3] ^= m));
    round(state);
    round(state);
    unchecked((state[0] ^= m));
  }
  let last: u64 = (<u64>(len & 0xff)) << 56;
  for (let i: usize = full; i < len; i++) last |= (<u64>load<u8>(ptr + i)) << (<u64>(8 * (i - full)));
  unchecked((state[3] ^= last));
  round(state);
  round(state);
  unchecked((state[0] ^= last));
  unchecked((state[2] ^= 0xff));
  round(state);
  round(state);
  round(state);
  round(state);
  return unchecked(state[0]) ^ unchecked(state[1]) ^ unchecked(state[2]) ^ unchecked(state[3]);
}
