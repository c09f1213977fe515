// Signed indexes: keys and signatures in minisign's formats, checked against
// the real minisign both ways, and --trusted-key refusing a tampered, foreign,
// untrusted, unsigned or rolled-back index before a single chunk is asked for
// (the chunk requests an HTTP store saw are counted), whether the index is a
// file, a URL or on an ssh host, on every verb that opens one.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ok, rand, requires, tempDir, WASYNC, wasync, wasyncAsync, type Run } from './helpers.ts';
import { faultyServer, startServe } from './http-fixtures.ts';

const haveMinisign = spawnSync('minisign', ['-v']).status === 0;
const dir = tempDir('wasync-sign-');
const p = (name: string) => join(dir, name);
const srv = p('srv');
mkdirSync(srv);
const store = join(srv, 'default.castr');
const image = rand('sign-image', 1 << 20);
writeFileSync(p('image.img'), image);
writeFileSync(p('other.img'), rand('sign-other', 300_000));
const tree = p('tree');
mkdirSync(join(tree, 'sub'), { recursive: true });
writeFileSync(join(tree, 'a'), rand('sign-tree', 100_000));
writeFileSync(join(tree, 'sub', 'b'), 'hello\n');
ok(wasync(['make', `--store=${store}`, join(srv, 'x.caibx'), p('image.img')]));
ok(wasync(['make', `--store=${store}`, join(srv, 'o.caibx'), p('other.img')]));
ok(wasync(['make', `--store=${store}`, join(srv, 't.caidx'), tree]));
ok(wasync(['make', join(srv, 't.catar'), tree]));
ok(wasync(['keygen', `--key=${p('k.key')}`, '--without-password']));
ok(wasync(['keygen', `--key=${p('u.key')}`, '--without-password']));
for (const f of ['x.caibx', 'o.caibx', 't.caidx', 't.catar']) ok(wasync(['sign', `--key=${p('k.key')}`, '--version=5', join(srv, f)]));
const pub = p('k.pub');

