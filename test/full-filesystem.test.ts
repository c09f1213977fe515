// make into a store, and extract onto a file system, that fills up half-way: a
// 20 MiB tmpfs and 80 MiB of input.  What must hold: one line naming the store and
// chunk (or the output entry), a non-zero exit, no temporary file left by any
// worker thread, and a store whose chunks are all whole (verify finds none corrupt).
// casync is run the same way beside it: it fails with "No space left on device"
// and leaves its store clean too (a tree extraction leaves a .# file behind).

import { test, after, before, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { casync, haveCasync, isRoot, ok, requires, wasync } from './helpers.ts';
import { WasyncError } from '../src/errors.ts';
import { linuxFs } from '../src/platform/node/linux/index.ts';
import type { Executor, Job } from '../src/platform/node/pool/jobs.ts';
import { InlineExecutor } from '../src/platform/node/pool/worker-pool.ts';
import { TreeStream } from '../src/platform/node/tree/tree-stream.ts';

const base = mkdtempSync(join(process.env.WASYNC_TEST_TMP ?? tmpdir(), 'wasync-full-'));
const full = join(base, 'full');
const roomy = join(base, 'roomy');
let mounted = false;

before(() => {
  mkdirSync(full);
  mkdirSync(roomy);
  if (isRoot) mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=20m', 'tmpfs', full]).status === 0;
  writeFileSync(join(roomy, 'blob'), randomBytes(80 << 20));
  mkdirSync(join(roomy, 'tree'));
  for (let i = 0; i < 80; i++) writeFileSync(join(roomy, 'tree', `f${i}`), randomBytes(1 << 20));
  ok(wasync(['make', `--store=${roomy}/s.castr`, `${roomy}/x.caibx`, `${roomy}/blob`]));
  ok(wasync(['make', `--store=${roomy}/s.castr`, `${roomy}/t.caidx`, `${roomy}/tree`]));
});

after(() => {
  if (mounted) spawnSync('umount', [full]);
  rmSync(base, { recursive: true, force: true });
});

function mountedFull(t: TestContext): boolean {
  if (!requires(t, isRoot && mounted, 'root and a tmpfs mount')) return false;
  for (const f of readdirSync(full)) rmSync(join(full, f), { recursive: true, force: true });
  return true;
}

/** Every file under dir that is not a chunk, relative to dir. */
function strays(dir: string): string[] {
  return (readdirSync(dir, { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[])
    .filter((e) => !e.isDirectory() && !e.name.endsWith('.cacnk'))
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}

const chunkLine = (store: string) =>
  new RegExp(`^wasync: ${store.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: cannot write chunk [0-9a-f]{64}: ENOSPC no space left on device\\n$`);

for (const [kind, index, source] of [
  ['blob', 'x.caibx', 'blob'],
  ['tree', 't.caidx', 'tree'],
] as const) {
  test(`make of a ${kind} into a store on a full file system: one line naming store and chunk, nothing temporary left, the store intact`, (t) => {
    if (!mountedFull(t)) return;
    const store = join(full, 'default.castr');
    const r = wasync(['make', join(full, index), join(roomy, source)]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, chunkLine(store));
    assert.deepEqual(readdirSync(full), ['default.castr'], 'no index and no temporary index beside it');
    assert.deepEqual(strays(store), [], 'nothing but whole chunk files in the store');
    // What did get stored is whole: verify finds chunks missing, none corrupt.
    const v = wasync(['verify', `--store=${store}`, join(roomy, index)]);
    assert.equal(v.status, 1);
    assert.match(v.stderr, / missing and 0 corrupt of \d+ chunks\n$/);

    if (!requires(t, haveCasync, 'casync')) return;
    for (const f of readdirSync(full)) rmSync(join(full, f), { recursive: true, force: true });
    const c = casync(['make', join(full, index), join(roomy, source)]);
    assert.notEqual(c.status, 0);
    assert.match(c.stderr, /No space left on device/);
    assert.deepEqual(strays(store), [], 'casync leaves no temporary chunk either');
  });
}

test('extract of a blob onto a full file system: one line naming the output, its temporary file removed', (t) => {
  if (!mountedFull(t)) return;
  const out = join(full, 'out.img');
  const r = wasync(['extract', `--store=${roomy}/s.castr`, `${roomy}/x.caibx`, out]);
  assert.equal(r.status, 1);
  assert.equal(r.stderr, `wasync: ${out}: cannot write: ENOSPC no space left on device\n`);
  assert.deepEqual(readdirSync(full), []);
  if (!requires(t, haveCasync, 'casync')) return;
  const c = casync(['extract', `--store=${roomy}/s.castr`, `${roomy}/x.caibx`, out]);
  assert.notEqual(c.status, 0);
  assert.match(c.stderr, /No space left on device/);
  assert.deepEqual(readdirSync(full), []);
});

test('extract of a tree onto a full file system: one line naming the entry, no temporary file left', (t) => {
  if (!mountedFull(t)) return;
  const out = join(full, 'out');
  const r = wasync(['extract', `--store=${roomy}/s.castr`, `${roomy}/t.caidx`, out]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, new RegExp(`^wasync: ${out}/f\\d+: ENOSPC no space left on device, write\\n$`));
  assert.deepEqual(strays(out).filter((f) => !/^f\d+$/.test(f)), [], 'only whole files, under their names');
});

// The race behind the test above, made certain: one file job fails while another
// is still writing.  The jobs write through the decoding thread's directory
// descriptors, so the extraction may stop only once the others have ended.
test('a failed file job stops a tree extraction only after the jobs still writing', async () => {
  const src = join(base, 'race');
  mkdirSync(join(src, 'd'), { recursive: true });
  for (let i = 0; i < 10; i++) writeFileSync(join(src, 'd', `f${i}`), randomBytes(600 << 10));
  ok(wasync(['make', join(base, 'race.catar'), src]));
  const inline = new InlineExecutor();
  let sent = 0;
  let slowDone = false;
  const executor: Executor = {
    parallelism: 1,
    async run<R>(job: Job): Promise<R> {
      const n = sent++;
      if (n === 1) throw new WasyncError('EOUTPUT', 'the second job failed');
      const r = await inline.run<R>(job);
      if (n === 0) await new Promise((r) => setTimeout(r, 300)), (slowDone = true);
      return r;
    },
    close: async () => {},
  };
  const linux = linuxFs()!;
  const out = join(base, 'race-out');
  const tree = new TreeStream('race.catar', undefined, {
    target: out, linux, replayFlags: (f) => f, deleteExtra: true, undoImmutable: false, punchHoles: true,
    reflink: false, hardlinkSeeds: null, uidShift: null, warn: () => {}, executor,
  });
  await assert.rejects(async () => {
    await tree.push(readFileSync(join(base, 'race.catar')));
    await tree.end();
  }, /the second job failed/);
  assert.ok(slowDone, 'the slow job ended before the extraction stopped');
});
