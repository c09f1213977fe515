import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamChunker } from '../src/chunker/stream-chunker.ts';
import { CandidateScanner } from '../src/chunker/scanner.ts';
import {
  DEFAULT_CHUNK_SIZES,
  deriveChunkSizes,
  discriminator,
  parseChunkSizeOption,
  type ChunkSizes,
} from '../src/chunker/sizes.ts';
import { parseSize, formatBytes } from '../src/format/units.ts';
import { rand } from './helpers.ts';
import { refChunk, refWindowHash } from './chunker-model.ts';

/** Chunk sizes from the real chunker, feeding `data` in pieces of the given sizes (cycled). */
function chunk(data: Uint8Array, sizes: ChunkSizes = DEFAULT_CHUNK_SIZES, pieces: number[] = [data.length || 1]): number[] {
  const c = new StreamChunker(sizes, 1 << 16);
  const cuts: number[] = [];
  for (let o = 0, i = 0; o < data.length; i++) {
    const n = pieces[i % pieces.length];
    cuts.push(...c.feed(data.subarray(o, o + n)));
    o += n;
  }
  cuts.push(...c.end());
  return cuts.map((x, i) => x - (i ? cuts[i - 1] : 0));
}

test('buzhash window values (casync-format.md §1.1)', () => {
  const s = new CandidateScanner(256);
  const w = s.window();
  const check = (bytes: Uint8Array, want: number) => {
    w.set(bytes, 0);
    assert.equal(s.windowHash(48), want);
    assert.equal(refWindowHash(bytes), want);
  };
  check(new Uint8Array(48), 0x9e489e48);
  check(Uint8Array.from({ length: 48 }, (_, i) => i), 0x6b67dec6);
  check(Uint8Array.from({ length: 48 }, (_, i) => i + 1), 0xa3fc25f1);
  check(new TextEncoder().encode('casync'.repeat(8)), 0x0077aadd);
});

test('discriminator: double precision, truncation, clamping (§1.3)', () => {
  const d = (avg: number, min = 1, max = 128 << 20) => discriminator({ min, avg, max });
  for (const [avg, want] of [
    [64, 48], [1024, 768], [4096, 3075], [16384, 12318], [65536, 49535],
    [131072, 99777], [262144, 202440], [1 << 20, 886711],
  ]) assert.equal(d(avg), want, `avg ${avg}`);
  assert.equal(d(4 << 20, 1 << 20, 4 << 20), 4 << 20); // clamped to max
  assert.equal(d(1100, 1000, 2000), 1000); // clamped up to min
  assert.equal(d(12 << 20, 3 << 20, 48 << 20), 48 << 20); // negative denominator → max
});

