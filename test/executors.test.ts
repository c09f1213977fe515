// The executors of an operation (src/platform/node/pool/executors.ts): jobs run
// on the calling thread through `inline` are tracked like those on worker
// threads, so close() (called when an operation fails) returns only once every
// job handed out has settled, whether it succeeded or failed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rand, tempDir } from './helpers.ts';
import { Executors } from '../src/platform/node/pool/executors.ts';
import type { ScanFilesResult } from '../src/platform/node/pool/jobs.ts';

test('Executors.inline: close() waits for the jobs still running on the calling thread', async () => {
  const dir = tempDir();
  const file = join(dir, 'f');
  writeFileSync(file, rand('executors', 3 << 20));
  const ex = new Executors(1 << 30);
  const settled: string[] = [];
  const job = (path: string) => ({ kind: 'scan-files', paths: [path], sizes: Float64Array.of(3 << 20), d: 1000 }) as const;
  const good = ex.inline.run<ScanFilesResult>(job(file)).then(() => settled.push('good'));
  const bad = ex.inline.run<ScanFilesResult>(job(join(dir, 'missing'))).then(
    () => settled.push('bad resolved'),
    () => settled.push('bad'),
  );
  await ex.close();
  assert.deepEqual(settled.sort(), ['bad', 'good'], 'both jobs had settled when close() returned');
  await Promise.all([good, bad]);
  assert.equal(ex.inline, ex.inline, 'one tracked executor per operation');
});
