// desync's toolbox verbs: info, chop, cat, chunk, list-chunks and
// inspect-chunks, each against a blob index casync made and one wasync made.
// The expected figures come from the index itself (readIndex), from casync
// (its index of the same file, its extraction of what chop stored) and from
// dd (the bytes cat should write); cat's chunk fetches are counted at an HTTP
// server.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readIndex } from '../src/index.ts';
import { casync, haveCasync, ok, rand, requires, runAsync, storeChunks, tempDir, wasync, wasyncAsync } from './helpers.ts';
import { faultyServer } from './http-fixtures.ts';

const dir = tempDir('wasync-toolbox-');
const img = join(dir, 'img');
// A repeated stretch, so that distinct chunks are fewer than chunks.
writeFileSync(img, Buffer.concat([rand('toolbox-a', 2 << 20), rand('toolbox-b', 1 << 20), rand('toolbox-a', 2 << 20), rand('toolbox-c', 12345)]));
const size = statSync(img).size;
const chunkPath = (store: string, id: string) => join(store, id.slice(0, 4), `${id}.cacnk`);

/** The two indexes of `img`: made by casync (store c.castr) and by wasync (store w.castr). */
function indexes(t: import('node:test').TestContext): { name: string; index: string; store: string }[] {
  const out = [{ name: 'wasync', index: join(dir, 'w.caibx'), store: join(dir, 'w.castr') }];
  if (!existsSync(out[0].index)) ok(wasync(['make', `--store=${out[0].store}`, out[0].index, img]));
  if (requires(t, haveCasync, 'casync')) {
    const c = { name: 'casync', index: join(dir, 'c.caibx'), store: join(dir, 'c.castr') };
    if (!existsSync(c.index)) ok(casync(['make', `--store=${c.store}`, c.index, img]));
    out.push(c);
  }
  return out;
}

const dd = (skip: number, count: number) => {
  const r = spawnSync('dd', [`if=${img}`, 'iflag=skip_bytes,count_bytes', `skip=${skip}`, `count=${count}`, 'bs=65536', 'status=none'], { maxBuffer: 1 << 30 });
  assert.equal(r.status, 0, r.stderr.toString());
  return r.stdout;
};

test('chunk prints the chunk table casync make writes for the same file and chunk size', async (t) => {
  requires(t, haveCasync, 'casync');
  for (const sizes of ['16K:64K:256K', '4K:16K:64K']) {
    const index = join(dir, `chunk-${sizes.replace(/:/g, '-')}.caibx`);
    ok(casync(['make', `--chunk-size=${sizes}`, `--store=${join(dir, 'chunk.castr')}`, index, img]));
    const want = (await readIndex(index)).chunks.map((c) => `${c.offset}\t${c.size}\t${c.id}`);
    const r = ok(wasync(['chunk', `--chunk-size=${sizes}`, img]));
    assert.deepEqual(r.stdout.trimEnd().split('\n'), want, `--chunk-size=${sizes}`);
  }
  assert.equal(ok(wasync(['chunk', img])).stdout.split('\n').length - 1, (await readIndex(join(dir, 'chunk-16K-64K-256K.caibx'))).chunks.length, 'default chunk size is 16K:64K:256K');
  const bad = wasync(['chunk', '--chunk-size=banana', img]);
  assert.equal(bad.status, 1);
  assert.equal(bad.stderr.trim().split('\n').length, 1);
  assert.match(bad.stderr, /--chunk-size=banana/);
  assert.match(wasync(['chunk', join(dir, 'nosuch')]).stderr, /nosuch: cannot read: ENOENT/);
});

