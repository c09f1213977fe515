// wasync mount of a .caidx whose index and chunks are in an S3 bucket (Swift's
// s3api, s3-fixtures.ts): the mounted tree has the bytes and names of the tree
// it was made of, and SIGINT unmounts it.

import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { isRoot, ok, rand, requires, tempDir, wasync } from './helpers.ts';
import { haveFuse, isMounted, startMount } from './mount-fixtures.ts';
import { S3_KEYS, newBucket, s3Endpoint, stopS3 } from './s3-fixtures.ts';

let url: string | null = null;
after(stopS3);
before(async () => {
  url = await s3Endpoint();
  if (!url && process.env.CI === 'true') throw new Error('prerequisite missing in CI: an S3 server (scripts/s3-test-server.sh, Swift)');
});

test('a .caidx in S3, its chunks in the same bucket, mounted read-only', async (t) => {
  if (!requires(t, isRoot, 'root (mounting FUSE file systems)') || !requires(t, haveFuse, '/dev/fuse and mount(8)')) return;
  if (!requires(t, url !== null, 'an S3 server: Swift (scripts/s3-test-server.sh)')) return;
  const dir = tempDir();
  const bucket = newBucket(url!);
  const tree = join(dir, 'tree');
  mkdirSync(join(tree, 'sub'), { recursive: true });
  writeFileSync(join(tree, 'big'), rand('s3-mount-big', 700_000));
  writeFileSync(join(tree, 'sub', 'small.txt'), 'hello from S3\n');
  const store = `s3+${url}/${bucket}/store`;
  const index = `s3+${url}/${bucket}/t.caidx`;
  ok(wasync(['make', `--store=${store}`, index, tree], { env: S3_KEYS }), 'make to S3');
  mkdirSync(join(dir, 'mnt'));
  const mnt = realpathSync(join(dir, 'mnt'));
  const m = await startMount([`--store=${store}`, index], mnt, S3_KEYS);
  assert.deepEqual(readdirSync(mnt).sort(), ['big', 'sub']);
  assert.deepEqual(readFileSync(join(mnt, 'big')), readFileSync(join(tree, 'big')));
  assert.equal(readFileSync(join(mnt, 'sub', 'small.txt'), 'utf8'), 'hello from S3\n');
  const r = await m.stop('SIGINT');
  assert.equal(r.code, 0, m.stderr());
  assert.ok(!isMounted(mnt));
});
