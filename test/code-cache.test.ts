// The command line's bundles load through the code cache the build wrote
// (src/platform/node/code-cache.ts): V8 takes it on the calling thread and in a
// worker thread started as the pool starts them.  A cache silently rejected
// would cost every process and thread its compile again, with nothing failing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const cli = new URL('../dist/cli/', import.meta.url);
const loader = new URL('code-cache.js', cli).href;

test('main.cjs loads with its code cache taken, its exports there', async () => {
  const { loadBundle, cacheTaken } = await import(loader);
  const file = fileURLToPath(new URL('main.cjs', cli));
  const m = loadBundle(file);
  assert.equal(typeof m.main, 'function');
  assert.equal(typeof m.mountHelper, 'function');
  assert.equal(cacheTaken(file), true);
});

test("pool-worker.cjs's cache is taken in a worker thread", async () => {
  const file = fileURLToPath(new URL('pool-worker.cjs', cli));
  const source = `
    import { parentPort } from 'node:worker_threads';
    const { loadBundle, cacheTaken } = await import(${JSON.stringify(loader)});
    loadBundle(${JSON.stringify(file)});
    parentPort.postMessage(cacheTaken(${JSON.stringify(file)}));
    process.exit(0);`;
  const w = new Worker(source, { eval: true, resourceLimits: { maxYoungGenerationSizeMb: 6 } });
  const [taken] = await once(w, 'message');
  assert.equal(taken, true);
});
