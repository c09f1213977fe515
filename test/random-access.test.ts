// Random access (engine/random-access.ts, platform/node/random-access.ts): reads at
// random offsets and lengths through an index equal the bytes the index describes,
// for blobs and archives, with chunks stored zstd-, gzip- and xz-compressed and
// uncompressed; read-ahead, the LRU bound, and failures that name the chunk and
// the stores (missing, corrupt, corrupt in one store but good in the next).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WasyncError } from '../src/errors.ts';
import { chunkPathBase, toHex } from '../src/chunk/chunk-id.ts';
import { parseIndex } from '../src/format/index-file.ts';
import { BytesReadAt, ChunkTable, IndexReadAt, loadFrom, readRange, type ReadAt } from '../src/engine/random-access.ts';
import { FileReadAt, openIndexReadAt, readChunkTable } from '../src/platform/node/io/random-access.ts';
import { LocalStore } from '../src/platform/node/storage/local-store.ts';
import { checkedStores } from '../src/platform/node/storage/node-stores.ts';
import { ChunkCodec } from '../src/platform/node/storage/chunk-codec.ts';
import { localSource, ok, rand, tempDir, wasync } from './helpers.ts';

const dir = tempDir('wasync-ra-');
const p = (n: string) => join(dir, n);
const blob = rand('random-access', 1_500_000);
writeFileSync(p('blob.img'), blob);
const SIZES = '--chunk-size=4096:16384:65536';

/** A deterministic generator for offsets (mulberry32). */
function prng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random reads (some empty, some spanning many chunks) must equal `want`. */
async function randomReads(r: ReadAt, want: Uint8Array, n = 300, seed = 1) {
  assert.equal(r.size, want.length);
  const rnd = prng(seed);
  for (let k = 0; k < n; k++) {
    const off = Math.floor(rnd() * want.length);
    const max = k % 10 === 0 ? 300_000 : 20_000;
    const len = Math.min(want.length - off, Math.floor(rnd() * max));
    const got = await r.read(off, len);
    assert.equal(got.length, len);
    assert.ok(Buffer.from(got).equals(Buffer.from(want.subarray(off, off + len))), `read(${off}, ${len})`);
  }
  // The very end and the very start.
  assert.ok(Buffer.from(await r.read(want.length - 1, 1)).equals(Buffer.from(want.subarray(want.length - 1))));
  assert.ok(Buffer.from(await r.read(0, 7)).equals(Buffer.from(want.subarray(0, 7))));
}

/** Rewrites a zstd store as `<id>` files (uncompressed), as casync accepts. */
function uncompressStore(from: string, to: string) {
  const codec = new ChunkCodec();
  for (const sub of readdirSync(from)) {
    mkdirSync(join(to, sub), { recursive: true });
    for (const f of readdirSync(join(from, sub))) {
      const data = readFileSync(join(from, sub, f));
      const plain = codec.decompress(data, 1 << 20) as Uint8Array;
      writeFileSync(join(to, sub, f.replace(/\.cacnk$/, '')), plain);
    }
  }
}

test('the chunk table finds the chunk of every offset', async () => {
  ok(wasync(['make', SIZES, `--store=${p('zstd.castr')}`, p('blob.caibx'), p('blob.img')]));
  const { entries } = parseIndex(readFileSync(p('blob.caibx')), 'blob.caibx');
  const { table } = await readChunkTable(p('blob.caibx'));
  assert.equal(table.count, entries.length);
  assert.equal(table.size, blob.length);
  entries.forEach((e, i) => {
    assert.equal(table.start(i), e.offset);
    assert.equal(table.end(i), e.offset + e.size);
    assert.equal(toHex(table.id(i)), toHex(e.id));
    assert.equal(table.find(e.offset), i);
    assert.equal(table.find(e.offset + e.size - 1), i);
  });
  assert.equal(ChunkTable.fromBatches([]).size, 0);
  assert.throws(() => ChunkTable.fromBatches([[{ offset: 5, size: 1, id: new Uint8Array(32) }]]), /starts at 5/);
});

