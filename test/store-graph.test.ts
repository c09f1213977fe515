// Stores composed by hand through the library: a chain of a memory store and a
// local one, a failover group whose first member is dead, and a cache in front
// of an HTTP store (`serve` itself, in-process).  make, extract on worker
// threads and verify run over each, and what the worker threads built from the
// graph's description behaves as the objects the caller composed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CacheStore,
  ChainStore,
  FailoverStore,
  MemoryStore,
  extract,
  httpStore,
  localStore,
  make,
  readIndex,
  serve,
  verify,
  type ChunkStore,
  type WriteStore,
} from '../src/index.ts';
import { rand, sha512_256, storeChunks, tempDir } from './helpers.ts';

const dir = tempDir('wasync-graph-');
const at = (...p: string[]) => join(dir, ...p);
// Large enough for several batches of jobs on each thread.
const blob = Buffer.concat([rand('graph', 12 << 20), Buffer.alloc(1 << 20), rand('graph-tail', 3 << 20)]);
writeFileSync(at('blob.img'), blob);

/** A store that is down: every request fails, as an unreachable server's would. */
const down = () => Promise.reject(new Error('connection refused'));
const dead: WriteStore = {
  name: 'the dead store',
  get: down,
  has: down,
  put: down,
  remove: down,
  list: () => ({ [Symbol.asyncIterator]: () => ({ next: down }) }),
  close: async () => {},
};

async function extracted(index: Uint8Array, stores: ChunkStore, out: string) {
  const r = await extract({ input: index, stores, output: at(out), workers: 2, seedOutput: false });
  assert.ok(readFileSync(at(out)).equals(blob), `${out}: the blob`);
  return r;
}

test('a chain of a memory store and a local one: chunks come from whichever has them', async () => {
  const disk = localStore(at('chain.castr'));
  const made = await make({ source: at('blob.img'), store: disk, workers: 2 });
  const index = made.bytes!;
  // Half of the chunks move to memory.
  const mem = new MemoryStore('memory');
  const ids = [...new Set((await readIndex(index)).chunks.map((c) => c.id))];
  for (const id of ids.filter((_, i) => i % 2 === 0)) {
    await mem.put(id, (await disk.get(id))!);
    await disk.remove(id);
  }
  assert.equal(storeChunks(at('chain.castr')).length, ids.length - mem.chunks.size);
  const r = await extracted(index, new ChainStore([mem, disk]), 'chain.img');
  // The memory store is reached through the relay, and counts as remote.
  assert.equal(r.sources.fromStore + r.sources.fromRemote, r.chunks - r.sources.zero, 'every non-zero chunk from one of the two stores');
  assert.ok(r.sources.fromStore > 0 && r.sources.fromRemote > 0, 'from both');
  const v = await verify({ index, stores: new ChainStore([mem, disk]), workers: 2 });
  assert.deepEqual({ ok: v.ok, missing: v.missing, corrupt: v.corrupt, stores: v.stores }, { ok: true, missing: [], corrupt: [], stores: `memory, ${at('chain.castr')}` });
  // Without the memory store, its chunks are reported missing.
  const partial = await verify({ index, stores: disk, workers: 2 });
  assert.equal(partial.missing.length, mem.chunks.size);
});

test('a failover group with a dead member: make, extract and verify go to the live one', async () => {
  const live = new MemoryStore('live');
  const group = new FailoverStore([dead, live]);
  const made = await make({ source: at('blob.img'), store: group, workers: 2 });
  assert.equal(live.chunks.size, made.stored, 'the chunks went to the live member');
  await extracted(made.bytes!, new FailoverStore([dead, live]), 'failover.img');
  const v = await verify({ index: made.bytes!, stores: group, workers: 2 });
  assert.equal(v.ok, true);
  // With every member dead, the error names the group and says why.
  await assert.rejects(
    extract({ input: made.bytes!, stores: new FailoverStore([dead]), output: at('none.img'), workers: 2 }),
    /every store of the failover group the dead store failed: connection refused/,
  );
});

test('a cache in front of an HTTP store keeps what it fetched, and serves it when the server is gone', async () => {
  const served = at('served');
  mkdirSync(served);
  const made = await make({ source: at('blob.img'), output: join(served, 'blob.caibx'), workers: 2 });
  const stop = new AbortController();
  const url = await new Promise<string>((resolve, reject) => {
    serve({ dir: served, listen: '127.0.0.1:0', signal: stop.signal, onListening: resolve }).catch(reject);
  });
  try {
    const cache = at('cache.castr');
    const remote = httpStore(`${url}default.castr`);
    const index = readFileSync(join(served, 'blob.caibx'));
    const first = await extracted(index, new CacheStore(localStore(cache), remote), 'cached1.img');
    assert.equal(first.sources.fromRemote, first.chunks - first.sources.zero, 'the first time, every chunk over HTTP');
    // All but the all-zero chunk, which extraction never fetches.
    const zero = `${sha512_256(Buffer.alloc(256 << 10))}.cacnk`;
    assert.deepEqual(storeChunks(cache), storeChunks(join(served, 'default.castr')).filter((c) => c !== zero), 'and every chunk kept');
    assert.equal((await verify({ index: `${url}blob.caibx`, stores: new CacheStore(localStore(cache), remote) })).ok, true);
    assert.equal(made.chunks, first.chunks);
  } finally {
    stop.abort();
  }
  // The server is gone: the cache alone serves.
  const again = await extracted(readFileSync(join(served, 'blob.caibx')), new CacheStore(localStore(at('cache.castr')), httpStore('http://127.0.0.1:9/gone.castr')), 'cached2.img');
  assert.equal(again.sources.fromCache, again.chunks - again.sources.zero);
});