function fails(r: Run, message: RegExp) {
  assert.equal(r.status, 1, `exit status; stderr: ${r.stderr}`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line: ${r.stderr}`);
  assert.match(lines[0], /^wasync: /);
  assert.match(lines[0], message);
}

test('minisign -V accepts wasync signatures, and wasync accepts minisign -S (keys with and without a password, both ways)', (t) => {
  if (!requires(t, haveMinisign, 'minisign (apt-get install minisign)')) return;
  const minisign = (args: string[], input = '') => spawnSync('minisign', args, { input, encoding: 'utf8' });
  // wasync's signature, wasync's key without password.
  const v = minisign(['-V', '-p', pub, '-m', join(srv, 'x.caibx')]);
  assert.equal(v.status, 0, v.stderr);
  assert.match(v.stdout, /Signature and comment signature verified\nTrusted comment: timestamp:\d+\tfile:x\.caibx\tsize:\d+\tsha256:[0-9a-f]{64}\tversion:5\thashed/);
  // The public key file is minisign's, byte for byte in shape: comment with the id, then the base64 line.
  const id = /minisign public key ([0-9A-F]{16})\n/.exec(readFileSync(pub, 'utf8'))![1];
  assert.match(readFileSync(pub, 'utf8'), /^untrusted comment: minisign public key [0-9A-F]{16}\nRW[A-Za-z0-9+/]{54}\n$/);
  assert.equal((statSync(p('k.key')).mode & 0o777).toString(8), '600');

  // A wasync key with a password: wasync signs with it, and so does minisign (the password on stdin).
  const a = p('pw.caibx');
  copyFileSync(join(srv, 'x.caibx'), a);
  ok(wasync(['keygen', `--key=${p('pw.key')}`], { input: Buffer.from('secret\nsecret\n') }));
  fails(wasync(['sign', `--key=${p('pw.key')}`, a], { input: Buffer.from('wrong\n') }), /pw\.key: wrong password for this key/);
  ok(wasync(['sign', `--key=${p('pw.key')}`, '--version=9', a], { input: Buffer.from('secret\n') }));
  assert.equal(minisign(['-V', '-p', p('pw.pub'), '-m', a]).status, 0, 'minisign verifies with the password-protected wasync key');
  const b = p('pwm.caibx');
  copyFileSync(join(srv, 'x.caibx'), b);
  const s = minisign(['-S', '-s', p('pw.key'), '-m', b], 'secret\n');
  assert.equal(s.status, 0, `minisign signs with wasync's protected key: ${s.stderr}`);
  const ours = ok(wasync(['verify', `--trusted-key=${p('pw.pub')}`, `--store=${store}`, b]));
  assert.match(ours.stdout, /^Signed by key [0-9A-F]{16}\.\n/m, 'a plain minisign comment has no version');

  // minisign's own keys: without password (-W), and with one; wasync signs, minisign verifies.
  assert.equal(minisign(['-G', '-W', '-p', p('m.pub'), '-s', p('m.key')]).status, 0);
  assert.equal(minisign(['-G', '-p', p('mp.pub'), '-s', p('mp.key')], 'pw2\npw2\n').status, 0);
  for (const [key, input] of [['m', ''], ['mp', 'pw2\n']]) {
    const f = p(`${key}.caibx`);
    copyFileSync(join(srv, 'x.caibx'), f);
    ok(wasync(['sign', `--key=${p(`${key}.key`)}`, f], { input: Buffer.from(input) }), `wasync signs with minisign's ${key}.key`);
    assert.equal(minisign(['-V', '-p', p(`${key}.pub`), '-m', f]).status, 0, `minisign verifies wasync's signature with ${key}.key`);
    // minisign -S (prehashed, the default) and -l (legacy) are accepted by wasync (each scrypt of a password costs seconds: once is enough).
    if (key === 'mp') continue;
    for (const legacy of [false, true]) {
      const g = p(`${key}-${legacy ? 'l' : 'h'}.caibx`);
      copyFileSync(join(srv, 'x.caibx'), g);
      assert.equal(minisign(['-S', ...(legacy ? ['-l'] : []), '-s', p(`${key}.key`), '-m', g], input).status, 0);
      const r = ok(wasync(['verify', `--trusted-key=${p(`${key}.pub`)}`, `--store=${store}`, g]), `wasync accepts minisign -S${legacy ? ' -l' : ''}`);
      assert.match(r.stdout, /^Signed by key [0-9A-F]{16}\.$/m);
    }
  }
  assert.match(ok(wasync(['verify', `--trusted-key=${pub}`, `--store=${store}`, join(srv, 'x.caibx')])).stdout, new RegExp(`^Signed by key ${id}, version 5\\.$`, 'm'));
});

