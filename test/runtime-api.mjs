// Run by test/runtimes.test.ts under Node, Bun and Deno: the library, imported
// by the package's own name (its "exports"), makes a blob into an in-memory
// store on worker threads (store objects reached through the relay), extracts
// it back, lists and digests a tree, and prints what it got as one JSON line
// for the test to compare between runtimes.
//   runtime-api.mjs BLOB TREE

import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { MemoryStore, WasyncError, digest, extract, list, make } from 'wasync';

const [blobPath, treePath] = process.argv.slice(2);
const blob = readFileSync(blobPath);
const store = new MemoryStore();
const made = await make({ source: blob, store, workers: 2 });
const hash = createHash('sha256');
await extract({ input: made.bytes, stores: store, onData: (b) => void hash.update(b), workers: 2 });
const tree = await make({ source: treePath, what: 'archive-index', store, workers: 2 });
let missing = null;
try {
  await extract({ input: made.bytes, stores: new MemoryStore(), onData: () => {} });
} catch (e) {
  missing = e instanceof WasyncError ? e.code : String(e);
}
const result = {
  index: createHash('sha256').update(made.bytes).digest('hex'),
  digest: made.digest,
  chunks: store.chunks.size,
  extracted: hash.digest('hex'),
  treeIndex: createHash('sha256').update(tree.bytes).digest('hex'),
  treeDigest: tree.digest,
  list: await list({ input: treePath }),
  fileDigest: await digest({ input: treePath, path: 'sub/big.bin' }),
  missing,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
