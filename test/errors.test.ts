// Bad input gets one clear line naming the file, offset, chunk or option at
// fault, and exit status 1.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { casync, haveCasync, ok, rand, requires, tempDir, wasync } from './helpers.ts';

const dir = tempDir();
const p = (name: string) => join(dir, name);
writeFileSync(p('in.img'), rand('errors', 300_000));
ok(wasync(['make', `--store=${p('s.castr')}`, p('good.caibx'), p('in.img')]));
const good = readFileSync(p('good.caibx'));

function fails(args: string[], message: RegExp) {
  const r = wasync(args);
  assert.equal(r.status, 1, `exit status of ${args.join(' ')}`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line: ${r.stderr}`);
  assert.match(lines[0], /^wasync: /);
  assert.match(lines[0], message);
}

function badIndex(name: string, bytes: Uint8Array) {
  writeFileSync(p(name), bytes);
  return p(name);
}

test('truncated and corrupt indexes', () => {
  const f = badIndex('trunc.caibx', good.subarray(0, good.length - 10));
  fails(['extract', `--store=${p('s.castr')}`, f, p('o')], new RegExp(`${f}: index is truncated \\(no tail\\) \\(at byte ${good.length - 10}\\)`));
  const h = badIndex('short.caibx', good.subarray(0, 20));
  fails(['extract', `--store=${p('s.castr')}`, h, p('o')], /short\.caibx: index is truncated \(no header\) \(at byte 20\)/);
  const m = Buffer.from(good);
  m.writeBigUInt64LE(0x1234n, m.length - 8);
  fails(['extract', `--store=${p('s.castr')}`, badIndex('marker.caibx', m), p('o')], /marker\.caibx: bad index tail \(wrong marker\) \(at byte \d+\)/);
  const u = Buffer.from(good);
  u.writeBigUInt64LE(0xb000000000000000n | 0x0800000000000000n, 16);
  fails(['extract', `--store=${p('s.castr')}`, badIndex('flags.caibx', u), p('o')], /flags\.caibx: unknown feature flag bits 0x0800000000000000 in 0xb800000000000000 \(at byte 16\)/);
  fails(['digest', `--store=${p('s.castr')}`, badIndex('flags2.caibx', u)], /unknown feature flag bits/);
  fails(['gc', `--store=${p('s.castr')}`, p('good.caibx'), badIndex('flags3.caibx', u)], /unknown feature flag bits/);
});

test('a missing chunk names the chunk and every store tried', () => {
  ok(wasync(['make', `--store=${p('t.castr')}`, p('t.caibx'), p('in.img')]));
  mkdirSync(p('empty.castr'));
  fails(['extract', `--store=${p('empty.castr')}`, `--extra-store=${p('nowhere.castr')}`, p('t.caibx'), p('o')],
    new RegExp(`chunk [0-9a-f]{64} is missing: not found in ${p('empty.castr')}, ${p('nowhere.castr')}`));
});

test('a store that does not exist is named as such; make creates the store but not its parents, as casync', (t) => {
  const none = p('nosuch.castr');
  const chunk = `chunk [0-9a-f]{64} is missing`;
  fails(['extract', `--store=${none}`, p('good.caibx'), p('o1')], new RegExp(`${chunk}: store ${none} does not exist$`));
  fails(['extract', `--store=${none}`, `--extra-store=${p('none2.castr')}`, p('good.caibx'), p('o1')],
    new RegExp(`${chunk}: stores ${none}, ${p('none2.castr')} do not exist$`));
  mkdirSync(p('empty2.castr'));
  fails(['extract', `--store=${p('empty2.castr')}`, `--extra-store=${none}`, p('good.caibx'), p('o1')],
    new RegExp(`${chunk}: not found in ${p('empty2.castr')}, ${none}; store ${none} does not exist$`));
  // a missing store is no error when another store (or a seed) has the chunks
  ok(wasync(['extract', `--store=${none}`, `--extra-store=${p('s.castr')}`, p('good.caibx'), p('o2')]));
  ok(wasync(['extract', `--store=${none}`, `--seed=${p('in.img')}`, p('good.caibx'), p('o3')]));
  const v = wasync(['verify', `--store=${none}`, p('good.caibx')]);
  assert.equal(v.status, 1);
  assert.match(v.stderr, new RegExp(`good\\.caibx: \\d+ missing and 0 corrupt of \\d+ chunks \\(store ${none} does not exist\\)\n$`));
  fails(['gc', `--store=${none}`, p('good.caibx')], new RegExp(`^wasync: store ${none} does not exist$`));
  fails(['make', `--store=${p('no/such.castr')}`, p('deep.caibx'), p('in.img')], new RegExp(`store ${p('no/such.castr')} cannot be created: its parent directory does not exist`));
  ok(wasync(['make', `--store=${p('fresh.castr')}`, p('fresh.caibx'), p('in.img')]));
  assert.ok(existsSync(p('fresh.castr')));
  if (!requires(t, haveCasync, 'the casync binary')) return;
  // casync: the same failures, without saying why
  const c = casync(['extract', `--store=${none}`, p('good.caibx'), p('c1')]);
  assert.equal(c.status, 1);
  assert.match(c.stderr, /No such file or directory/);
  assert.match(casync(['gc', `--store=${none}`, p('good.caibx')]).stderr, /Failed to iterate over store: No such file or directory/);
  ok(casync(['extract', `--store=${none}`, `--extra-store=${p('s.castr')}`, p('good.caibx'), p('c2')]));
  assert.notEqual(casync(['make', `--store=${p('no/such2.castr')}`, p('cdeep.caibx'), p('in.img')]).status, 0);
  assert.ok(!existsSync(p('no')));
  ok(casync(['make', `--store=${p('cfresh.castr')}`, p('cfresh.caibx'), p('in.img')]));
  assert.ok(existsSync(p('cfresh.castr')));
});

test('unreadable or unsuitable input', () => {
  fails(['make', `--store=${p('s.castr')}`, p('x.caibx'), p('does-not-exist')], new RegExp(`${p('does-not-exist')}: cannot read: ENOENT no such file or directory`));
  fails(['make', `--store=${p('s.castr')}`, p('x.caibx'), dir], /is a directory, but a blob index \(\.caibx\) was asked for/);
  execFileSync('mkfifo', [p('fifo')]);
  fails(['make', `--store=${p('s.castr')}`, p('x.caibx'), p('fifo')], /fifo is neither a regular file nor a block device; refusing/);
  fails(['extract', `--store=${p('s.castr')}`, p('nothere.caibx'), p('o')], /nothere\.caibx: cannot read: ENOENT/);
});

test('bad option values', () => {
  const mk = (...opts: string[]) => ['make', ...opts, `--store=${p('s.castr')}`, p('x.caibx'), p('in.img')];
  fails(mk('--chunk-size=abc'), /--chunk-size=abc: can't parse average chunk size 'abc'/);
  fails(mk('--chunk-size=64:32:16'), /--chunk-size=64:32:16: average chunk size must not be below the minimum/);
  fails(mk('--chunk-size=8:16:32'), /below the 48-byte hash window/);
  fails(mk('--digest=md5'), /--digest=md5: not one of sha512-256, sha256/);
  fails(mk('--compression=lz4'), /--compression=lz4: not one of zstd, gzip, xz/);
  fails(mk('--what=tarball'), /--what=tarball: not one of/);
  fails(['extract', '--chunk-size=banana', `--store=${p('s.castr')}`, p('good.caibx'), p('o')], /--chunk-size=banana: can't parse average chunk size 'banana'/);
  fails(['make', `--store=${p('s.castr')}`, p('x.tar'), p('in.img')], /x\.tar: the file to create has no valid suffix/);
  fails(['extract', '--seed-output=maybe', `--store=${p('s.castr')}`, p('good.caibx'), p('o')], /--seed-output=maybe: expected yes or no/);
  fails(['frobnicate'], /unknown command 'frobnicate'/);
  fails(['make', '--no-such-option'], /unknown option '--no-such-option'/);
});

test('an unreachable store is named, after retries', async () => {
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
  // The first request an HTTP store gets is for its pack index (stores/pack-store.ts).
  fails(['extract', `--store=http://127.0.0.1:${port}/s.castr`, p('good.caibx'), p('o')], /http:\/\/127\.0\.0\.1:\d+\/s\.castr\/(pack\/index|[0-9a-f]{4}\/[0-9a-f]{64}\.cacnk): (GET: connect )?ECONNREFUSED.*\(after 6 attempts\)/);
});