for (const compression of ['zstd', 'gzip', 'xz', 'none']) {
  test(`random reads of a blob index equal the blob (${compression} chunks)`, async () => {
    const store = p(`${compression}.castr`);
    if (compression === 'none') {
      ok(wasync(['make', SIZES, `--store=${p('zstd.castr')}`, p('blob.caibx'), p('blob.img')]));
      uncompressStore(p('zstd.castr'), store);
    } else {
      ok(wasync(['make', SIZES, `--compression=${compression}`, `--store=${store}`, p(`blob-${compression}.caibx`), p('blob.img')]));
    }
    const index = compression === 'none' ? p('blob.caibx') : p(`blob-${compression}.caibx`);
    const { reader } = await openIndexReadAt(index, await localSource([store]));
    assert.ok(reader.table.count > 40, `${reader.table.count} chunks`);
    await randomReads(reader, blob, compression === 'xz' ? 120 : 300);
  });
}

test('random reads of a .catar file and of its .caidx equal the archive', async () => {
  const tree = p('tree');
  mkdirSync(join(tree, 'sub'), { recursive: true });
  writeFileSync(join(tree, 'a.bin'), rand('ra-a', 700_000));
  writeFileSync(join(tree, 'sub', 'b.bin'), rand('ra-b', 500_000));
  for (let i = 0; i < 50; i++) writeFileSync(join(tree, 'sub', `n${i}`), `${i}\n`);
  ok(wasync(['make', p('tree.catar'), tree]));
  const archive = readFileSync(p('tree.catar'));
  const file = await FileReadAt.open(p('tree.catar'));
  try {
    await randomReads(file, archive, 200, 7);
  } finally {
    await file.close();
  }
  for (const compression of ['zstd', 'gzip', 'xz']) {
    const store = p(`tree-${compression}.castr`);
    ok(wasync(['make', SIZES, `--compression=${compression}`, `--store=${store}`, p(`tree-${compression}.caidx`), tree]));
    const { reader, header } = await openIndexReadAt(p(`tree-${compression}.caidx`), await localSource([store]));
    assert.equal(header.flags, archive.readBigUInt64LE(16));
    await randomReads(reader, archive, 100, 11);
    // Read whole, in order, it is the archive.
    const parts: Uint8Array[] = [];
    for await (const b of readRange(reader, 0, reader.size, 65_000)) parts.push(b.slice());
    assert.ok(Buffer.concat(parts).equals(archive));
  }
});

/** A store that counts its lookups, over the real one. */
function counting(stores: string[]) {
  const gets: string[] = [];
  const counted = stores.map((dir) => {
    const s = new LocalStore(dir);
    return Object.assign(Object.create(s), { get: (hex: string) => (gets.push(hex), s.get(hex)) }) as LocalStore;
  });
  return { gets, load: loadFrom(checkedStores(counted)) };
}

test('sequential reads fetch ahead; the cache keeps a bounded number of chunks', async () => {
  ok(wasync(['make', SIZES, `--store=${p('zstd.castr')}`, p('blob.caibx'), p('blob.img')]));
  const { table } = await readChunkTable(p('blob.caibx'));
  const { gets, load } = counting([p('zstd.castr')]);
  const r = new IndexReadAt({ table, load, cacheChunks: 4, readAhead: 2 });
  const chunk = (i: number) => r.read(table.start(i), table.end(i) - table.start(i));
  await chunk(0); // not yet sequential
  assert.equal(gets.length, 1);
  await chunk(1); // sequential: chunks 2 and 3 are requested too
  await new Promise((res) => setTimeout(res, 50));
  assert.deepEqual(gets, [0, 1, 2, 3].map((i) => toHex(table.id(i))));
  await chunk(2);
  await chunk(3);
  assert.equal(gets.length, 6, 'chunks 4 and 5 fetched ahead, 2 and 3 came from the cache');
  // Only 4 chunks are kept: chunk 0 is gone by now, chunk 5 is still there.
  const before = r.fetched;
  await r.read(table.start(5), 1);
  assert.equal(r.fetched, before);
  await r.read(table.start(0), 1);
  assert.equal(r.fetched, before + 1);
  // A read spanning more chunks than the cache holds still works.
  const all = await r.read(0, table.size);
  assert.ok(Buffer.from(all).equals(blob));
});