test('every refusal comes before the first chunk request, and leaves nothing behind', async () => {
  const http = await faultyServer(srv);
  const chunkRequests = () => [...http.requests].filter(([path]) => path.endsWith('.cacnk')).reduce((n, [, c]) => n + c, 0);
  const at = (name: string) => `${http.url}/${name}`;
  const out = p('refused.img');
  const extract = (index: string, extra: string[] = []) => wasyncAsync(['extract', `--trusted-key=${pub}`, `--store=${http.url}/default.castr`, ...extra, index, out]);

  // The good one passes, and fetches its chunks.
  ok(await extract(at('x.caibx')));
  assert.ok(readFileSync(out).equals(image));
  assert.ok(chunkRequests() > 0);
  ok(await extract(at('x.caibx'), ['--min-version=5']), 'the same version as --min-version');

  // The refusals: each one line, exit 1, no chunk requested, no output.
  const flipped = Buffer.from(readFileSync(join(srv, 'x.caibx')));
  flipped[flipped.length - 60] ^= 1;
  writeFileSync(join(srv, 'flipped.caibx'), flipped);
  copyFileSync(join(srv, 'x.caibx.minisig'), join(srv, 'flipped.caibx.minisig'));
  // Another index's signature beside this one; and another index with its own signature renamed to this one's name.
  copyFileSync(join(srv, 'x.caibx'), join(srv, 'foreign.caibx'));
  copyFileSync(join(srv, 'o.caibx.minisig'), join(srv, 'foreign.caibx.minisig'));
  copyFileSync(join(srv, 'o.caibx'), join(srv, 'swapped.caibx'));
  copyFileSync(join(srv, 'o.caibx.minisig'), join(srv, 'swapped.caibx.minisig'));
  copyFileSync(join(srv, 'x.caibx'), join(srv, 'unsigned.caibx'));
  copyFileSync(join(srv, 'x.caibx'), join(srv, 'untrusted.caibx'));
  ok(wasync(['sign', `--key=${p('u.key')}`, join(srv, 'untrusted.caibx')]));
  const cases: [string, string[], RegExp][] = [
    ['flipped.caibx', [], /flipped\.caibx: does not match its signature .*flipped\.caibx\.minisig by key [0-9A-F]{16} \(the file was changed/],
    ['foreign.caibx', [], /foreign\.caibx: does not match its signature/],
    ['swapped.caibx', [], /swapped\.caibx: .*swapped\.caibx\.minisig is the signature of "o\.caibx", not of "swapped\.caibx"/],
    ['untrusted.caibx', [], /untrusted\.caibx: signed by key [0-9A-F]{16}, which is not trusted \(trusted: [0-9A-F]{16}\)/],
    ['unsigned.caibx', [], /unsigned\.caibx: not signed \(no .*unsigned\.caibx\.minisig\)/],
    ['x.caibx', ['--min-version=6'], /x\.caibx: signed version 5 is lower than --min-version=6; refusing/],
  ];
  const before = chunkRequests();
  for (const [name, extra, message] of cases) {
    for (const index of [at(name), join(srv, name)]) {
      rmOut(out);
      fails(await extract(index, extra), message);
      assert.equal(existsSync(out), false, `${index}: nothing written`);
    }
  }
  assert.equal(chunkRequests(), before, 'no chunk was requested by a refused extraction');
  assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('.#')), [], 'no temporary file left');

  // Every verb that opens an index refuses an unsigned one before its chunks.
  copyFileSync(join(srv, 't.caidx'), join(srv, 'tu.caidx'));
  const s = `--store=${http.url}/default.castr`;
  const k = `--trusted-key=${pub}`;
  for (const args of [
    ['verify', k, s, at('unsigned.caibx')],
    ['digest', k, s, at('unsigned.caibx')],
    ['list', k, s, at('tu.caidx')],
    ['mtree', k, s, at('tu.caidx')],
    ['stat', k, s, at('tu.caidx')],
    ['digest', k, s, at('tu.caidx')],
    ['extract', k, s, at('tu.caidx'), p('refused-tree')],
    ['mkdev', k, s, `--listen=unix:${p('nbd.sock')}`, at('unsigned.caibx')],
    ['mount', k, s, at('tu.caidx'), dir],
  ]) {
    fails(await wasyncAsync(args), /not signed \(no .*\.minisig\)/);
  }
  assert.equal(chunkRequests(), before, 'no verb requested a chunk of an unsigned index');
  assert.equal(existsSync(p('refused-tree')), false);
  // And the signed ones pass.
  assert.match(ok(await wasyncAsync(['list', k, s, at('t.caidx')])).stdout, /sub\/b/);
  assert.equal(ok(await wasyncAsync(['digest', k, s, at('x.caibx')])).stdout, ok(wasync(['digest', p('image.img')])).stdout);
  await http.close();
});

function rmOut(out: string) {
  spawnSync('rm', ['-rf', out]);
}

test('an archive (.catar) is checked whole before it is used; over HTTP too', async () => {
  const http = await startServe(srv);
  const k = `--trusted-key=${pub}`;
  for (const loc of [join(srv, 't.catar'), `${http.url}/t.catar`]) {
    assert.match(ok(await wasyncAsync(['list', k, loc])).stdout, /sub\/b/);
  }
  const bad = Buffer.from(readFileSync(join(srv, 't.catar')));
  bad[bad.length >> 1] ^= 1;
  writeFileSync(join(srv, 'bad.catar'), bad);
  copyFileSync(join(srv, 't.catar.minisig'), join(srv, 'bad.catar.minisig'));
  for (const verb of ['list', 'mtree', 'digest']) fails(await wasyncAsync([verb, k, join(srv, 'bad.catar')]), /bad\.catar: does not match its signature/);
  fails(await wasyncAsync(['extract', k, `${http.url}/bad.catar`, p('bad-tree')]), /bad\.catar: does not match its signature/);
  assert.equal(existsSync(p('bad-tree')), false);
  fails(wasync(['list', k, '-'], { input: readFileSync(join(srv, 't.catar')) }), /standard input cannot be checked against --trusted-key/);
  await http.stop();
});

