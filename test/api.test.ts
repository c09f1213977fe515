// The library API (src/index.ts): each operation gives what the command line
// gives (index bytes, printed digests, list/mtree/stat text, extracted bytes),
// stores may be paths or objects (an in-memory store, reached from worker
// threads too), progress is reported, an AbortSignal stops an operation and
// leaves no temporary file, and failures are WasyncError with their code.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  MemoryStore,
  WasyncError,
  compress,
  decompress,
  digest,
  extract,
  list,
  localStore,
  make,
  mtree,
  readIndex,
  stat,
  verify,
  type ChunkStore,
  type ProgressReport,
} from '../src/index.ts';
import { casync, haveCasync, ok, requires, sha512_256, storeChunks, tempDir, wasync } from './helpers.ts';
import { smallBlob, smallTree, temporaries } from './api-fixtures.ts';

const dir = tempDir('wasync-api-');
const at = (...p: string[]) => join(dir, ...p);
const blob = smallBlob('api', 6);
writeFileSync(at('img'), blob);
smallTree(at('tree'));

// What the command line makes and prints, to compare with.
mkdirSync(at('cli'));
const cliBlobDigest = ok(wasync(['make', at('cli', 'img.caibx'), at('img')])).stdout;
const cliTreeDigest = ok(wasync(['make', at('cli', 'tree.caidx'), at('tree')])).stdout;
ok(wasync(['make', at('cli', 'tree.catar'), at('tree')]));
const cliStore = at('cli', 'default.castr');

const bytesEqual = (a: Uint8Array | undefined, b: Uint8Array, what?: string) => assert.deepEqual(Buffer.from(a ?? []), Buffer.from(b), what);
const code = (c: string) => (e: unknown) => e instanceof WasyncError && e.code === c;

test('make: a blob index from a file, bytes or a stream is the command line’s, byte for byte', async () => {
  const store = at('api.castr');
  const r = await make({ source: at('img'), output: at('img.caibx'), store });
  assert.equal(`${r.digest}\n`, cliBlobDigest);
  assert.deepEqual(readFileSync(at('img.caibx')), readFileSync(at('cli', 'img.caibx')));
  const ids = new Set((await readIndex(at('img.caibx'))).chunks.map((c) => `${c.id}.cacnk`));
  assert.deepEqual(storeChunks(store), [...ids].sort(), 'every distinct chunk stored');
  assert.ok(storeChunks(store).every((n) => existsSync(join(cliStore, n.slice(0, 4), n))));
  assert.equal(r.size, blob.length);
  assert.equal(r.stored, ids.size);

  const fromBytes = await make({ source: blob, store: new MemoryStore() });
  bytesEqual(fromBytes.bytes, readFileSync(at('cli', 'img.caibx')));
  async function* pieces() {
    for (let o = 0; o < blob.length; o += 333_333) yield blob.subarray(o, o + 333_333);
  }
  const fromStream = await make({ source: pieces(), store: new MemoryStore(), workers: 2 });
  bytesEqual(fromStream.bytes, fromBytes.bytes!);
  assert.equal(fromStream.digest, r.digest);
});

test('make: an archive index and an archive of a tree are the command line’s', async () => {
  const idx = await make({ source: at('tree'), output: at('tree.caidx'), store: at('api.castr') });
  assert.equal(`${idx.digest}\n`, cliTreeDigest);
  assert.deepEqual(readFileSync(at('tree.caidx')), readFileSync(at('cli', 'tree.caidx')));
  const tar = await make({ source: at('tree'), what: 'archive' });
  bytesEqual(tar.bytes, readFileSync(at('cli', 'tree.catar')));
  assert.equal(tar.digest, idx.digest);
  assert.equal(tar.entries, 9);
});

test('make: the blob index is casync’s', async (t) => {
  if (!requires(t, haveCasync, 'the casync binary')) return;
  mkdirSync(at('casync'));
  ok(casync(['make', at('casync', 'img.caibx'), at('img')]));
  const r = await make({ source: blob, store: new MemoryStore() });
  bytesEqual(r.bytes, readFileSync(at('casync', 'img.caibx')));
});