test('missing and corrupt chunks are named with their id and stores; a good copy elsewhere is used', async () => {
  ok(wasync(['make', SIZES, `--store=${p('bad.castr')}`, p('bad.caibx'), p('blob.img')]));
  ok(wasync(['make', SIZES, `--store=${p('good.castr')}`, p('good.caibx'), p('blob.img')]));
  const { table } = await readChunkTable(p('bad.caibx'));
  const hex = (i: number) => toHex(table.id(i));
  const file = (store: string, i: number) => join(p(store), `${chunkPathBase(hex(i))}.cacnk`);
  const open = (stores: string[]) => new IndexReadAt({ table, load: loadFrom(checkedStores(stores.map((s) => new LocalStore(p(s))))), file: 'bad.caibx' });
  const at = (i: number) => table.start(i) + 10;

  rmSync(file('bad.castr', 1));
  writeFileSync(file('bad.castr', 2), 'garbage, not a chunk');
  writeFileSync(file('bad.castr', 3), (new ChunkCodec().compress('zstd', Buffer.from('the wrong content')) as Uint8Array).slice());
  rmSync(file('bad.castr', 4));
  symlinkSync('/dev/null', join(p('bad.castr'), chunkPathBase(hex(4))));

  const r = open(['bad.castr']);
  const fails = async (i: number, code: string, re: RegExp) => {
    const e = await r.read(at(i), 5).then(() => null, (x: unknown) => x);
    assert.ok(e instanceof WasyncError, `chunk ${i}: ${e}`);
    assert.equal(e.code, code);
    assert.match(e.message, new RegExp(hex(i)));
    assert.match(e.message, re);
  };
  await fails(1, 'ECHUNKMISSING', /not found in .*bad\.castr/);
  await fails(2, 'ECHUNKCORRUPT', /bad\.castr\/.*\.cacnk is corrupt: not in a known compression format/);
  await fails(3, 'ECHUNKCORRUPT', /holds 17 bytes|digest does not match/);
  await fails(4, 'ECHUNKMISSING', /not found/);
  // Chunk 0 is fine; a failed chunk is not remembered as failed.
  assert.ok(Buffer.from(await r.read(0, 5)).equals(blob.subarray(0, 5)));
  writeFileSync(file('bad.castr', 2), readFileSync(file('good.castr', 2)));
  assert.ok(Buffer.from(await r.read(at(2), 5)).equals(blob.subarray(at(2), at(2) + 5)));

  // With a second store, every chunk is found.
  const both = open(['bad.castr', 'good.castr']);
  assert.ok(Buffer.from(await both.read(0, blob.length)).equals(blob));
  const missing = await open(['bad.castr', 'nowhere.castr']).read(at(1), 1).then(() => null, (x: unknown) => x as Error);
  assert.match(missing!.message, /not found in .*bad\.castr, .*nowhere\.castr/);
});

test('reads outside the data are refused before any I/O', async () => {
  const r = new BytesReadAt(new Uint8Array(10), 'ten');
  assert.equal((await r.read(10, 0)).length, 0);
  await assert.rejects(r.read(8, 3), RangeError);
  await assert.rejects(r.read(-1, 1), RangeError);
  await assert.rejects(r.read(0.5, 1), RangeError);
  const f = await FileReadAt.open(p('blob.img'));
  try {
    await assert.rejects(f.read(blob.length, 1), RangeError);
    assert.equal((await f.read(blob.length, 0)).length, 0);
  } finally {
    await f.close();
  }
  await assert.rejects(FileReadAt.open(p('does-not-exist')), (e: WasyncError) => e.code === 'EINPUT');
});
