// make --cache / -c (tree/cached-make.ts): after every kind of change to a tree,
// the index made with the encoder cache is the one made without it (and the one
// casync makes without one), byte for byte, and every chunk it names is in the
// store; the cache is actually used (hits), a corrupt, foreign or stale cache is
// ignored with a warning, casync's refusals, and -c's .cacac is never archived.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { casync, haveCasync, ok, rand, requires, storeChunks, tempDir, wasync } from './helpers.ts';
import { parseIndex } from '../src/format/index-file.ts';
import { toHex } from '../src/chunk/chunk-id.ts';
import { CachedStream } from '../src/platform/node/tree/cached-stream.ts';
import { CacheWriter, HEADER, type CachedFile } from '../src/platform/node/tree/encoder-cache-file.ts';
import { LayoutWriter } from '../src/platform/node/tree/stream-layout.ts';

const SIZES = '--chunk-size=4K:16K:64K';
/** what cached-make.ts does not remember (files changed this recently) */
const RACY_MS = 2100;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function text(seed: number, n: number): Buffer {
  const words = ['alpha', 'beta', 'gamma', 'delta', 'casync', 'chunk', 'store', 'index', 'tree', '\n'];
  let s = '';
  let x = seed;
  while (s.length < n) {
    x = (x * 1103515245 + 12345) >>> 0;
    s += words[x % words.length] + ' ';
  }
  return Buffer.from(s.slice(0, n));
}

/** A few MiB: large random and text files, medium and tiny files, empty files, a symlink, nested directories. */
function buildTree(root: string) {
  for (const d of ['a', 'b', 'b/deep', 'c']) mkdirSync(join(root, d), { recursive: true });
  writeFileSync(join(root, 'a', 'big.bin'), rand('big', 900_000));
  writeFileSync(join(root, 'a', 'text.txt'), text(1, 400_000));
  for (let i = 0; i < 60; i++) writeFileSync(join(root, 'b', `m${String(i).padStart(3, '0')}`), text(i + 10, 500 + i * 331));
  for (let i = 0; i < 200; i++) writeFileSync(join(root, 'b', 'deep', `t${String(i).padStart(3, '0')}`), `tiny ${i}\n`.repeat(i % 9));
  writeFileSync(join(root, 'c', 'empty'), '');
  writeFileSync(join(root, 'c', 'edge95'), rand('edge', 95));
  writeFileSync(join(root, 'c', 'edge129'), rand('edge', 129));
  writeFileSync(join(root, 'c', 'r2.bin'), rand('r2', 300_000));
  symlinkSync('../a/big.bin', join(root, 'c', 'link'));
}

interface Made {
  /** the index made without the cache */
  plain: string;
  hits: number;
  misses: number;
  invalidated: number;
  stderr: string;
}

class Fixture {
  readonly tree: string;
  readonly cache: string;
  readonly store: string;
  private n = 0;

  constructor(readonly dir: string) {
    this.tree = join(dir, 'tree');
    this.cache = join(dir, 'cache');
    this.store = join(dir, 'cached.castr');
    mkdirSync(this.tree);
    buildTree(this.tree);
  }

  /** A make with the cache and one without; asserts they agree, returns the cache's figures. */
  check(what: string, extra: string[] = []): Made {
    const n = this.n++;
    const cached = join(this.dir, `cached${n}.caidx`);
    const plain = join(this.dir, `plain${n}.caidx`);
    const plainStore = join(this.dir, `plain${n}.castr`);
    const r = ok(wasync(['-v', 'make', SIZES, ...extra, `--cache=${this.cache}`, `--store=${this.store}`, cached, this.tree]), `cached make (${what})`);
    assert.equal(r.stdout, '', 'no archive digest is printed with a cache, as casync');
    ok(wasync(['make', SIZES, ...extra, `--store=${plainStore}`, plain, this.tree]), `uncached make (${what})`);
    const a = readFileSync(cached);
    const b = readFileSync(plain);
    assert.ok(a.equals(b), `${what}: the index made with the cache differs from the one made without`);
    const have = new Set(storeChunks(this.store));
    for (const e of parseIndex(b, plain).entries) assert.ok(have.has(`${toHex(e.id)}.cacnk`), `${what}: chunk ${toHex(e.id)} missing from the store`);
    rmSync(plainStore, { recursive: true, force: true });
    const m = /Cache hits: (\d+), misses: (\d+), invalidated: (\d+), added: (\d+)/.exec(r.stderr);
    assert.ok(m, `-v prints the cache figures: ${r.stderr}`);
    return { plain, hits: Number(m[1]), misses: Number(m[2]), invalidated: Number(m[3]), stderr: r.stderr };
  }