test('extract: a blob to a file, to a callback and from index bytes', async () => {
  const r = await extract({ input: at('cli', 'img.caibx'), output: at('img.out') });
  assert.deepEqual(readFileSync(at('img.out')), blob);
  assert.equal(r.size, blob.length);
  assert.ok(r.sources.zeroBytes >= 3 * (256 << 10), 'the zero chunks come from no store');
  const parts: Buffer[] = [];
  await extract({ input: readFileSync(at('cli', 'img.caibx')), stores: cliStore, onData: (b) => void parts.push(Buffer.from(b)) });
  assert.deepEqual(Buffer.concat(parts), blob);
});

test('extract: a tree from an archive index and from an archive, as the command line extracts it', async () => {
  ok(wasync(['extract', at('cli', 'tree.caidx'), at('cli', 'tree.out')]));
  const r = await extract({ input: at('cli', 'tree.caidx'), output: at('tree.out') });
  assert.equal(r.entries, 9);
  await extract({ input: readFileSync(at('cli', 'tree.catar')), output: at('tree.out2') });
  const cliMtree = ok(wasync(['mtree', at('cli', 'tree.out')])).stdout;
  assert.equal(ok(wasync(['mtree', at('tree.out')])).stdout, cliMtree);
  assert.equal(ok(wasync(['mtree', at('tree.out2')])).stdout, cliMtree);
  assert.equal(ok(wasync(['digest', at('tree.out')])).stdout, cliTreeDigest);
});

test('list, mtree, stat and digest return what the command line prints', async () => {
  for (const input of [at('cli', 'tree.caidx'), at('cli', 'tree.catar'), at('tree')]) {
    assert.equal([...(await list({ input })), ''].join('\n'), ok(wasync(['list', input])).stdout, `list ${input}`);
    assert.equal([...(await mtree({ input })), ''].join('\n'), ok(wasync(['mtree', input])).stdout, `mtree ${input}`);
    assert.equal(await stat({ input, path: 'sub/link' }), ok(wasync(['stat', input, 'sub/link'])).stdout, `stat ${input}`);
    assert.equal(`${await digest({ input })}\n`, cliTreeDigest, `digest ${input}`);
    assert.equal(`${await digest({ input, path: 'sub/big.bin' })}\n`, ok(wasync(['digest', input, 'sub/big.bin'])).stdout);
  }
  assert.equal(`${await digest({ input: at('cli', 'img.caibx') })}\n`, cliBlobDigest);
  assert.equal(`${await digest({ input: at('img') })}\n`, cliBlobDigest);
  assert.deepEqual(await list({ input: at('tree'), path: 'sub', recursive: false }), ok(wasync(['list', '--recursive=no', at('tree'), 'sub'])).stdout.trimEnd().split('\n'));
});

test('readIndex and verify', async () => {
  const info = await readIndex(at('cli', 'img.caibx'));
  assert.equal(info.what, 'blob-index');
  assert.equal(info.digest, 'sha512-256');
  assert.equal(info.size, blob.length);
  assert.deepEqual(info.chunkSize, { min: 16 << 10, avg: 64 << 10, max: 256 << 10 });
  const ids = new Set(info.chunks.map((c) => `${c.id}.cacnk`));
  assert.equal(storeChunks(cliStore).filter((n) => ids.has(n)).length, ids.size, 'every chunk is in the store');
  assert.equal((await readIndex(readFileSync(at('cli', 'tree.caidx')))).what, 'archive-index');

  const good = await verify({ index: at('cli', 'img.caibx') });
  assert.equal(good.ok, true);
  assert.equal(good.chunks, ids.size);

  // A store object that lacks one chunk and corrupts another.
  const local = localStore(cliStore);
  const [gone, bad] = info.chunks.map((c) => c.id).filter((id) => local.has(id));
  const tampered: ChunkStore = {
    get: async (id) => {
      if (id === gone) return null;
      const c = await local.get(id);
      if (id === bad && c) c[c.length >> 1] ^= 0xff;
      return c;
    },
    has: (id) => id !== gone && local.has(id),
    put: () => false,
  };
  const r = await verify({ index: at('cli', 'img.caibx'), stores: tampered });
  assert.equal(r.ok, false);
  assert.deepEqual(r.missing, [gone]);
  assert.deepEqual(r.corrupt.map((c) => c.id), [bad]);
});

