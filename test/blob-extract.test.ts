// Extraction behaviour: seeds, the existing output as seed, stdout, sparse
// output, and what happens to the target when extraction fails or is killed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseIndex } from '../src/format/index-file.ts';
import { toHex, chunkPathBase } from '../src/chunk/chunk-id.ts';
import { extract } from '../src/index.ts';
import { WASYNC, casync, haveCasync, ok, rand, requires, storeChunks, tempDir, wasync } from './helpers.ts';
import { mounted, sharedBytes } from './linux-fixtures.ts';

const dir = tempDir();
const p = (name: string) => join(dir, name);

/** v1: 8 MiB; v2: v1 with three regions rewritten and 5000 bytes inserted. */
const v1 = rand('v1', 8 << 20);
const v2 = Buffer.concat([
  v1.subarray(0, 1_000_000),
  rand('edit-a', 20_000),
  v1.subarray(1_020_000, 4_000_000),
  rand('insert', 5000),
  v1.subarray(4_000_000, 6_500_000),
  rand('edit-b', 70_000),
  v1.subarray(6_570_000),
]);
writeFileSync(p('v1.img'), v1);
writeFileSync(p('v2.img'), v2);
ok(wasync(['make', `--store=${p('s.castr')}`, p('v1.caibx'), p('v1.img')]));
ok(wasync(['make', `--store=${p('s.castr')}`, p('v2.caibx'), p('v2.img')]));
const ids = (index: string) => parseIndex(readFileSync(index), index).entries.map((e) => toHex(e.id));
const v1Ids = new Set(ids(p('v1.caibx')));
const v2Ids = ids(p('v2.caibx'));
const lacking = v2Ids.filter((id) => !v1Ids.has(id));

const storeRequests = (stderr: string) => Number(/fulfilled from local store: (\d+)/.exec(stderr)?.[1]);
const seedRequests = (stderr: string) => Number(/fulfilled from local seed: (\d+)/.exec(stderr)?.[1]);

test('a seed supplies every chunk it has; only the rest is read from the store', () => {
  assert.ok(lacking.length > 0 && lacking.length < v2Ids.length / 4, `${lacking.length} of ${v2Ids.length}`);
  const r = ok(wasync(['extract', '-v', `--store=${p('s.castr')}`, `--seed=${p('v1.img')}`, p('v2.caibx'), p('out1.img')]));
  assert.ok(readFileSync(p('out1.img')).equals(v2));
  assert.equal(storeRequests(r.stderr), lacking.length);
  assert.equal(seedRequests(r.stderr), v2Ids.length - lacking.length);

  // The same with every chunk the seed has removed from a copy of the store.
  const thin = p('thin.castr');
  ok(wasync(['make', `--store=${thin}`, p('v2-thin.caibx'), p('v2.img')]));
  for (const id of v1Ids) rmSync(join(thin, `${chunkPathBase(id)}.cacnk`), { force: true });
  assert.equal(storeChunks(thin).length, new Set(lacking).size);
  ok(wasync(['extract', `--store=${thin}`, `--seed=${p('v1.img')}`, p('v2-thin.caibx'), p('out2.img')]));
  assert.ok(readFileSync(p('out2.img')).equals(v2));
});

test('the existing output is a seed unless --seed-output=no', () => {
  writeFileSync(p('update.img'), v1);
  const r = ok(wasync(['extract', '-v', `--store=${p('s.castr')}`, p('v2.caibx'), p('update.img')]));
  assert.ok(readFileSync(p('update.img')).equals(v2));
  assert.equal(storeRequests(r.stderr), lacking.length);

  writeFileSync(p('update.img'), v1);
  const r2 = ok(wasync(['extract', '-v', '--seed-output=no', `--store=${p('s.castr')}`, p('v2.caibx'), p('update.img')]));
  assert.ok(readFileSync(p('update.img')).equals(v2));
  assert.equal(storeRequests(r2.stderr), v2Ids.length);
});

test('extract to standard output', () => {
  const r = wasync(['extract', `--store=${p('s.castr')}`, p('v2.caibx'), '-']);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(r.out.equals(v2));
});

test('zero chunks become holes in a new output file', () => {
  const img = Buffer.concat([rand('a', 100_000), Buffer.alloc(16 << 20), rand('b', 100_000)]);
  writeFileSync(p('sparse.img'), img);
  ok(wasync(['make', `--store=${p('s.castr')}`, p('sparse.caibx'), p('sparse.img')]));
  const r = ok(wasync(['extract', '-v', `--store=${p('s.castr')}`, p('sparse.caibx'), p('sparse.out')]));
  assert.ok(readFileSync(p('sparse.out')).equals(img));
  const st = statSync(p('sparse.out'));
  assert.ok(st.blocks * 512 < 4 << 20, `${st.blocks * 512} bytes allocated`);
  assert.match(r.stderr, /Zero bytes written as sparse files: 1[0-9]\.\dM/);
});

