// S3 stores retry with backoff: an HTTP proxy in front of the real S3 server
// (Swift's s3api, s3-fixtures.ts) answers S3's `503 SlowDown` to the first
// requests for some chunks and resets the connection of the first request for
// others, then passes everything through.  Extraction through it must still be
// byte-exact, and each troubled chunk asked for exactly as often as it was
// refused, plus once.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ok, rand, requires, storeChunks, tempDir, wasync, wasyncAsync } from './helpers.ts';
import { S3_KEYS, newBucket, s3Endpoint, stopS3 } from './s3-fixtures.ts';

let url: string | null = null;
after(stopS3);
before(async () => {
  url = await s3Endpoint();
  if (!url && process.env.CI === 'true') throw new Error('prerequisite missing in CI: an S3 server (scripts/s3-test-server.sh, Swift)');
});

const SLOW_DOWN = `<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`;

/** A proxy to `target` that refuses the first `slow` GETs of the chunks in `slowIds` and resets the first GET of those in `resetIds`. */
async function troubledProxy(target: string, slowIds: Set<string>, resetIds: Set<string>, slow: number) {
  const seen = new Map<string, number>();
  const upstream = new URL(target);
  const server = http.createServer((req, res) => {
    const id = /([0-9a-f]{64})\.cacnk$/.exec(req.url ?? '')?.[1];
    const n = id && req.method === 'GET' ? (seen.get(id) ?? 0) + 1 : 0;
    if (id && n) seen.set(id, n);
    if (id && slowIds.has(id) && n <= slow) {
      res.writeHead(503, 'Slow Down', { 'content-type': 'application/xml' }).end(SLOW_DOWN);
      return;
    }
    if (id && resetIds.has(id) && n === 1) {
      req.socket.resetAndDestroy();
      return;
    }
    // Passed on as it came: the signature covers the Host header, which stays the proxy's.
    const up = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.statusMessage, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

test('SlowDown answers and reset connections are retried with backoff: extract is byte-exact, each retry counted', async (t) => {
  if (!requires(t, url !== null, 'an S3 server: Swift (scripts/s3-test-server.sh)')) return;
  const dir = tempDir();
  const bucket = newBucket(url!);
  const blob = join(dir, 'blob');
  writeFileSync(blob, rand('s3-retry', 2 << 20));
  ok(wasync(['make', `--store=s3+${url}/${bucket}/store`, join(dir, 'x.caibx'), blob], { env: S3_KEYS }), 'make');
  ok(wasync(['make', `--store=${join(dir, 'local.castr')}`, join(dir, 'x.caibx'), blob]), 'make local');
  const ids = storeChunks(join(dir, 'local.castr')).map((f) => f.slice(0, 64));
  assert.ok(ids.length >= 12, `${ids.length} chunks`);
  const slowIds = new Set(ids.slice(0, 4));
  const resetIds = new Set(ids.slice(4, 8));
  const proxy = await troubledProxy(url!, slowIds, resetIds, 2);
  const r = await wasyncAsync(['extract', `--store=s3+${proxy.url}/${bucket}/store`, join(dir, 'x.caibx'), join(dir, 'out')], { env: S3_KEYS });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(readFileSync(join(dir, 'out')), readFileSync(blob));
  for (const id of slowIds) assert.equal(proxy.seen.get(id), 3, `SlowDown twice, then served: ${id}`);
  for (const id of resetIds) assert.equal(proxy.seen.get(id), 2, `reset once, then served: ${id}`);
  for (const id of ids.slice(8)) assert.equal(proxy.seen.get(id), 1, `asked once: ${id}`);
});
