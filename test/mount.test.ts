// wasync mount, end to end through the kernel: a casync-made .caidx mounted and
// compared with casync's extraction node by node; `make --with=fuse` of a
// mounted --with=fuse archive giving the same bytes; many processes reading at
// once; SIGINT and SIGTERM unmounting; a remote index and a remote archive; a
// .caibx as one file (on a directory, on a file, from a seed); a corrupt and a
// missing chunk giving EIO and one log line, never wrong bytes; a dead mount on
// the mount point cleaned before mounting.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, readFileSync, realpathSync, rmSync, unlinkSync, writeFileSync, closeSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { casync, haveCasync, isRoot, ok, rand, requires, runAsync, sha256, tempDir, wasync } from './helpers.ts';
import { startServe } from './http-fixtures.ts';
import { haveFuse, isMounted, metadataTree, snapshot, startMount } from './mount-fixtures.ts';
import { IndexParser, type IndexEntry } from '../src/format/index-file.ts';
import { chunkPathBase, CHUNK_SUFFIX, toHex } from '../src/chunk/chunk-id.ts';

const canMount = (t: Parameters<typeof requires>[0]) =>
  requires(t, isRoot, 'root (mounting FUSE file systems)') && requires(t, haveFuse, '/dev/fuse and mount(8)');

/** A fresh, canonical mount point directory. */
function mountpoint(dir: string, name = 'mnt'): string {
  const p = join(dir, name);
  mkdirSync(p);
  return realpathSync(p);
}

function chunksOf(index: string): IndexEntry[] {
  const parser = new IndexParser(index);
  const entries = parser.push(readFileSync(index));
  parser.end();
  return entries;
}

test('a casync .caidx mounted shows what casync extracts', async (t) => {
  if (!canMount(t) || !requires(t, haveCasync, 'the casync binary')) return;
  const dir = tempDir();
  const tree = join(dir, 'tree');
  mkdirSync(tree);
  metadataTree(tree, { pre1970: false });
  const store = join(dir, 'store.castr');
  ok(casync(['make', `--store=${store}`, join(dir, 't.caidx'), tree]), 'casync make');
  ok(casync(['extract', `--store=${store}`, join(dir, 't.caidx'), join(dir, 'extracted')]), 'casync extract');
  const mnt = mountpoint(dir);
  const m = await startMount([`--store=${store}`, join(dir, 't.caidx')], mnt);
  const mounted = snapshot(mnt);
  const extracted = snapshot(join(dir, 'extracted'));
  assert.deepEqual([...mounted.keys()], [...extracted.keys()], 'the same names');
  for (const [path, e] of extracted) {
    const got = mounted.get(path)!;
    // A directory's size and link count are the file system's own.
    const { size: _a, ...want } = e;
    const { size: _b, ...have } = got;
    assert.deepEqual(have, want, `node "${path}"`);
  }
  // Spot checks that the comparison saw what it should.
  assert.ok(mounted.get('random.bin')!.xattrs.some((x) => x.startsWith('system.posix_acl_access=')), 'access ACL');
  assert.ok(mounted.get('dir')!.xattrs.some((x) => x.startsWith('system.posix_acl_default=')), 'default ACL');
  assert.ok(mounted.get('setuid')!.xattrs.some((x) => x.startsWith('security.capability=')), 'file capabilities');
  assert.equal(mounted.get('small.txt')!.mtimeNs, 1_600_000_000_123_456_789n, 'nanoseconds');
  assert.match(spawnSync('getfacl', ['-n', join(mnt, 'random.bin')], { encoding: 'utf8' }).stdout, /user:1234:r-x/);
  const statfs = spawnSync('stat', ['-f', '-c', '%S %b %l', mnt], { encoding: 'utf8' }).stdout.trim().split(' ').map(Number);
  assert.equal(statfs[0], 4096);
  assert.ok(statfs[1] > 0 && statfs[2] === 255, `statfs ${statfs}`);
  const r = await m.stop('SIGINT');
  assert.equal(r.code, 0, m.stderr());
});