test('a failed extract leaves the existing target untouched and no temporary file', () => {
  writeFileSync(p('keep.img'), 'precious');
  const broken = p('broken.castr');
  ok(wasync(['make', `--store=${broken}`, p('broken.caibx'), p('v2.img')]));
  const victim = storeChunks(broken)[5];
  rmSync(join(broken, victim.slice(0, 4), victim));
  const r = wasync(['extract', '--seed-output=no', `--store=${broken}`, p('broken.caibx'), p('keep.img')]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, new RegExp(`chunk ${victim.replace('.cacnk', '')} is missing: not found in ${broken}`));
  assert.equal(readFileSync(p('keep.img'), 'utf8'), 'precious');
  assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('.#')), []);
  const r2 = wasync(['extract', `--store=${broken}`, p('broken.caibx'), p('new.img')]);
  assert.equal(r2.status, 1);
  assert.ok(!existsSync(p('new.img')));
});

test('a killed extract leaves no partial file under the final name', async () => {
  writeFileSync(p('killed.img'), 'old contents');
  const index = readFileSync(p('v2.caibx'));
  // Feed half of the index through a pipe and hold it open: the extraction is
  // mid-way, with chunks written to its temporary file, when it is killed.
  const child = spawn(process.execPath, [WASYNC, 'extract', '--seed-output=no', `--store=${p('s.castr')}`, '-', p('killed.img')], {
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  child.stdin.write(index.subarray(0, 64 + 40 * 60));
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(readdirSync(dir).filter((f) => f.startsWith('.#killed.img')).length, 1, 'temporary file in use');
  child.kill('SIGTERM');
  const code = await new Promise((r) => child.on('exit', (c, s) => r(c ?? s)));
  assert.equal(code, 143);
  assert.equal(readFileSync(p('killed.img'), 'utf8'), 'old contents');
  assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('.#')), []);
});

test('a corrupt chunk is reported with its store; a good copy elsewhere is used', () => {
  const bad = p('bad.castr');
  const good = p('good.castr');
  ok(wasync(['make', `--store=${bad}`, p('bad.caibx'), p('v1.img')]));
  ok(wasync(['make', `--store=${good}`, p('good.caibx'), p('v1.img')]));
  const victim = storeChunks(bad)[3];
  const path = join(bad, victim.slice(0, 4), victim);
  rmSync(path);
  writeFileSync(path, readFileSync(join(good, storeChunks(good)[4].slice(0, 4), storeChunks(good)[4])));
  const id = victim.replace('.cacnk', '');
  const r = wasync(['extract', '--seed-output=no', `--store=${bad}`, p('bad.caibx'), p('bad.out')]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, new RegExp(`chunk ${id} in ${path} is corrupt: (its sha512-256 digest does not match its id|holds \\d+ bytes, the index says \\d+)`));
  const r2 = ok(wasync(['extract', `--store=${bad}`, `--extra-store=${good}`, p('bad.caibx'), p('bad.out')]));
  assert.match(r2.stderr, new RegExp(`warning: chunk ${id} in ${path} is corrupt: .*; used the copy in ${good}`));
  assert.ok(readFileSync(p('bad.out')).equals(v1));
  writeFileSync(path, Buffer.from('not a chunk at all'), { mode: 0o644 });
  const r3 = wasync(['extract', `--store=${bad}`, p('bad.caibx'), p('bad.out2')]);
  assert.match(r3.stderr, /is corrupt: not in a known compression format/);
});

test('extracting to a symlink replaces the file it points to, keeping its mode', () => {
  writeFileSync(p('real.img'), 'old', { mode: 0o640 });
  symlinkSync('real.img', p('link.img'));
  ok(wasync(['extract', `--store=${p('s.castr')}`, p('v1.caibx'), p('link.img')]));
  assert.ok(lstatSync(p('link.img')).isSymbolicLink());
  assert.ok(readFileSync(p('real.img')).equals(v1));
  assert.equal(statSync(p('real.img')).mode & 0o777, 0o640);
});

const reflinkLine = (stderr: string) => /^Bytes cloned through reflinks: .*$/m.exec(stderr)?.[0];