test('a signed index on an ssh host: the .minisig comes over ssh too', async () => {
  const http = await faultyServer(srv);
  const fakeSsh = join(dir, 'fake-ssh');
  writeFileSync(fakeSsh, '#!/bin/sh\nshift\nexec "$@"\n');
  chmodSync(fakeSsh, 0o755);
  const remote = join(dir, 'wasync-remote');
  writeFileSync(remote, `#!/bin/sh\nexec '${process.execPath}' '${WASYNC}' "$@"\n`);
  chmodSync(remote, 0o755);
  const env = { CASYNC_SSH_PATH: fakeSsh, CASYNC_REMOTE_PATH: remote };
  const chunks = () => [...http.requests].filter(([path]) => path.endsWith('.cacnk')).reduce((n, [, c]) => n + c, 0);
  const out = p('ssh.img');
  ok(await wasyncAsync(['extract', `--trusted-key=${pub}`, `--store=${http.url}/default.castr`, `localhost:${join(srv, 'x.caibx')}`, out], { env }));
  assert.ok(readFileSync(out).equals(image));
  const before = chunks();
  fails(await wasyncAsync(['extract', `--trusted-key=${pub}`, `--store=${http.url}/default.castr`, `localhost:${join(srv, 'unsigned.caibx')}`, p('ssh2.img')], { env }), /unsigned\.caibx: not signed/);
  fails(await wasyncAsync(['extract', `--trusted-key=${pub}`, `--store=${http.url}/default.castr`, `localhost:${join(srv, 'flipped.caibx')}`, p('ssh2.img')], { env }), /flipped\.caibx: does not match its signature/);
  assert.equal(chunks(), before);
  assert.equal(existsSync(p('ssh2.img')), false);
  await http.close();
});

test('keys given inline and through $WASYNC_TRUSTED_KEYS; options checked', () => {
  const line = readFileSync(pub, 'utf8').split('\n')[1];
  const index = join(srv, 'x.caibx');
  ok(wasync(['verify', `--trusted-key=${line}`, `--store=${store}`, index]));
  ok(wasync(['verify', `--store=${store}`, index], { env: { WASYNC_TRUSTED_KEYS: `${p('u.pub')},${line}` } }));
  fails(wasync(['verify', `--store=${store}`, index], { env: { WASYNC_TRUSTED_KEYS: p('u.pub') } }), /which is not trusted/);
  fails(wasync(['verify', '--min-version=3', `--store=${store}`, index]), /--min-version needs --trusted-key/);
  fails(wasync(['verify', '--trusted-key=/nonexistent.pub', `--store=${store}`, index]), /\/nonexistent\.pub: cannot read: ENOENT/);
  fails(wasync(['verify', `--trusted-key=${index}`, `--store=${store}`, index]), /x\.caibx: not a minisign public key/);
  writeFileSync(p('garbage.caibx.minisig'), 'untrusted comment: x\nnot base64\n');
  copyFileSync(index, p('garbage.caibx'));
  fails(wasync(['verify', `--trusted-key=${pub}`, `--store=${store}`, p('garbage.caibx')]), /garbage\.caibx\.minisig: not a minisign signature \(the second line/);
  fails(wasync(['sign', `--key=${p('k.key')}`, p('image.img')]), /only indexes \(\.caibx, \.caidx\) and archives \(\.catar\) are signed/);
  fails(wasync(['sign', `--key=${p('k.key')}`, '--version=x', index]), /--version=x: expected a whole number/);
  fails(wasync(['keygen', `--key=${p('k.key')}`, '--without-password']), /k\.key exists already/);
});