test('make --with=fuse of a mounted --with=fuse archive gives the same bytes', async (t) => {
  if (!canMount(t)) return;
  const dir = tempDir();
  const tree = join(dir, 'tree');
  mkdirSync(tree);
  metadataTree(tree, { acl: false, fcaps: false });
  // A chattr flag (in the fuse set) travels through FS_IOC_GETFLAGS.
  assert.equal(spawnSync('chattr', ['+A', join(tree, 'small.txt')]).status, 0, 'chattr +A');
  const a = join(dir, 'a.catar');
  const b = join(dir, 'b.catar');
  ok(wasync(['make', '--with=fuse', a, tree]), 'make from the tree');
  const mnt = mountpoint(dir);
  const m = await startMount([a], mnt);
  assert.equal(lstatSync(join(mnt, 'owned'), { bigint: true }).mtimeNs, -86_400_250_000_000n, 'a time before 1970');
  const r = await runAsync(process.execPath, [join(import.meta.dirname, '..', 'bin', 'wasync.js'), 'make', '--with=fuse', b, mnt]);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(readFileSync(a).equals(readFileSync(b)), 'byte-identical archives');
  assert.equal((await m.stop('SIGINT')).code, 0);
});

test('many processes read the same and different files at once', async (t) => {
  if (!canMount(t)) return;
  const dir = tempDir();
  const tree = join(dir, 'tree');
  mkdirSync(tree);
  const files = ['a', 'b', 'c', 'd'].map((n, i) => ({ name: n, data: rand(`parallel-${n}`, (3 + i) << 20) }));
  for (const f of files) writeFileSync(join(tree, f.name), f.data);
  ok(wasync(['make', `--store=${join(dir, 's.castr')}`, join(dir, 't.caidx'), tree]));
  const mnt = mountpoint(dir);
  const m = await startMount([`--store=${join(dir, 's.castr')}`, join(dir, 't.caidx')], mnt);
  const readers = [...files, files[0], files[0], files[1], files[3]];
  const results = await Promise.all(readers.map((f) => runAsync('sha256sum', [join(mnt, f.name)])));
  results.forEach((r, i) => {
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.split(' ')[0], sha256(readers[i].data), `reader ${i} (${readers[i].name})`);
  });
  assert.equal((await m.stop()).code, 0);
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test(`${signal} unmounts and exits 0`, async (t) => {
    if (!canMount(t)) return;
    const dir = tempDir();
    const tree = join(dir, 'tree');
    mkdirSync(tree);
    writeFileSync(join(tree, 'f'), 'x\n');
    ok(wasync(['make', join(dir, 't.catar'), tree]));
    const mnt = mountpoint(dir);
    const m = await startMount([join(dir, 't.catar')], mnt);
    assert.ok(isMounted(mnt));
    assert.equal(readFileSync(join(mnt, 'f'), 'utf8'), 'x\n');
    const r = await m.stop(signal);
    assert.deepEqual(r, { code: 0, signal: null }, m.stderr());
    assert.ok(!isMounted(mnt), 'no longer a mount point');
  });
}

test('a dead mount on the mount point is cleaned before mounting', async (t) => {
  if (!canMount(t)) return;
  const dir = tempDir();
  const tree = join(dir, 'tree');
  mkdirSync(tree);
  writeFileSync(join(tree, 'f'), 'alive\n');
  ok(wasync(['make', join(dir, 't.catar'), tree]));
  const mnt = mountpoint(dir);
  const dead = await startMount([join(dir, 't.catar')], mnt);
  assert.equal((await dead.stop('SIGKILL')).signal, 'SIGKILL');
  assert.equal(spawnSync('stat', [mnt]).status, 1, 'the mount is dead (ENOTCONN)');
  const m = await startMount([join(dir, 't.catar')], mnt);
  assert.equal(readFileSync(join(mnt, 'f'), 'utf8'), 'alive\n');
  assert.match(m.stderr(), /dead FUSE mount/);
  assert.equal((await m.stop()).code, 0);
});

test('remote: an index and its store, and an archive, over HTTP', async (t) => {
  if (!canMount(t)) return;
  const dir = tempDir();
  const served = join(dir, 'served');
  const tree = join(dir, 'tree');
  mkdirSync(served);
  mkdirSync(tree);
  writeFileSync(join(tree, 'big'), rand('remote', 2 << 20));
  mkdirSync(join(tree, 'sub'));
  writeFileSync(join(tree, 'sub', 'small'), 'remote small\n');
  ok(wasync(['make', join(served, 't.caidx'), tree]));
  ok(wasync(['make', join(served, 't.catar'), tree]));
  const srv = await startServe(served);
  for (const name of ['t.caidx', 't.catar']) {
    const mnt = mountpoint(dir, `mnt-${name}`);
    const m = await startMount([`${srv.url}/${name}`], mnt);
    assert.ok(readFileSync(join(mnt, 'big')).equals(readFileSync(join(tree, 'big'))), `${name}: big`);
    assert.equal(readFileSync(join(mnt, 'sub', 'small'), 'utf8'), 'remote small\n', `${name}: small`);
    assert.equal((await m.stop()).code, 0, m.stderr());
  }
});