  /** casync's uncached make of the tree gives the same bytes. */
  againstCasync(what: string, index: string) {
    const c = join(this.dir, `casync${this.n++}.caidx`);
    ok(casync(['make', SIZES, `--store=${join(this.dir, 'casync.castr')}`, c, this.tree]), 'casync make');
    assert.ok(readFileSync(c).equals(readFileSync(index)), `${what}: casync's uncached index differs`);
  }
}

test('make --cache: the same index as without it after every kind of change', async (t) => {
  if (!requires(t, haveCasync, 'the casync binary (apt-get install casync)')) return;
  const f = new Fixture(tempDir());
  await sleep(RACY_MS);
  const first = f.check('first make (empty cache)');
  assert.equal(first.hits, 0);
  f.againstCasync('first make', first.plain);
  const again = f.check('unchanged tree');
  assert.equal(again.misses, 0, 'an unchanged tree is all cache hits');
  assert.match(again.stderr, /directories unchanged: [1-9]/, 'unchanged directories are taken whole');
  assert.ok(again.hits > 50);

  const steps: [string, () => void, (m: Made) => void][] = [
    [
      'content and mtime (the middle of a large file rewritten)',
      () => {
        const p = join(f.tree, 'a', 'big.bin');
        const b = readFileSync(p);
        rand('changed', 5000).copy(b, 400_000);
        writeFileSync(p, b);
      },
      // The rewritten file is read again whole (too recent to remember), the rest comes from the cache.
      (m) => assert.ok(m.hits > 30 && m.misses < 80, `the chunks away from the change come from the cache (${m.hits} hits, ${m.misses} misses)`),
    ],
    [
      'content, size kept and mtime set back: only ctime tells',
      () => {
        const p = join(f.tree, 'a', 'text.txt');
        const st = statSync(p);
        const b = readFileSync(p);
        b.write('CHANGED CONTENT', 200_000);
        writeFileSync(p, b);
        utimesSync(p, st.atime, st.mtime);
      },
      (m) => assert.ok(m.invalidated >= 1),
    ],
    ['only ctime (chmod and back)', () => {
      const p = join(f.tree, 'c', 'r2.bin');
      chmodSync(p, 0o600);
      chmodSync(p, 0o644);
    }, (m) => assert.ok(m.invalidated >= 1)],
    ['a rename', () => renameSync(join(f.tree, 'b', 'm030'), join(f.tree, 'b', 'm030-renamed')), () => {}],
    ['a new file at the start of a directory', () => writeFileSync(join(f.tree, 'a', '0-first'), text(99, 70_000)), (m) => assert.ok(m.hits > 0)],
    ['a deleted file', () => unlinkSync(join(f.tree, 'b', 'm010')), (m) => assert.ok(m.hits > 0)],
    ['a changed xattr', () => execFileSync('setfattr', ['-n', 'user.test', '-v', 'changed', join(f.tree, 'b', 'm040')]), (m) => assert.ok(m.invalidated >= 1)],
    ['a tiny file changed', () => writeFileSync(join(f.tree, 'c', 'edge95'), rand('edge2', 95)), () => {}],
    // Directories taken whole from the last stream must follow rules made above them.
    ['a .caexclude at the top that reaches deep', () => writeFileSync(join(f.tree, '.caexclude'), 'b/deep/t1*\n'), () => {}],
    ['the .caexclude removed', () => unlinkSync(join(f.tree, '.caexclude')), () => {}],
    ['a new directory deep down', () => {
      mkdirSync(join(f.tree, 'b', 'deep', 'new'));
      writeFileSync(join(f.tree, 'b', 'deep', 'new', 'x'), text(5, 3000));
    }, () => {}],
    ['a symlink added deep down', () => symlinkSync('elsewhere', join(f.tree, 'b', 'deep', 'lnk')), () => {}],
  ];
  for (const [what, change, expect] of steps) {
    change();
    expect(f.check(what));
    // The changed file is too recent to be remembered now; once it is older, the next make reads nothing.
  }
  await sleep(RACY_MS);
  const settled = f.check('after the changes, settled');
  assert.ok(settled.hits > 0);
  const quiet = f.check('settled again');
  assert.equal(quiet.misses, 0, 'once the changed files are old enough, nothing is read');
  f.againstCasync('after every change', quiet.plain);
});

test('make --cache: a change too recent to remember leaves the cache file as it was, the next make remembers it', async (t) => {
  if (!requires(t, haveCasync, 'the casync binary')) return;
  const f = new Fixture(tempDir());
  await sleep(RACY_MS);
  f.check('first');
  const file = join(f.cache, 'wasync-encoder-cache');
  const inode = () => statSync(file).ino;
  const before = inode();
  writeFileSync(join(f.tree, 'b', 'm007'), text(99, 4000));
  const recent = f.check('one file just changed');
  assert.ok(recent.invalidated >= 1 && recent.hits > 0);
  // Nothing new to remember (the changed file is too recent): its stale entry stays, never matched again.
  assert.equal(inode(), before, 'the cache file is not rewritten');
  await sleep(RACY_MS);
  const settled = f.check('the change settled');
  assert.ok(settled.invalidated >= 1);
  assert.notEqual(inode(), before, 'the file read again is remembered');
  assert.equal(f.check('settled again').misses, 0);
});

