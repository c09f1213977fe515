// Test helpers for the catar encoder, independent of the wasm core: SipHash-2-4
// with BigInt, casync's BST permutation (ca_make_bst, as in
// vectors/dump_catar.py), and a record dump in dump_catar.py's exact line format
// that also re-checks every GOODBYE record, so a test can compare an archive
// with the V9 dump or show a readable diff against casync's output.

import assert from 'node:assert/strict';
import * as C from '../src/format/catar-constants.ts';
import { S_IFDIR, S_IFMT } from '../src/format/catar-node.ts';

const M64 = (1n << 64n) - 1n;

export function refSiphash(msg: Uint8Array): bigint {
  const key = new DataView(C.CA_FORMAT_GOODBYE_HASH_KEY.buffer);
  const k0 = key.getBigUint64(0, true);
  const k1 = key.getBigUint64(8, true);
  let v0 = k0 ^ 0x736f6d6570736575n;
  let v1 = k1 ^ 0x646f72616e646f6dn;
  let v2 = k0 ^ 0x6c7967656e657261n;
  let v3 = k1 ^ 0x7465646279746573n;
  const rotl = (x: bigint, b: bigint) => ((x << b) | (x >> (64n - b))) & M64;
  const round = () => {
    v0 = (v0 + v1) & M64; v1 = rotl(v1, 13n); v1 ^= v0; v0 = rotl(v0, 32n);
    v2 = (v2 + v3) & M64; v3 = rotl(v3, 16n); v3 ^= v2;
    v0 = (v0 + v3) & M64; v3 = rotl(v3, 21n); v3 ^= v0;
    v2 = (v2 + v1) & M64; v1 = rotl(v1, 17n); v1 ^= v2; v2 = rotl(v2, 32n);
  };
  const full = msg.length - (msg.length % 8);
  const view = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  for (let i = 0; i < full; i += 8) {
    const m = view.getBigUint64(i, true);
    v3 ^= m; round(); round(); v0 ^= m;
  }
  let last = BigInt(msg.length & 0xff) << 56n;
  for (let i = full; i < msg.length; i++) last |= BigInt(msg[i]) << BigInt(8 * (i - full));
  v3 ^= last; round(); round(); v0 ^= last;
  v2 ^= 0xffn;
  round(); round(); round(); round();
  return v0 ^ v1 ^ v2 ^ v3;
}

/** perm with goodbye_items[i] = sorted_items[perm[i]]: casync's recursive construction. */
export function refBstPermutation(n: number): number[] {
  const out: number[] = new Array(n);
  const inner = (base: number, cnt: number, e: number, i: number) => {
    if (cnt === 0) return;
    const p = 2 ** (e - 1);
    const q = 2 ** e;
    const k = cnt >= p - 1 + Math.floor(p / 2) ? (q - 2) / 2 : (q - 2) / 2 - (p - 1 + Math.floor(p / 2) - cnt);
    out[i] = base + k;
    inner(base, k, e - 1, 2 * i + 1);
    inner(base + k + 1, cnt - k - 1, e - 1, 2 * i + 2);
  };
  if (n) inner(0, n, Math.floor(Math.log2(n)) + 1, 0);
  return out;
}

const NAMES = new Map<bigint, string>(
  Object.entries(C)
    .filter(([k, v]) => typeof v === 'bigint' && k.startsWith('CA_FORMAT_') && !k.includes('MARKER') && !k.includes('ABSENT'))
    .map(([k, v]) => [v as bigint, k.slice('CA_FORMAT_'.length)]),
);