test('a .caibx is one file equal to the blob (on a directory, on a file, from a seed)', async (t) => {
  if (!canMount(t)) return;
  const dir = tempDir();
  const blob = Buffer.concat([rand('blob', 3 << 20), Buffer.alloc(1 << 20), rand('blob-tail', 12345)]);
  writeFileSync(join(dir, 'image.img'), blob);
  const store = join(dir, 's.castr');
  ok(wasync(['make', `--store=${store}`, join(dir, 'image.caibx'), join(dir, 'image.img')]));
  const mnt = mountpoint(dir);
  let m = await startMount([`--store=${store}`, join(dir, 'image.caibx')], mnt);
  assert.deepEqual(spawnSync('ls', [mnt], { encoding: 'utf8' }).stdout, 'image\n');
  assert.ok(readFileSync(join(mnt, 'image')).equals(blob), 'the file is the blob');
  assert.equal((await m.stop()).code, 0);

  const onFile = join(dir, 'as-file');
  writeFileSync(onFile, '');
  m = await startMount([`--store=${store}`, join(dir, 'image.caibx')], realpathSync(onFile));
  assert.ok(readFileSync(onFile).equals(blob), 'mounted onto a file');
  assert.equal((await m.stop()).code, 0);

  // An empty store: every chunk must come from the seed.
  const empty = join(dir, 'empty.castr');
  mkdirSync(empty);
  m = await startMount([`--store=${empty}`, `--seed=${join(dir, 'image.img')}`, join(dir, 'image.caibx')], mnt);
  assert.ok(readFileSync(join(mnt, 'image')).equals(blob), 'read from the seed');
  assert.equal((await m.stop()).code, 0);
});

test('a corrupt or missing chunk gives EIO and one log line, never wrong bytes', async (t) => {
  if (!canMount(t)) return;
  const dir = tempDir();
  const blob = rand('corrupt', 2 << 20);
  writeFileSync(join(dir, 'b.img'), blob);
  const store = join(dir, 's.castr');
  ok(wasync(['make', `--store=${store}`, '--chunk-size=65536:65536:65536', join(dir, 'b.caibx'), join(dir, 'b.img')]));
  const chunks = chunksOf(join(dir, 'b.caibx'));
  const bad = chunks[10];
  const gone = chunks[20];
  const badFile = join(store, `${chunkPathBase(toHex(bad.id))}${CHUNK_SUFFIX}`);
  const packed = readFileSync(badFile);
  packed[packed.length >> 1] ^= 0x40;
  writeFileSync(badFile, packed);
  unlinkSync(join(store, `${chunkPathBase(toHex(gone.id))}${CHUNK_SUFFIX}`));
  const mnt = mountpoint(dir);
  const m = await startMount([`--store=${store}`, join(dir, 'b.caibx')], mnt);
  const file = join(mnt, 'b');
  const readAt = (offset: number, length: number) => {
    const fd = openSync(file, 'r');
    try {
      const buf = Buffer.alloc(length);
      const n = readSync(fd, buf, 0, length, offset);
      return buf.subarray(0, n);
    } finally {
      closeSync(fd);
    }
  };
  assert.ok(readAt(0, 65536).equals(blob.subarray(0, 65536)), 'a good chunk reads');
  for (const c of [bad, gone]) {
    for (let i = 0; i < 2; i++) assert.throws(() => readAt(c.offset + 100, 1000), { code: 'EIO' }, `chunk at ${c.offset}`);
  }
  const cat = await runAsync('cat', [file]);
  assert.notEqual(cat.status, 0, 'reading the whole file fails');
  assert.ok(blob.subarray(0, cat.out.length).equals(cat.out), 'what was read is the blob');
  assert.equal((await m.stop()).code, 0);
  const lines = m.stderr().trim().split('\n');
  for (const [c, what] of [[bad, 'corrupt'], [gone, 'missing']] as const) {
    const hex = toHex(c.id);
    const mine = lines.filter((l) => l.includes(hex));
    assert.equal(mine.length, 1, `one line for the ${what} chunk: ${m.stderr()}`);
    assert.match(mine[0], new RegExp(`chunk ${hex}.* ${what}`));
  }
  rmSync(join(dir, 'b.img'));
});