test('the cached stream keeps the record bytes of the segments still read, not those of the whole tree', () => {
  let live = 0;
  const s = new CachedStream(() => live);
  const expected = Buffer.alloc(4 << 20);
  for (let i = 0; i < 2000; i++) {
    const b = rand(`records ${i}`, 1000 + (i % 7) * 100);
    b.copy(expected, s.offset);
    s.literal(b);
    if (i % 10 === 9) s.file({ path: Buffer.from(`f${i}`), identity: new Uint8Array(0), size: 500, keep: true, head: null, tail: null, candidates: null, batch: null });
    live = Math.max(0, s.segSrc.length - 20); // the chunks in flight read the last 20 segments
  }
  assert.ok(s.offset > 2.5 * (1 << 20));
  assert.equal(s.arena.length, 1 << 20, 'the arena was reused, not grown');
  for (let i = live; i < s.segSrc.length; i++) {
    if (s.segSrc[i] < 0) continue;
    const got = s.arena.subarray(s.segSrc[i], s.segSrc[i] + s.segLen[i]);
    assert.ok(got.equals(expected.subarray(s.segStart[i], s.segStart[i] + s.segLen[i])), `segment ${i} holds its own bytes`);
  }
  // The files of the segments read are let go; those still to be read are kept.
  s.file({ path: Buffer.from('last'), identity: new Uint8Array(0), size: 500, keep: true, head: null, tail: null, candidates: null, batch: null });
  for (let i = 0; i < s.segSrc.length; i++) {
    if (s.segSrc[i] >= 0) continue;
    const f = s.files[-s.segSrc[i] - 1];
    if (i < live) assert.equal(f.path.length, 0, `the file of segment ${i} is let go`);
    else assert.ok(f.path.length > 0, `the file of segment ${i} is kept`);
  }
});

test('the cache writer keeps walk order: runs of the old file and new entries, complete or still scanned', () => {
  const old = Buffer.from('AAAA' + 'CCCC' + 'EEEE');
  const entry = (name: string): CachedFile => ({
    path: Buffer.from(name), identity: new Uint8Array(40), size: 0, flags: 0n, projid: 0, xattrs: [], content: null, head: null, tail: null, candidates: null,
  });
  const w = new CacheWriter();
  w.copy(old, 0, 4);
  const b = entry('new-b');
  w.add(b);
  b.content = new Uint8Array(0); // a tiny file: complete right after it is added
  w.copy(old, 4, 8); // adjacent to the first run in the old file, but after b
  const d = entry('new-d'); // a larger file whose scan comes back later
  d.size = 200;
  w.add(d);
  w.copy(old, 8, 12);
  Object.assign(d, { head: new Uint8Array(47), tail: new Uint8Array(47), candidates: new Float64Array([100]) });
  const settings = { flags: 0n, sizes: { min: 16, avg: 64, max: 256 }, digest: 'sha512-256' as const, rootDev: 0n, rootIno: 0n };
  const file = Buffer.concat(w.finish(settings, new Map(), new LayoutWriter()));
  const at = (needle: string) => file.indexOf(needle, HEADER);
  assert.ok(at('AAAA') < at('new-b') && at('new-b') < at('CCCC') && at('CCCC') < at('new-d') && at('new-d') < at('EEEE'), 'in walk order');
  assert.equal(file.readBigUInt64LE(72), 5n, 'five entries');
});

