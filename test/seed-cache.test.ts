// The persistent seed index: a seed is chunked once and remembered; a changed
// seed is chunked again; an entry whose seed changed without its fingerprint
// showing it is found out (spot check, or chunks that no longer match) and
// dropped, and the output is right in every case.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { ok, rand, tempDir, wasync } from './helpers.ts';

const dir = tempDir('wasync-seedcache-');
const env = { XDG_CACHE_HOME: join(dir, 'cache') };
const entries = () => readdirSync(join(dir, 'cache', 'wasync', 'seeds')).filter((n) => !n.startsWith('.'));
const store = join(dir, 'default.castr');

// v1 and v2 share most of their chunks; v2 changes two regions.
const v1 = rand('seedcache-v1', 6 << 20);
const v2 = Buffer.from(v1);
rand('change-a', 64 << 10).copy(v2, 1 << 20);
rand('change-b', 64 << 10).copy(v2, 5 << 20);
writeFileSync(join(dir, 'v1.img'), v1);
writeFileSync(join(dir, 'v2.img'), v2);
ok(wasync(['make', join(dir, 'v2.caibx'), join(dir, 'v2.img')]));

const extract = (out: string, ...more: string[]) =>
  ok(wasync(['extract', '-v', ...more, join(dir, 'v2.caibx'), join(dir, out)], { env }), `extract ${out}`);

test('a file seed is chunked once, then taken from the seed index', () => {
  const seed = join(dir, 'seed1.img');
  writeFileSync(seed, v1);
  const first = extract('a.img', `--seed=${seed}`);
  assert.match(first.stderr, /Seed .*seed1\.img: chunked, \d+ chunks/);
  const second = extract('b.img', `--seed=${seed}`);
  assert.match(second.stderr, /Seed .*seed1\.img: \d+ chunks from the seed index/);
  assert.ok(readFileSync(join(dir, 'b.img')).equals(v2));
  const used = (s: string) => /Chunk requests fulfilled from local seed: (\d+)/.exec(s)![1];
  assert.equal(used(first.stderr), used(second.stderr), 'the same chunks come from the seed');
});

test('a seed that changed is chunked again', () => {
  const seed = join(dir, 'seed2.img');
  writeFileSync(seed, v1);
  extract('c.img', `--seed=${seed}`);
  const fd = openSync(seed, 'r+');
  writeSync(fd, Buffer.from('changed'), 0, 7, 3 << 20);
  closeSync(fd);
  const again = extract('d.img', `--seed=${seed}`);
  assert.match(again.stderr, /seed2\.img: chunked/);
  assert.ok(readFileSync(join(dir, 'd.img')).equals(v2));
});

test('the output just written is remembered: the next update does not chunk it', () => {
  const out = join(dir, 'target.img');
  writeFileSync(out, v1);
  extract('target.img');
  assert.ok(readFileSync(out).equals(v2));
  const next = extract('target.img');
  assert.match(next.stderr, /target\.img: \d+ chunks from the seed index/);
  assert.match(next.stderr, /Chunk requests fulfilled from local seed: \d+ \(100%\)/);
});

test('an entry the fingerprint cannot catch is found stale, dropped and rebuilt; the output stays right', () => {
  const seed = join(dir, 'seed3.img');
  writeFileSync(seed, v1);
  const before = new Set(entries());
  extract('e.img', `--seed=${seed}`);
  // The output e.img is remembered too: take the entry whose fingerprint names the seed's inode.
  const ino = `:${statSync(seed).ino}:`;
  const entry = entries().find((n) => !before.has(n) && header(n).fingerprint.includes(ino))!;
  // Change the seed where no spot check looks (chunk 3 of about a hundred), then make
  // the entry's fingerprint match again, as a block device's would.
  const fd = openSync(seed, 'r+');
  writeSync(fd, rand('stale', 4096), 0, 4096, 200 << 10);
  closeSync(fd);
  refingerprint(join(dir, 'cache', 'wasync', 'seeds', entry), seed);
  const stale = extract('f.img', `--seed=${seed}`);
  assert.match(stale.stderr, /seed3\.img: \d+ chunks from the seed index/);
  assert.match(stale.stderr, /no longer matched: their seed index entries were dropped/);
  assert.ok(readFileSync(join(dir, 'f.img')).equals(v2));
  assert.ok(!existsSync(join(dir, 'cache', 'wasync', 'seeds', entry)));
  assert.match(extract('g.img', `--seed=${seed}`).stderr, /seed3\.img: chunked/);
});

test('a tree seed is encoded once; a touched tree is encoded again', () => {
  const tree = join(dir, 'tree');
  mkdirSync(join(tree, 'sub'), { recursive: true });
  writeFileSync(join(tree, 'big'), rand('tree-big', 3 << 20));
  writeFileSync(join(tree, 'sub', 'small'), 'small file\n');
  ok(wasync(['make', `--store=${store}`, join(dir, 'tree.caidx'), tree]));
  const old = join(dir, 'tree-old');
  cpSync(tree, old, { recursive: true });
  writeFileSync(join(old, 'sub', 'small'), 'older\n');
  const run = (out: string) =>
    ok(wasync(['extract', '-v', `--store=${store}`, `--seed=${old}`, join(dir, 'tree.caidx'), join(dir, out)], { env }));
  assert.match(run('t1').stderr, /tree-old: encoded and chunked/);
  const warm = run('t2');
  assert.match(warm.stderr, /tree-old: \d+ chunks from the seed index/);
  assert.ok(readFileSync(join(dir, 't2', 'big')).equals(readFileSync(join(tree, 'big'))));
  writeFileSync(join(old, 'sub', 'new'), 'x');
  assert.match(run('t3').stderr, /tree-old: encoded and chunked/);
});

function header(entry: string) {
  const b = readFileSync(join(dir, 'cache', 'wasync', 'seeds', entry));
  return JSON.parse(b.subarray(16, 16 + b.readUInt32LE(12)).toString()) as { fingerprint: string };
}

/** Rewrites an entry's fingerprint to the file's current stat (what a block device would show). */
function refingerprint(entry: string, file: string) {
  const b = readFileSync(entry);
  const jsonEnd = 16 + b.readUInt32LE(12);
  const header = JSON.parse(b.subarray(16, jsonEnd).toString());
  const st = statSync(file, { bigint: true });
  header.fingerprint = `file:${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  const json = Buffer.from(JSON.stringify(header));
  const pre = Buffer.from(b.subarray(0, 16));
  pre.writeUInt32LE(json.length, 12);
  writeFileSync(entry, Buffer.concat([pre, json, b.subarray(jsonEnd)]));
}