test('an in-memory store: make into it, extract and verify from it, on worker threads too', async () => {
  for (const workers of [0, 2]) {
    const store = new MemoryStore();
    const r = await make({ source: blob, store, workers });
    assert.equal(store.chunks.size, r.stored);
    const out = at(`mem-${workers}.img`);
    await extract({ input: r.bytes!, stores: store, output: out, workers });
    assert.deepEqual(readFileSync(out), blob);

    const tree = await make({ source: at('tree'), what: 'archive-index', store, workers });
    await extract({ input: tree.bytes!, stores: [store], output: at(`mem-${workers}.tree`), workers });
    assert.equal(ok(wasync(['digest', at(`mem-${workers}.tree`)])).stdout, cliTreeDigest);
  }
});

test('progress: reports rise to the whole size; extraction says where chunks came from', async () => {
  const seen: ProgressReport[] = [];
  await make({ source: at('img'), output: at('progress.caibx'), store: at('api.castr'), onProgress: (p) => void seen.push(p) });
  assert.ok(seen.length >= 1, 'at least the last report');
  assert.ok(seen.every((p, i) => p.total === blob.length && (i === 0 || p.done >= seen[i - 1].done)));
  assert.equal(seen[seen.length - 1].done, blob.length);

  // A source that takes its time: reports while it runs (every 100 ms), not only at the end.
  const slowly: ProgressReport[] = [];
  async function* pieces() {
    for (let at = 0; at < blob.length; at += 1 << 20) {
      yield blob.subarray(at, at + (1 << 20));
      await new Promise((r) => setTimeout(r, 150));
    }
  }
  await make({ source: pieces(), output: at('progress-slow.caibx'), store: at('api.castr'), workers: 0, onProgress: (p) => void slowly.push(p) });
  const between = new Set(slowly.map((p) => p.done).filter((d) => d > 0 && d < blob.length));
  assert.ok(between.size >= 2, `several reports on the way: ${slowly.map((p) => p.done).join(', ')}`);
  assert.equal(slowly[slowly.length - 1].done, blob.length);

  const got: ProgressReport[] = [];
  await extract({ input: at('cli', 'img.caibx'), output: at('progress.img'), seedOutput: false, onProgress: (p) => void got.push(p) });
  const last = got[got.length - 1];
  assert.equal(last.done, blob.length);
  assert.equal(last.sources!.fromStoreBytes + last.sources!.zeroBytes, blob.length);
});