/** Python's repr() of a bytes value, as dump_catar.py prints XATTR values. */
function pyBytes(b: Uint8Array): string {
  const quote = b.includes(0x27) && !b.includes(0x22) ? '"' : "'";
  let s = 'b' + quote;
  for (const c of b) {
    if (c === 0x5c) s += '\\\\';
    else if (c === quote.charCodeAt(0)) s += '\\' + quote;
    else if (c === 0x09) s += '\\t';
    else if (c === 0x0a) s += '\\n';
    else if (c === 0x0d) s += '\\r';
    else if (c >= 0x20 && c < 0x7f) s += String.fromCharCode(c);
    else s += '\\x' + c.toString(16).padStart(2, '0');
  }
  return s + quote;
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const hex16 = (v: bigint) => `0x${v.toString(16).padStart(16, '0')}`;

/** dump_catar.py's output for an archive; asserts every GOODBYE like it does. */
export function dumpCatar(data: Uint8Array): string[] {
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const q = (o: number) => v.getBigUint64(o, true);
  const res: string[] = [];
  const stack: { entry: number; items: { hash: bigint; start: number; end: number }[] }[] = [];
  let pos = 0;
  while (pos < data.length) {
    const size = Number(q(pos));
    const name = NAMES.get(q(pos + 8)) ?? hex16(q(pos + 8));
    const body = data.subarray(pos + 16, pos + size);
    const ind = '  '.repeat(stack.length);
    const at = `${ind}@${pos} ${name} size=${size}`;
    const cstr = () => text(body.subarray(0, body.length - 1));
    switch (name) {
      case 'ENTRY': {
        const [flags, mode, eflags, uid, gid, mtime] = [0, 1, 2, 3, 4, 5].map((i) => q(pos + 16 + 8 * i));
        res.push(`${at} feature_flags=${hex16(flags)} mode=0${mode.toString(8)} flags=0x${eflags.toString(16)} uid=${uid} gid=${gid} mtime=${mtime}`);
        if ((Number(mode) & S_IFMT) === S_IFDIR) stack.push({ entry: pos, items: [] });
        break;
      }
      case 'FILENAME': {
        const top = stack[stack.length - 1];
        const prev = top.items[top.items.length - 1];
        if (prev) prev.end = pos;
        top.items.push({ hash: refSiphash(body.subarray(0, body.length - 1)), start: pos, end: -1 });
        res.push(`${at} ${JSON.stringify(cstr()).replace(/^"|"$/g, "'")}`);
        break;
      }
      case 'GOODBYE': {
        const d = stack.pop()!;
        const last = d.items[d.items.length - 1];
        if (last) last.end = pos;
        const n = (size - 16) / 24 - 1;
        const tail = [0, 1, 2].map((i) => q(pos + 16 + 24 * n + 8 * i));
        res.push(`${'  '.repeat(stack.length)}@${pos} GOODBYE size=${size} items=${n} tail=(entry_offset=${tail[0]}, size=${tail[1]}, marker=${hex16(tail[2])})`);
        assert.equal(tail[2], C.CA_FORMAT_GOODBYE_TAIL_MARKER);
        assert.equal(Number(tail[1]), size);
        assert.equal(Number(tail[0]), pos - d.entry);
        const sorted = [...d.items].sort((a, b) => (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : a.start - b.start));
        const perm = refBstPermutation(n);
        for (let i = 0; i < n; i++) {
          const it = [0, 1, 2].map((k) => q(pos + 16 + 24 * i + 8 * k));
          const want = sorted[perm[i]];
          assert.deepEqual(it, [BigInt(pos - want.start), BigInt(want.end - want.start), want.hash], `goodbye item ${i} at ${pos}`);
          res.push(`${'  '.repeat(stack.length)}    item offset=${it[0]} size=${it[1]} hash=${hex16(it[2])}`);
        }
        break;
      }
      case 'USER': case 'GROUP': case 'SYMLINK': case 'SELINUX':
        res.push(`${at} '${cstr()}'`);
        break;
      case 'XATTR': {
        const nul = body.indexOf(0);
        res.push(`${at} ${text(body.subarray(0, nul))}=${pyBytes(body.subarray(nul + 1))}`);
        break;
      }
      case 'DEVICE':
        res.push(`${at} major=${q(pos + 16)} minor=${q(pos + 24)}`);
        break;
      case 'ACL_USER': case 'ACL_GROUP': case 'ACL_DEFAULT_USER': case 'ACL_DEFAULT_GROUP':
        res.push(`${at} id=${q(pos + 16)} perm=${q(pos + 24).toString(8)} name='${text(body.subarray(16)).replace(/\0+$/, '')}'`);
        break;
      case 'ACL_GROUP_OBJ': case 'QUOTA_PROJID':
        res.push(`${at} value=0x${q(pos + 16).toString(16)}`);
        break;
      case 'ACL_DEFAULT':
        res.push(`${at} ${['user_obj', 'group_obj', 'other', 'mask'].map((k, i) => `${k}=0x${q(pos + 16 + 8 * i).toString(16)}`).join(' ')}`);
        break;
      case 'FCAPS':
        res.push(`${at} data=${Buffer.from(body).toString('hex')}`);
        break;
      case 'PAYLOAD':
        res.push(`${at} (content ${size - 16} bytes)`);
        break;
      default:
        res.push(at);
    }
    pos += size;
  }
  return res;
}
