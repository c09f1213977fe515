// The chunk engine through its library interface, on the calling thread and on
// the worker pool: both must give the same results.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeBlob } from '../src/platform/node/pool/make-blob.ts';
import { extractBlob } from '../src/platform/node/pool/extract-blob.ts';
import { chunkFile } from '../src/platform/node/pool/chunk-pipeline.ts';
import { SeedIndex } from '../src/platform/node/seeds/seed-index.ts';
import { parseIndex } from '../src/format/index-file.ts';
import { DEFAULT_CHUNK_SIZES } from '../src/chunker/sizes.ts';
import { InlineExecutor, WorkerPool } from '../src/platform/node/pool/worker-pool.ts';
import type { Executor } from '../src/platform/node/pool/jobs.ts';
import { localGraph, rand, sha512_256, tempDir } from './helpers.ts';

const dir = tempDir();
const data = Buffer.concat([rand('engine', 20 << 20), Buffer.alloc(3 << 20), rand('tail', 12345)]);
const input = join(dir, 'in.img');
writeFileSync(input, data);

async function make(executor: Executor, digestExecutor: Executor, store: string) {
  const fd = openSync(input, 'r');
  const parts: Uint8Array[] = [];
  try {
    const r = await makeBlob({
      input: { fd, path: input },
      size: data.length,
      sizes: DEFAULT_CHUNK_SIZES,
      digest: 'sha512-256',
      store: await localGraph(store),
      compression: 'zstd',
      executor,
      digestExecutor,
      writeIndex: (b) => void parts.push(b.slice()),
    });
    return { ...r, index: Buffer.concat(parts) };
  } finally {
    closeSync(fd);
  }
}

test('the worker pool and the inline executor make the same index', async () => {
  const inline = await make(new InlineExecutor(), new InlineExecutor(), join(dir, 'a.castr'));
  const pool = new WorkerPool(2);
  const single = new WorkerPool(1);
  try {
    const pooled = await make(pool, single, join(dir, 'b.castr'));
    assert.deepEqual(pooled.index, inline.index);
    assert.equal(Buffer.from(pooled.digest).toString('hex'), sha512_256(data));
    assert.equal(Buffer.from(inline.digest).toString('hex'), sha512_256(data));
    assert.equal(pooled.chunks, inline.chunks);
    assert.equal(pooled.stored, inline.stored);
  } finally {
    await pool.close();
    await single.close();
  }
});

test('seed bytes that no longer match are not used; the store supplies the chunk', async () => {
  const store = join(dir, 'a.castr');
  const { header, entries } = parseIndex((await make(new InlineExecutor(), new InlineExecutor(), store)).index, 'x');
  const exec = new InlineExecutor();
  // Index the seed as it is now, then change it before extraction reads it.
  const seedPath = join(dir, 'seed.img');
  writeFileSync(seedPath, data);
  const seeds = new SeedIndex();
  const seedFd = openSync(seedPath, 'r+');
  let start = 0;
  await chunkFile({
    input: { fd: seedFd, path: seedPath },
    size: data.length,
    sizes: header,
    digest: 'sha512-256',
    store: null,
    compression: 'zstd',
    executor: exec,
    onChunks: (ends, r) => {
      seeds.addChunks(0, start, ends, r.ids);
      start = ends[ends.length - 1];
    },
  });
  assert.equal(seeds.size, new Set(entries.map((e) => Buffer.from(e.id).toString('hex'))).size);
  writeFileSync(seedPath, rand('changed', data.length));
  const outPath = join(dir, 'out.img');
  const outFd = openSync(outPath, 'w');
  try {
    const r = await extractBlob({
      entries: (async function* () {
        yield entries;
      })(),
      digest: 'sha512-256',
      stores: await localGraph(store),
      seeds,
      seedFiles: [{ fd: seedFd, path: seedPath }],
      out: { fd: outFd, path: outPath },
      holes: false,
      compareOutput: false,
      zeroIds: new Map(),
      executor: exec,
    });
    assert.equal(r.fromSeed, 0);
    assert.equal(r.fromStore, entries.length);
  } finally {
    closeSync(outFd);
    closeSync(seedFd);
  }
  assert.ok(readFileSync(outPath).equals(data));
});

test('the seed index finds what was added, and grows', () => {
  const s = new SeedIndex();
  const ids = rand('ids', 32 * 5000);
  for (let i = 0; i < 5000; i++) s.add(ids.subarray(32 * i, 32 * i + 32), i % 3, i * 1000);
  assert.equal(s.size, 5000);
  for (let i = 0; i < 5000; i++) assert.deepEqual(s.get(ids.subarray(32 * i, 32 * i + 32)), { seed: i % 3, offset: i * 1000 });
  assert.equal(s.get(rand('other', 32)), null);
});

test('a stream fed through a small ring buffer chunks exactly like the file', async () => {
  const { ChunkPipeline } = await import('../src/platform/node/pool/chunk-pipeline.ts');
  const { RingWriter } = await import('../src/platform/node/pool/ring-writer.ts');
  const { parseChunkSizeOption } = await import('../src/chunker/sizes.ts');
  const { SCAN_SEGMENT } = await import('../src/platform/node/pool/jobs.ts');
  const pool = new WorkerPool(2);
  const single = new WorkerPool(1);
  try {
    for (const sizes of [DEFAULT_CHUNK_SIZES, parseChunkSizeOption('1000:5000:20000'), parseChunkSizeOption('4096:4096:4096')]) {
      const fd = openSync(input, 'r');
      const fromFile: number[] = [];
      const fileIds: Uint8Array[] = [];
      const f = await chunkFile({
        input: { fd, path: input }, size: data.length, sizes, digest: 'sha512-256', store: null, compression: 'zstd',
        executor: pool, digestExecutor: single,
        onChunks: (ends, r) => void (fromFile.push(...ends), fileIds.push(r.ids.slice())),
      });
      closeSync(fd);
      // The smallest ring allowed: the stream wraps around it several times.
      const ring = new SharedArrayBuffer(sizes.max + 2 * SCAN_SEGMENT + (1 << 20));
      const fromRing: number[] = [];
      const ringIds: Uint8Array[] = [];
      const pipeline = new ChunkPipeline({
        input: { ring, path: 'ring' }, sizes, digest: 'sha512-256', store: null, compression: 'zstd',
        executor: pool, digestExecutor: single,
        onChunks: (ends, r) => void (fromRing.push(...ends), ringIds.push(r.ids.slice())),
      });
      const w = new RingWriter(ring, pipeline);
      for (let o = 0, i = 0; o < data.length; i++) {
        const n = [1, 777, 65536, 1 << 20, 300_000][i % 5];
        await w.write(data.subarray(o, o + n));
        o += n;
      }
      const r = await pipeline.finish(data.length);
      assert.deepEqual(fromRing, fromFile);
      assert.deepEqual(Buffer.concat(ringIds), Buffer.concat(fileIds));
      assert.deepEqual(r.digest, f.digest);
    }
  } finally {
    await pool.close();
    await single.close();
  }
});