test('an AbortSignal stops an operation: it rejects with the reason and leaves no temporary file', async () => {
  const cancelled = (p: Promise<unknown>, reason: Error) => assert.rejects(p, (e) => e === reason);
  const stopAt = (ac: AbortController, reason: Error) => () => ac.abort(reason);

  // make of a blob (worker threads), into a fresh store
  let ac = new AbortController();
  let reason = new Error('stop make');
  mkdirSync(at('abort'));
  await cancelled(make({ source: at('img'), output: at('abort', 'x.caibx'), store: at('abort', 's.castr'), workers: 2, onProgress: stopAt(ac, reason), signal: ac.signal }), reason);
  assert.equal(existsSync(at('abort', 'x.caibx')), false);

  // make of a tree
  ac = new AbortController();
  reason = new Error('stop tree');
  await cancelled(make({ source: at('tree'), output: at('abort', 't.catar'), signal: ac.signal, onProgress: stopAt(ac, reason) }), reason);
  assert.equal(existsSync(at('abort', 't.catar')), false);

  // extract of a blob over an existing file: it is left as it was
  writeFileSync(at('abort', 'img'), 'old contents');
  ac = new AbortController();
  reason = new Error('stop extract');
  await cancelled(extract({ input: at('cli', 'img.caibx'), output: at('abort', 'img'), signal: ac.signal, onProgress: stopAt(ac, reason) }), reason);
  assert.equal(readFileSync(at('abort', 'img'), 'utf8'), 'old contents');

  // extract of a tree
  ac = new AbortController();
  reason = new Error('stop tree extract');
  await cancelled(extract({ input: at('cli', 'tree.caidx'), output: at('abort', 'tree'), signal: ac.signal, onProgress: stopAt(ac, reason) }), reason);

  // an already aborted signal: nothing starts
  await assert.rejects(make({ source: at('img'), output: at('abort', 'y.caibx'), signal: AbortSignal.abort() }), { name: 'AbortError' });
  assert.deepEqual(temporaries(dir), []);
  assert.deepEqual(readdirSync(at('abort')).sort(), ['img', 's.castr', 'tree'].filter((n) => existsSync(at('abort', n))).sort());
});

test('failures are WasyncError with the code that says why', async () => {
  await assert.rejects(make({ source: at('nope'), store: new MemoryStore() }), code('EINPUT'));
  await assert.rejects(make({ source: blob, store: new MemoryStore(), chunkSize: '1:2' }), code('EUSAGE'));
  await assert.rejects(make({ source: at('tree'), output: at('x.caibx') }), code('EUSAGE'));
  await assert.rejects(make({ source: blob, store: { get: () => null } as unknown as ChunkStore }), code('EUSAGE'));
  await assert.rejects(readIndex(new Uint8Array(100)), code('EFORMAT'));
  await assert.rejects(
    extract({ input: at('cli', 'img.caibx'), stores: new MemoryStore('the test store'), output: at('missing.img') }),
    (e) => code('ECHUNKMISSING')(e) && /^chunk [0-9a-f]{64} is missing: not found in the test store$/.test((e as Error).message),
  );
  assert.equal(existsSync(at('missing.img')), false);

  // A store whose copy of a chunk is damaged, then one without it at all.
  const local = localStore(cliStore);
  const damaged = new MemoryStore('damaged');
  for (const c of (await readIndex(at('cli', 'img.caibx'))).chunks) {
    const b = await local.get(c.id);
    if (b) damaged.put(c.id, b.map((x, i) => (i === 20 ? x ^ 1 : x)));
  }
  await assert.rejects(
    extract({ input: at('cli', 'img.caibx'), stores: [damaged], output: at('corrupt.img') }),
    (e) => code('ECHUNKCORRUPT')(e) || code('ECHUNKMISSING')(e),
  );
  await assert.rejects(decompress(new Uint8Array([1, 2, 3])), code('EFORMAT'));

  const ro = at('ro');
  mkdirSync(ro);
  chmodSync(ro, 0o555);
  if (process.getuid?.() !== 0) await assert.rejects(make({ source: blob, output: join(ro, 'x.caibx'), store: new MemoryStore() }), code('EOUTPUT'));
});

test('codecs: compress by name as casync stores chunks; decompress any of them', async () => {
  const data = blob.subarray(0, 100_000);
  for (const c of ['zstd', 'gzip', 'xz'] as const) {
    const packed = await compress(c, data);
    assert.deepEqual(Buffer.from(await decompress(packed)), data, c);
    assert.deepEqual(Buffer.from(await decompress(packed, data.length)), data, c);
    await assert.rejects(decompress(packed, data.length - 1), code('EFORMAT'));
  }
  // A chunk the command line stored decompresses to bytes whose digest is its id.
  const [name] = storeChunks(cliStore);
  const id = name.replace('.cacnk', '');
  assert.equal(sha512_256(await decompress(readFileSync(join(cliStore, id.slice(0, 4), name)))), id);
});