test('--reflink clones a blob seed\'s blocks on btrfs and XFS as casync does; elsewhere it copies', async (t) => {
  if (!requires(t, haveCasync, 'casync')) return;
  // Over three 4 MiB batches (runs cross jobs), an unaligned end (the last block is cloned
  // to the end of both files), an aligned shift (8192 inserted) and a stretch shifted by
  // 5000 bytes, which neither tool can clone.
  const seed = rand('reflink-seed', (12 << 20) + 1234);
  const img = Buffer.concat([
    seed.subarray(0, 3 << 20),
    rand('aligned-insert', 8192),
    seed.subarray(3 << 20, 6 << 20),
    rand('unaligned-insert', 5000),
    seed.subarray(6 << 20, 8 << 20),
    seed.subarray((8 << 20) + 5000),
  ]);
  writeFileSync(p('rl-seed.img'), seed);
  writeFileSync(p('rl.img'), img);
  const s = p('rl.castr');
  ok(casync(['make', `--store=${s}`, p('rl.caibx'), p('rl.img')]));
  for (const kind of ['btrfs', 'xfs'] as const) {
    const mnt = mounted(kind);
    if (!requires(t, mnt !== null, `root, mkfs.${kind} and loop mounts (reflinks)`)) return;
    const at = (n: string) => join(mnt!, `blob-${process.pid}-${n}`);
    copyFileSync(p('rl-seed.img'), at('seed.img'));
    const w = ok(wasync(['extract', '-v', `--store=${s}`, `--seed=${at('seed.img')}`, p('rl.caibx'), at('w.img')]));
    assert.ok(readFileSync(at('w.img')).equals(img), kind);
    const c = ok(casync(['extract', '-v', `--store=${s}`, `--seed=${at('seed.img')}`, p('rl.caibx'), at('c.img')]));
    assert.match(reflinkLine(c.stderr) ?? '', /: [1-9]/, `${kind}: ${c.stderr}`);
    assert.equal(reflinkLine(w.stderr), reflinkLine(c.stderr), kind);
    const shared = sharedBytes(at('w.img'));
    assert.equal(shared, sharedBytes(at('c.img')), `${kind}: the same blocks shared as casync's`);
    // The exact count: the shared blocks, the last one only partly (1234 bytes).
    const r = await extract({ input: p('rl.caibx'), store: s, seeds: [at('seed.img')], output: at('api.img') });
    assert.equal(r.clonedBytes, shared - 4096 + 1234, kind);
    assert.equal(sharedBytes(at('api.img')), shared);
    // An update in place clones from the old file (the existing output is a seed; casync
    // fails there with ESTALE).  The old file goes, so FIEMAP has nothing to show shared.
    copyFileSync(p('rl-seed.img'), at('update.img'));
    const u = ok(wasync(['extract', '-v', `--store=${s}`, p('rl.caibx'), at('update.img')]));
    assert.ok(readFileSync(at('update.img')).equals(img));
    assert.equal(reflinkLine(u.stderr), reflinkLine(w.stderr), `${kind}: update in place`);
    // --reflink=no: written, and no count (casync prints none either).
    const wNo = ok(wasync(['extract', '-v', '--reflink=no', `--store=${s}`, `--seed=${at('seed.img')}`, p('rl.caibx'), at('w-no.img')]));
    const cNo = ok(casync(['extract', '-v', '--reflink=no', `--store=${s}`, `--seed=${at('seed.img')}`, p('rl.caibx'), at('c-no.img')]));
    assert.equal(reflinkLine(wNo.stderr), undefined);
    assert.equal(reflinkLine(cNo.stderr), undefined);
    assert.equal(sharedBytes(at('w-no.img')), 0);
    // A seed on another file system: copied, silently, and counted as 0.
    const x = ok(wasync(['extract', '-v', `--store=${s}`, `--seed=${p('rl-seed.img')}`, p('rl.caibx'), at('x.img')]));
    assert.ok(readFileSync(at('x.img')).equals(img));
    assert.equal(reflinkLine(x.stderr), 'Bytes cloned through reflinks: 0B');
    assert.doesNotMatch(x.stderr, /warn|error/i);
    for (const n of ['seed.img', 'w.img', 'c.img', 'api.img', 'update.img', 'w-no.img', 'c-no.img', 'x.img']) rmSync(at(n));
  }
  // ext4 cannot: the same extraction copies and says 0, as casync does.
  const ext4 = mounted('ext4');
  if (!requires(t, ext4 !== null, 'root, mkfs.ext4 and loop mounts')) return;
  copyFileSync(p('rl-seed.img'), join(ext4!, 'seed.img'));
  const w = ok(wasync(['extract', '-v', `--store=${s}`, `--seed=${join(ext4!, 'seed.img')}`, p('rl.caibx'), join(ext4!, 'w.img')]));
  const c = ok(casync(['extract', '-v', `--store=${s}`, `--seed=${join(ext4!, 'seed.img')}`, p('rl.caibx'), join(ext4!, 'c.img')]));
  assert.ok(readFileSync(join(ext4!, 'w.img')).equals(img));
  assert.equal(reflinkLine(w.stderr), 'Bytes cloned through reflinks: 0B');
  assert.equal(reflinkLine(w.stderr), reflinkLine(c.stderr));
});
