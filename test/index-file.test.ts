import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  IndexParser,
  encodeIndex,
  parseIndex,
  type IndexHeader,
} from '../src/format/index-file.ts';
import { rand } from './helpers.ts';

const header: IndexHeader = { flags: 0xb000000000000000n, min: 16384, avg: 65536, max: 262144 };

function sample(n: number) {
  const ends: number[] = [];
  for (let i = 0, e = 0; i < n; i++) ends.push((e += 16384 + ((i * 7919) % 200000)));
  return { ends, ids: rand(`ids${n}`, 32 * n) };
}

test('V6: the empty index is 104 bytes with tail size 0x38', () => {
  const b = encodeIndex(header, [], new Uint8Array(0));
  assert.equal(b.length, 104);
  assert.equal(
    Buffer.from(b).toString('hex'),
    '3000000000000000f99f127b9c4d8296000000000000' + '00b0' +
      '0040000000000000' + '0000010000000000' + '0000040000000000' +
      'ffffffffffffffff' + '7d41172f119e5be7' +
      '0000000000000000' + '0000000000000000' + '3000000000000000' + '3800000000000000' + 'd1ec49550e054f4b',
  );
});

test('write(read(x)) == x, whatever the read sizes', () => {
  for (const n of [0, 1, 2, 151, 1000]) {
    const { ends, ids } = sample(n);
    const bytes = encodeIndex(header, ends, ids);
    const parsed = parseIndex(bytes, 'x.caibx');
    assert.deepEqual(parsed.header, header);
    assert.equal(parsed.entries.length, n);
    assert.equal(parsed.size, n ? ends[n - 1] : 0);
    const again = encodeIndex(
      parsed.header,
      parsed.entries.map((e) => e.offset + e.size),
      Buffer.concat(parsed.entries.map((e) => e.id)),
    );
    assert.deepEqual(again, bytes);
    for (const step of [1, 7, 40, 64, 4096]) {
      const p = new IndexParser('x');
      let count = 0;
      for (let o = 0; o < bytes.length; o += step) count += p.push(bytes.subarray(o, o + step)).length;
      assert.equal(count, n);
      assert.equal(p.end().chunks, n);
    }
  }
});

test('every violation is refused, naming the file and the offset', () => {
  const { ends, ids } = sample(3);
  const good = encodeIndex(header, ends, ids);
  const bad = (mutate: (b: Buffer, v: DataView) => void | Buffer, re: RegExp) => {
    const b = Buffer.from(good);
    const out = mutate(b, new DataView(b.buffer, b.byteOffset, b.length)) ?? b;
    assert.throws(() => parseIndex(out, 'img.caibx'), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'EFORMAT');
      assert.match(e.message, /^img\.caibx: /);
      assert.match(e.message, re);
      return true;
    });
  };
  const u64 = (v: DataView, o: number, x: bigint) => v.setBigUint64(o, x, true);
  bad((_b, v) => u64(v, 0, 40n), /not a casync index .*at byte 0/);
  bad((_b, v) => u64(v, 8, 1n), /not a casync index/);
  bad((_b, v) => u64(v, 16, 0xb000000000000000n | 0x0100000000000000n), /unknown feature flag bits 0x0100000000000000 .*at byte 16/);
  bad((_b, v) => u64(v, 16, 0xb000000000000000n | 0x3n), /not normalized .*casync writes 0xb000000000000002/);
  bad((_b, v) => u64(v, 24, 0n), /minimum chunk size 0 is outside \[1, 134217728\] \(at byte 24\)/);
  bad((_b, v) => u64(v, 40, 1n << 28n), /maximum chunk size 268435456 is outside/);
  bad((_b, v) => u64(v, 24, 70000n), /not ordered min <= avg <= max/);
  bad((_b, v) => u64(v, 48, 100n), /bad table header \(at byte 48\)/);
  bad((_b, v) => u64(v, 64 + 40, BigInt(ends[0])), /does not increase .*at byte 104/);
  bad((_b, v) => u64(v, 64 + 80, BigInt(ends[1] + 262145)), /exceeds the maximum chunk size 262144 \(at byte 144\)/);
  bad((_b, v) => u64(v, 64 + 120 + 8, 1n), /non-zero padding/);
  bad((_b, v) => u64(v, 64 + 120 + 16, 64n), /index offset is not 48/);
  bad((_b, v) => u64(v, 64 + 120 + 24, 1n), /table size 1, expected 176/);
  bad((_b, v) => u64(v, 64 + 120 + 32, 1n), /wrong marker/);
  bad((b) => b.subarray(0, b.length - 1), /truncated \(no tail\)/);
  bad((b) => b.subarray(0, 50), /truncated \(no header\)/);
  bad((b) => Buffer.concat([b, Buffer.from([0])]), /data after the index tail/);
  bad((_b, v) => u64(v, 64, 1n << 60n), /too large/);
});