test('make --cache: a corrupt, foreign or stale cache is ignored with a warning', async (t) => {
  if (!requires(t, haveCasync, 'the casync binary')) return;
  const f = new Fixture(tempDir());
  await sleep(RACY_MS);
  f.check('first');
  const file = join(f.cache, 'wasync-encoder-cache');
  const good = readFileSync(file);

  const flipped = Buffer.from(good);
  flipped[flipped.length >> 1] ^= 0x40;
  writeFileSync(file, flipped);
  let m = f.check('corrupt cache');
  assert.match(m.stderr, /encoder cache not used \(checksum mismatch/);
  assert.equal(m.hits, 0);

  writeFileSync(file, good.subarray(0, 100));
  m = f.check('truncated cache');
  assert.match(m.stderr, /encoder cache not used/);

  // Made for another tree: the same files copied elsewhere (other inodes).
  const other = join(f.dir, 'other');
  execFileSync('cp', ['-a', f.tree, other]);
  writeFileSync(file, good);
  const r = ok(wasync(['-v', 'make', SIZES, `--cache=${f.cache}`, `--store=${f.store}`, join(f.dir, 'other.caidx'), other]));
  assert.match(r.stderr, /encoder cache not used \(made for another directory\)/);

  // Other settings: the cache of 4K:16K:64K is not used for the default sizes.
  writeFileSync(file, good);
  const d = ok(wasync(['-v', 'make', `--cache=${f.cache}`, `--store=${f.store}`, join(f.dir, 'default.caidx'), f.tree]));
  assert.match(d.stderr, /made with other feature flags, chunk sizes or digest/);
  ok(wasync(['make', `--store=${join(f.dir, 'p.castr')}`, join(f.dir, 'default-plain.caidx'), f.tree]));
  assert.ok(readFileSync(join(f.dir, 'default.caidx')).equals(readFileSync(join(f.dir, 'default-plain.caidx'))));

  // A chunk the cache names but the store lost is made again, not trusted.
  rmSync(f.cache, { recursive: true });
  const fresh = f.check('fresh cache');
  const named = parseIndex(readFileSync(fresh.plain), fresh.plain).entries;
  const victim = `${toHex(named[named.length >> 1].id)}.cacnk`;
  rmSync(join(f.store, victim.slice(0, 4), victim));
  m = f.check('a chunk missing from the store');
  assert.ok(m.misses >= 1);
  assert.ok(existsSync(join(f.store, victim.slice(0, 4), victim)), 'the lost chunk is stored again');

  // A stale entry: a file changed while its identity in the cache is kept is impossible to
  // make by hand (ctime moves), but a cache whose entry names other content must not be
  // trusted beyond its identity: an entry for another file at the same path is invalidated.
  const p = join(f.tree, 'c', 'r2.bin');
  unlinkSync(p);
  writeFileSync(p, rand('r2', 300_000));
  m = f.check('same content, new inode');
  assert.ok(m.invalidated >= 1);
});

test('make --cache and -c: casync\'s refusals and rules', async (t) => {
  if (!requires(t, haveCasync, 'the casync binary')) return;
  const dir = tempDir();
  const tree = join(dir, 'tree');
  mkdirSync(tree);
  buildTree(tree);
  const blob = join(tree, 'a', 'big.bin');
  for (const opt of [`--cache=${join(dir, 'cc')}`, '-c']) {
    const w = wasync(['make', opt, join(dir, 'x.caibx'), blob]);
    const c = casync(['make', opt, join(dir, 'y.caibx'), blob]);
    assert.equal(w.status, 1);
    assert.equal(c.status, 1);
    assert.equal(c.stderr.trim(), 'Caching only supported when archiving files trees.');
    assert.equal(w.stderr.trim(), `wasync: ${c.stderr.trim()}`);
  }
  assert.ok(!existsSync(join(dir, 'cc')), 'a refused make creates no cache');
  const e = wasync(['-c', 'extract', join(dir, 'x.caidx'), join(dir, 'out')]);
  assert.equal(e.status, 1);
  assert.match(e.stderr, /extract: Caching only supported when archiving files trees\./);

  // -c: DIR/.cacac, never archived; nothing printed (casync prints no digest with a cache).
  await sleep(RACY_MS);
  const w1 = ok(wasync(['make', SIZES, '-c', `--store=${join(dir, 'w.castr')}`, join(dir, 'auto.caidx'), tree]));
  assert.equal(w1.stdout, '');
  assert.ok(existsSync(join(tree, '.cacac', 'wasync-encoder-cache')));
  const lsattr = execFileSync('lsattr', ['-d', join(tree, '.cacac')], { encoding: 'utf8' });
  assert.match(lsattr.split(' ')[0], /d/, 'the cache directory is nodump, as casync makes it');
  const listed = ok(wasync(['list', `--store=${join(dir, 'w.castr')}`, join(dir, 'auto.caidx')])).stdout;
  assert.doesNotMatch(listed, /\.cacac/);
  ok(wasync(['make', SIZES, '-c', `--store=${join(dir, 'w.castr')}`, join(dir, 'auto2.caidx'), tree]));
  const c = ok(casync(['make', SIZES, `--store=${join(dir, 'c.castr')}`, join(dir, 'c.caidx'), tree]));
  assert.match(c.stdout, /^[0-9a-f]{64}\n$/);
  for (const x of ['auto.caidx', 'auto2.caidx']) {
    assert.ok(readFileSync(join(dir, x)).equals(readFileSync(join(dir, 'c.caidx'))), `${x}: casync's uncached index of the tree (which leaves the nodump .cacac out)`);
  }
  // Without an index file (.catar) the cache has nothing to do, but the rule on the digest holds.
  const cat = ok(wasync(['make', '-c', join(dir, 'x.catar'), tree]));
  assert.equal(cat.stdout, '');
});