test('list-chunks lists the index: ids; with --detailed offsets and sizes; with a local store, stored sizes', async (t) => {
  for (const { name, index, store } of indexes(t)) {
    const chunks = (await readIndex(index)).chunks;
    assert.deepEqual(ok(wasync(['list-chunks', index])).stdout.trimEnd().split('\n'), chunks.map((c) => c.id), name);
    assert.deepEqual(ok(wasync(['list-chunks', '--detailed', index])).stdout.trimEnd().split('\n'), chunks.map((c) => `${c.id}\t${c.offset}\t${c.size}`), name);
    const withStore = ok(wasync(['list-chunks', '--detailed', `--store=${store}`, index])).stdout.trimEnd().split('\n');
    assert.deepEqual(withStore, chunks.map((c) => `${c.id}\t${c.offset}\t${c.size}\t${statSync(chunkPath(store, c.id)).size}`), `${name}: stored sizes`);
    const inspected = JSON.parse(ok(wasync(['inspect-chunks', `--store=${store}`, index])).stdout) as { id: string; uncompressed_size: number; compressed_size?: number }[];
    assert.deepEqual(inspected, chunks.map((c) => ({ id: c.id, uncompressed_size: c.size, compressed_size: statSync(chunkPath(store, c.id)).size })), `${name}: inspect-chunks`);
    assert.deepEqual(JSON.parse(ok(wasync(['inspect-chunks', index])).stdout), chunks.map((c) => ({ id: c.id, uncompressed_size: c.size })));
  }
  const r = wasync(['list-chunks', '--detailed', '--store=http://127.0.0.1:1/s.castr', indexes(t)[0].index]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /http:\/\/127\.0\.0\.1:1\/s\.castr: stored sizes are read from a local store only/);
  // The store is chosen as other verbs choose it: $CASYNC_STORE by default, a scheme wasync cannot reach refused.
  const { index, store } = indexes(t)[0];
  const chunks = (await readIndex(index)).chunks;
  const fromEnv = ok(wasync(['list-chunks', '--detailed', index], { env: { CASYNC_STORE: store } })).stdout.trimEnd().split('\n');
  assert.deepEqual(fromEnv, chunks.map((c) => `${c.id}\t${c.offset}\t${c.size}\t${statSync(chunkPath(store, c.id)).size}`));
  const sizes = JSON.parse(ok(wasync(['inspect-chunks', index], { env: { CASYNC_STORE: store } })).stdout) as { compressed_size?: number }[];
  assert.ok(sizes.every((c) => c.compressed_size! > 0));
  const ftp = wasync(['inspect-chunks', '--store=ftp://h/s.castr', index]);
  assert.equal(ftp.status, 1);
  assert.match(ftp.stderr, /unsupported URL scheme ftp:\/\//);
});

test('info counts chunks, distinct chunks and sizes, and what a partial store and a seed hold', async (t) => {
  for (const { name, index, store } of indexes(t)) {
    const idx = await readIndex(index);
    const distinct = new Map(idx.chunks.map((c) => [c.id, c.size]));
    assert.ok(distinct.size < idx.chunks.length, 'the repeated stretch repeats chunks');
    // A partial store: a third of the distinct chunks removed.
    const partial = join(dir, `partial-${name}.castr`);
    rmSync(partial, { recursive: true, force: true });
    cpSync(store, partial, { recursive: true });
    const removed = [...distinct.keys()].filter((_, i) => i % 3 === 0);
    for (const id of removed) rmSync(chunkPath(partial, id));
    // A seed: the first 2.5 MiB of the image, and (as desync takes seeds) the index of it.
    const seedFile = join(dir, `seed-${name}`);
    writeFileSync(seedFile, readFileSync(img).subarray(0, 5 << 19));
    const seedIndex = join(dir, `seed-${name}.caibx`);
    ok(wasync(['make', `--store=${join(dir, 'seed.castr')}`, seedIndex, seedFile]));
    const seedIds = new Set((await readIndex(seedIndex)).chunks.map((c) => c.id));
    const inSeed = [...distinct.keys()].filter((id) => seedIds.has(id));
    assert.ok(inSeed.length > 0 && inSeed.length < distinct.size);
    const bytes = (ids: string[]) => ids.reduce((n, id) => n + distinct.get(id)!, 0);
    const notSeed = [...distinct.keys()].filter((id) => !seedIds.has(id));
    const missing = notSeed.filter((id) => removed.includes(id));
    for (const seed of [seedFile, seedIndex]) {
      const r = JSON.parse(ok(wasync(['info', '--json', `--store=${partial}`, `--seed=${seed}`, index])).stdout);
      assert.deepEqual(
        r,
        {
          total: idx.chunks.length,
          unique: distinct.size,
          size,
          'chunk-size-min': 16384,
          'chunk-size-avg': 65536,
          'chunk-size-max': 262144,
          'smallest-chunk': Math.min(...idx.chunks.map((c) => c.size)),
          'largest-chunk': Math.max(...idx.chunks.map((c) => c.size)),
          'mean-chunk': Math.round(size / idx.chunks.length),
          'in-store': distinct.size - removed.length,
          'in-store-size': bytes([...distinct.keys()]) - bytes(removed),
          'in-seed': inSeed.length,
          'in-seed-size': bytes(inSeed),
          'in-cache': null,
          'not-in-seed-nor-cache': notSeed.length,
          'dedup-size-not-in-seed': bytes(notSeed),
          'dedup-size-not-in-seed-nor-cache': bytes(notSeed),
          download: 0,
          'download-size': 0,
          missing: missing.length,
          'missing-size': bytes(missing),
          // The update's cost along the image: the partial store is local, so what it has is at hand too.
          'zero-chunks': 0,
          'zero-size': 0,
          'at-hand-size': idx.chunks.filter((c) => seedIds.has(c.id) || !removed.includes(c.id)).reduce((n, c) => n + c.size, 0),
          'new-chunks': missing.length,
          'new-size': bytes(missing),
          stores: [partial],
        },
        `${name}, seed ${seed}`,
      );
    }
    // Plain output, desync's lines.
    const plain = ok(wasync(['info', `--store=${partial}`, index])).stdout;
    assert.match(plain, new RegExp(`^Total chunks: ${idx.chunks.length}$`, 'm'));
    assert.match(plain, new RegExp(`^Unique chunks: ${distinct.size}$`, 'm'));
    assert.match(plain, new RegExp(`^Chunks in store: ${distinct.size - removed.length}$`, 'm'));
    assert.match(plain, new RegExp(`^Blob size: ${size} `, 'm'));
  }
});

test('info over HTTP: what only the remote store has is what an update downloads', async (t) => {
  const [{ index, store }] = indexes(t);
  const server = await faultyServer(dir);
  const idx = await readIndex(index);
  const distinct = new Map(idx.chunks.map((c) => [c.id, c.size]));
  const remote = `${server.url}/${store.slice(dir.length + 1)}`;
  const r = await wasyncAsync(['info', '--json', `--store=${remote}`, index]);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  const all = [...distinct.values()].reduce((a, b) => a + b, 0);
  assert.equal(j['in-store'], distinct.size);
  assert.equal(j.download, distinct.size);
  assert.equal(j['download-size'], all);
  assert.equal(j.missing, 0);
  const chunkRequests = [...server.requests.entries()].filter(([p]) => p.endsWith('.cacnk'));
  assert.equal(chunkRequests.length, distinct.size, 'each distinct chunk asked once (HEAD)');
  // A cache holding two thirds of them: the rest is what is downloaded.
  const cache = join(dir, 'info-cache.castr');
  cpSync(store, cache, { recursive: true });
  const uncached = [...distinct.keys()].filter((_, i) => i % 3 === 1);
  for (const id of uncached) rmSync(chunkPath(cache, id));
  const c = await wasyncAsync(['info', '--json', `--store=${remote}`, `--cache=${cache}`, index]);
  assert.equal(c.status, 0, c.stderr);
  const jc = JSON.parse(c.stdout);
  assert.equal(jc['in-cache'], distinct.size - uncached.length);
  assert.equal(jc['not-in-seed-nor-cache'], uncached.length);
  assert.equal(jc.download, uncached.length);
  assert.equal(jc['download-size'], uncached.reduce((n, id) => n + distinct.get(id)!, 0));
  assert.deepEqual(jc.stores, [remote, `${cache} (cache)`]);
});

test('chop into an empty store: casync extracts the file from it; a file that does not match is refused', async (t) => {
  requires(t, haveCasync, 'casync');
  for (const { name, index } of indexes(t)) {
    const empty = join(dir, `chopped-${name}.castr`);
    rmSync(empty, { recursive: true, force: true });
    ok(wasync(['chop', `--store=${empty}`, index, img]));
    const distinct = new Set((await readIndex(index)).chunks.map((c) => `${c.id}.cacnk`));
    assert.deepEqual(storeChunks(empty), [...distinct].sort(), `${name}: every chunk, nothing else`);
    const out = join(dir, `chopped-${name}.img`);
    ok(casync(['extract', `--store=${empty}`, index, out]), 'casync extract');
    assert.ok(readFileSync(out).equals(readFileSync(img)), `${name}: casync extracts the file`);
    ok(wasync(['verify', `--store=${empty}`, index]));
  }
  const [{ index }] = indexes(t);
  const chunks = (await readIndex(index)).chunks;
  const bad = Buffer.from(readFileSync(img));
  const hit = chunks[7];
  bad[hit.offset + 10] ^= 1;
  const badFile = join(dir, 'bad.img');
  writeFileSync(badFile, bad);
  const into = join(dir, 'refused.castr');
  const r = wasync(['chop', `--store=${into}`, index, badFile]);
  assert.equal(r.status, 1);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.ok(r.stderr.includes(`bad.img: the ${hit.size} bytes at offset ${hit.offset} are not chunk ${hit.id} (chunk 7 of ${index})`), r.stderr);
  const listed = new Set(chunks.map((c) => `${c.id}.cacnk`));
  for (const f of storeChunks(into)) assert.ok(listed.has(f), `${f}: only chunks the index names are stored`);
  writeFileSync(join(dir, 'short.img'), readFileSync(img).subarray(0, size - 1));
  const short = wasync(['chop', `--store=${into}`, index, join(dir, 'short.img')]);
  assert.equal(short.status, 1);
  assert.match(short.stderr, new RegExp(`short\\.img: ${size - 1} bytes, but .* describes ${size}; chunk ${chunks[chunks.length - 1].id} at offset ${chunks[chunks.length - 1].offset} runs past its end`));
  assert.equal(readdirSync(dir).filter((f) => f.includes('.#')).length, 0, 'no temporary files left');
});

test('cat writes byte ranges as dd reads them, fetching only the chunks they span', async (t) => {
  const server = await faultyServer(dir);
  for (const { name, index, store } of indexes(t)) {
    const chunks = (await readIndex(index)).chunks;
    const rel = (p: string) => `${server.url}/${p.slice(dir.length + 1)}`;
    const spanned = (from: number, to: number) => new Set(chunks.filter((c) => c.offset < to && c.offset + c.size > from).map((c) => c.id)).size;
    const c3 = chunks[3];
    const cases: [string, number, number | undefined][] = [
      ['start', 0, 1000],
      ['middle across chunk boundaries', c3.offset - 10, c3.size + 20],
      ['end', size - 500, undefined],
      ['whole', 0, undefined],
      ['empty at the end', size, 0],
    ];
    for (const [what, offset, length] of cases) {
      const before = [...server.requests.entries()].filter(([p]) => p.endsWith('.cacnk')).reduce((n, [, k]) => n + k, 0);
      const out = join(dir, `cat-${name}.bin`);
      const args = ['cat', `--store=${rel(store)}`, `--offset=${offset}`, ...(length === undefined ? [] : [`--length=${length}`]), rel(index), out];
      const r = await wasyncAsync(args);
      assert.equal(r.status, 0, `${name} ${what}: ${r.stderr}`);
      const want = dd(offset, length ?? size - offset);
      assert.ok(readFileSync(out).equals(want), `${name} ${what}: the bytes dd reads`);
      const fetched = [...server.requests.entries()].filter(([p]) => p.endsWith('.cacnk')).reduce((n, [, k]) => n + k, 0) - before;
      const end = offset + (length ?? size - offset);
      assert.equal(fetched, spanned(offset, end), `${name} ${what}: chunks fetched`);
    }
    // To standard output, from the local store.
    const r = ok(wasync(['cat', `--store=${store}`, `--offset=${c3.offset + 1}`, '--length=100000', index]));
    assert.ok(r.out.equals(dd(c3.offset + 1, 100000)), `${name}: to standard output`);
  }
  const [{ index, store }] = indexes(t);
  // Into a FIFO (written in place, not replaced by a file), read by another process.
  const fifo = join(dir, 'cat.fifo');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo');
  const reader = runAsync('sh', ['-c', `cat '${fifo}' > '${join(dir, 'from-fifo.bin')}'`]);
  const viaFifo = await wasyncAsync(['cat', `--store=${store}`, '--offset=123', '--length=700000', index, fifo]);
  assert.equal(viaFifo.status, 0, viaFifo.stderr);
  assert.equal((await reader).status, 0);
  assert.ok(readFileSync(join(dir, 'from-fifo.bin')).equals(dd(123, 700000)), 'the bytes through the FIFO');
  assert.ok(statSync(fifo).isFIFO(), 'the FIFO is still a FIFO');
  // A chunk no store has: one line naming it, and no output left behind.
  const holed = join(dir, 'holed.castr');
  rmSync(holed, { recursive: true, force: true });
  cpSync(store, holed, { recursive: true });
  const gone = (await readIndex(index)).chunks[2];
  rmSync(chunkPath(holed, gone.id));
  const failed = wasync(['cat', `--store=${holed}`, index, join(dir, 'holed.bin')]);
  assert.equal(failed.status, 1);
  assert.equal(failed.stderr.trim().split('\n').length, 1, failed.stderr);
  assert.match(failed.stderr, new RegExp(`chunk ${gone.id} is missing`));
  assert.ok(!existsSync(join(dir, 'holed.bin')));
  for (const [args, message] of [
    [['--offset=' + (size + 1)], `--offset=${size + 1} is past the end of the blob \\(${size} bytes\\)`],
    [[`--offset=${size - 10}`, '--length=11'], `--offset=${size - 10} --length=11 runs past the end of the blob \\(${size} bytes, 10 from the offset\\)`],
    [['--offset=-1'], '--offset=-1: expected a whole number of bytes'],
    [['--length=1k'], '--length=1k: expected a whole number of bytes'],
  ] as [string[], string][]) {
    const out = join(dir, 'refused.bin');
    const r = wasync(['cat', `--store=${store}`, ...args, index, out]);
    assert.equal(r.status, 1, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, new RegExp(message));
    assert.ok(!existsSync(out), 'no output file');
  }
  assert.equal(readdirSync(dir).filter((f) => f.includes('.#')).length, 0, 'no temporary files left');
});

test('the library: chunk, listChunks, info, cat and chop take bytes, callbacks and store objects', async (t) => {
  const { cat, chop, chunk, info, listChunks, localStore, MemoryStore } = await import('../src/index.ts');
  const [{ index, store }] = indexes(t);
  const idx = await readIndex(index);
  const bytes = readFileSync(index);
  const table = idx.chunks.map((c) => ({ offset: c.offset, size: c.size, id: c.id }));
  assert.deepEqual((await chunk({ file: img })).chunks, table);
  assert.deepEqual((await listChunks({ index: bytes })).chunks, table.map((c) => ({ ...c, storedSize: null })));
  const r = await info({ index: bytes, extraStores: [localStore(store)] });
  assert.equal(r.unique, new Set(table.map((c) => c.id)).size);
  assert.equal(r['in-store'], r.unique);
  assert.equal(r.download, 0, 'a local store: nothing to download');
  const pieces: Buffer[] = [];
  const c = await cat({ index, stores: localStore(store), offset: 70000, length: 300000, output: (b) => void pieces.push(Buffer.from(b)) });
  assert.ok(Buffer.concat(pieces).equals(readFileSync(img).subarray(70000, 370000)));
  assert.equal(c.length, 300000);
  const mem = new MemoryStore();
  const chopped = await chop({ index: bytes, file: img, store: mem });
  assert.equal(chopped.stored, new Set(table.map((x) => x.id)).size);
  const again = await chop({ index: bytes, file: img, store: mem });
  assert.equal(again.stored, 0, 'a second chop finds every chunk there');
});