test('--chunk-size parsing, derivation and limits (§1.2)', () => {
  assert.deepEqual(DEFAULT_CHUNK_SIZES, { min: 16384, avg: 65536, max: 262144 });
  assert.deepEqual(parseChunkSizeOption('16384'), { min: 4096, avg: 16384, max: 65536 });
  assert.deepEqual(parseChunkSizeOption('64K'), DEFAULT_CHUNK_SIZES);
  assert.deepEqual(parseChunkSizeOption('1000:5000:20000'), { min: 1000, avg: 5000, max: 20000 });
  assert.deepEqual(parseChunkSizeOption('1M512K'), deriveChunkSizes(1536 * 1024));
  assert.deepEqual(parseChunkSizeOption('16'), { min: 4, avg: 16, max: 64 });
  assert.deepEqual(parseChunkSizeOption('64M'), { min: 16 << 20, avg: 64 << 20, max: 128 << 20 });
  assert.deepEqual(parseChunkSizeOption('4:4:4'), { min: 4, avg: 4, max: 4 });
  for (const [bad, msg] of [
    ['0', /average chunk size must be >= 1/],
    ['129M', /average chunk size must be <= 134217728/],
    ['1:2', /triplet/],
    ['0:64:256', /minimum chunk size must be >= 1/],
    ['64:32:256', /average chunk size must not be below the minimum/],
    ['16:64:32', /maximum chunk size must not be below the average/],
    ['1:1:129M', /maximum chunk size must be <= 134217728/],
    ['8:16:32', /below the 48-byte hash window/],
    ['2', /maximum chunk size 8 is below the 48-byte hash window/],
    ['abc', /can't parse average chunk size 'abc'/],
    ['1K2M', /can't parse average/],
  ] as const) assert.throws(() => parseChunkSizeOption(bad), msg, bad);
});

test('casync size syntax', () => {
  assert.equal(parseSize('10'), 10);
  assert.equal(parseSize('10B'), 10);
  assert.equal(parseSize('1.5K'), 1536);
  assert.equal(parseSize('1G'), 1 << 30);
  assert.equal(parseSize('1M 1K'), (1 << 20) + 1024);
  assert.equal(parseSize('-1'), null);
  assert.equal(parseSize('1 2'), null);
  assert.equal(formatBytes(1000000), '976.5K');
  assert.equal(formatBytes(512), '512B');
  assert.equal(formatBytes(1 << 30), '1.0G');
});

test('V1: 10,000,000 zero bytes give 38 × 262144 + 38528 (§1.6)', () => {
  const sizes = chunk(new Uint8Array(10_000_000));
  assert.deepEqual(sizes, [...Array(38).fill(262144), 38528]);
});

test('V2: the chunk sizes of rand("casync", 10000000)', () => {
  const data = rand('casync', 10_000_000);
  const sizes = chunk(data);
  assert.equal(sizes.length, 151);
  assert.deepEqual(sizes.slice(0, 8), [40807, 262144, 28725, 207551, 91763, 21905, 20013, 59589]);
  assert.equal(sizes.at(-1), 16810);
  assert.deepEqual(sizes, refChunk(data));
});

test('V3: chunk size configurations on rand("casync", 1000000)', () => {
  const data = rand('casync', 1_000_000);
  const cases: [ChunkSizes, number, number[]][] = [
    [parseChunkSizeOption('16384'), 68, [18540, 8964, 23911, 16393]],
    [parseChunkSizeOption('1000:5000:20000'), 229, [1552, 8767, 1805]],
    [parseChunkSizeOption('4096:4096:4096'), 245, [4096, 4096]],
    [parseChunkSizeOption('16:64:256'), 10608, []],
    [parseChunkSizeOption('1000:1100:2000'), 615, [1500, 2000, 1603]],
    [parseChunkSizeOption('200:300:40000'), 2363, []],
  ];
  for (const [cs, n, first] of cases) {
    const sizes = chunk(data, cs);
    assert.equal(sizes.length, n, JSON.stringify(cs));
    assert.deepEqual(sizes.slice(0, first.length), first);
    assert.deepEqual(sizes, refChunk(data, cs.min, cs.avg, cs.max));
  }
});

test('V5: a cut at exactly min is possible', () => {
  // mk_min_cut.py: search for a 48-byte window at 16336..16384 that passes the test.
  const d = discriminator(DEFAULT_CHUNK_SIZES);
  let k = 0;
  let w: Buffer;
  for (;; k++) {
    w = rand(`mincut-${k}`, 48);
    if (refWindowHash(w) % d === d - 1) break;
  }
  assert.equal(k, 86898);
  const data = Buffer.concat([rand('mincut-prefix', 16384 - 48), w, rand('mincut-suffix', 200000 - 16384)]);
  assert.deepEqual(chunk(data), [16384, 24957, 158659]);
});

test('edge sizes agree with the model: empty, < window, around min and max', () => {
  const data = rand('edges', 600_000);
  for (const cs of [DEFAULT_CHUNK_SIZES, parseChunkSizeOption('1000:5000:20000'), parseChunkSizeOption('16:64:256'), parseChunkSizeOption('4096:4096:4096')]) {
    for (const n of [0, 1, 47, 48, 49, cs.min - 1, cs.min, cs.min + 1, cs.max - 1, cs.max, cs.max + 1, 2 * cs.max + 7]) {
      if (n < 0) continue;
      const d = data.subarray(0, n);
      assert.deepEqual(chunk(d, cs), refChunk(d, cs.min, cs.avg, cs.max), `${JSON.stringify(cs)} n=${n}`);
    }
  }
  assert.deepEqual(chunk(new Uint8Array(0)), []);
});

test('cuts do not depend on how the input is fed', () => {
  const data = rand('split', 3_000_000);
  const cs = parseChunkSizeOption('1000:5000:20000');
  const whole = chunk(data, cs);
  for (const pieces of [[47, 48, 49], [7777], [65536], [1, 100000, 3], [1 << 16, 1]]) {
    assert.deepEqual(chunk(data, cs, pieces), whole, `pieces ${pieces}`);
  }
  const head = data.subarray(0, 100_000);
  assert.deepEqual(chunk(head, cs, [1]), chunk(head, cs), 'byte by byte');
});

test('dense candidates (every window passes) still resolve correctly', () => {
  // With avg 64, d = 48: find a byte whose constant window passes the test, so
  // that every position in a run of it is a candidate.
  const d = discriminator({ min: 16, avg: 64, max: 256 });
  let b = 0;
  while (refWindowHash(new Uint8Array(48).fill(b)) % d !== d - 1) b++;
  const data = Buffer.concat([rand('x', 1000), Buffer.alloc(300_000, b), rand('y', 1000)]);
  assert.deepEqual(chunk(data, { min: 16, avg: 64, max: 256 }), refChunk(data, 16, 64, 256));
});

test('zero pages (aligned or not, long or short) are skipped without changing cuts', () => {
  const parts: Buffer[] = [];
  let i = 0;
  for (const zeros of [4096, 8192, 100, 4095, 4097, 70_000, 300_000, 12_288, 1, 48, 49, 5000]) {
    parts.push(rand(`z${i++}`, 1000 + ((i * 3331) % 9000)), Buffer.alloc(zeros));
  }
  const data = Buffer.concat(parts);
  for (const cs of [DEFAULT_CHUNK_SIZES, parseChunkSizeOption('1000:5000:20000'), parseChunkSizeOption('16:64:256')]) {
    const want = refChunk(data, cs.min, cs.avg, cs.max);
    assert.deepEqual(chunk(data, cs), want, JSON.stringify(cs));
    assert.deepEqual(chunk(data, cs, [4096]), want);
    assert.deepEqual(chunk(data, cs, [777, 5000]), want);
  }
  // A discriminator that accepts the all-zero window: no skipping then.
  let avg = 64;
  while (refWindowHash(new Uint8Array(48)) % discriminator({ min: 16, avg, max: avg * 4 }) !== discriminator({ min: 16, avg, max: avg * 4 }) - 1) avg++;
  const cs = { min: 16, avg, max: avg * 4 };
  assert.deepEqual(chunk(data, cs), refChunk(data, cs.min, cs.avg, cs.max));
});

test('a shifted window (aligned copies from shared memory) finds the same candidates', () => {
  const s = new CandidateScanner(1 << 16);
  // Zero pages are found by stream offset, not by where the window sits.
  const data = Buffer.concat([rand('shift', 20_000), Buffer.alloc(9000), rand('tail', 30_000)]);
  const d = discriminator({ min: 16, avg: 64, max: 256 });
  s.window(0).set(data);
  const want = s.scan(data.length, 48, d, 4096 + 100);
  assert.ok(want.length > 100);
  for (let shift = 1; shift < 8; shift++) {
    s.window(shift).set(data);
    assert.deepEqual(s.scan(data.length, 48, d, 4096 + 100, shift), want, `shift ${shift}`);
  }
  // One byte further in the source, one byte further into the window.
  for (let at = 0; at < 16; at++) assert.equal(s.shiftFor(at + 1), (s.shiftFor(at) + 1) % 8);
});
