// ssh remotes (casync-format.md §7.7), both roles and both directions, with a
// fake ssh that drops the host and runs the remote command here: wasync's
// client against `casync pull|push`, casync's client against `wasync
// pull|push`, and wasync against itself.  Results are compared byte for byte:
// blobs, trees, pushed indexes against locally made ones, and the chunk sets
// of the stores.  Then the failures: a remote command that is not there or
// fails, a chunk missing on the remote, an ABORT, a malformed frame, and a
// pushed chunk that does not match its id.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { casync, haveCasync, ok, rand, requires, sha256, storeChunks, tempDir, wasync, WASYNC } from './helpers.ts';
import {
  CA_PROTOCOL_INDEX,
  CA_PROTOCOL_INDEX_EOF,
  encodeChunk,
  encodeEmpty,
  encodeFile,
  encodeHello,
} from '../src/protocol/ca-protocol.ts';
import { FrameParser, type CaProtocolFrame } from '../src/protocol/frame-parser.ts';
import { ReplayCache } from '../src/platform/node/ssh/replay-cache.ts';

const dir = tempDir('wasync-ssh-');
const tmp = join(dir, 'tmp');
mkdirSync(tmp);
const sshLog = join(dir, 'ssh.log');

function script(name: string, body: string): string {
  const p = join(dir, name);
  writeFileSync(p, body);
  chmodSync(p, 0o755);
  return p;
}
const fakeSsh = script('fake-ssh', `#!/bin/sh\necho "$*" >> '${sshLog}'\nshift\nexec "$@"\n`);
const wasyncRemote = script('wasync-remote', `#!/bin/sh\nexec '${process.execPath}' '${WASYNC}' "$@"\n`);

const env = (remote: string) => ({ CASYNC_SSH_PATH: fakeSsh, CASYNC_REMOTE_PATH: remote, TMPDIR: tmp });
const casyncSide = env('casync');
const wasyncSide = env(wasyncRemote);
const sides = [
  ['casync', casyncSide],
  ['wasync', wasyncSide],
] as const;

/** The commands the fake ssh was asked to run since the last call. */
function sshCommands(): string[] {
  const lines = existsSync(sshLog) ? readFileSync(sshLog, 'utf8').split('\n').filter(Boolean) : [];
  rmSync(sshLog, { force: true });
  return lines;
}

// 7 MiB: random data, the same 2 MiB again (repeated chunk ids), zeros.
const image = Buffer.concat([rand('ssh-a', 2 << 20), rand('ssh-b', 2 << 20), rand('ssh-a', 2 << 20), Buffer.alloc(1 << 20)]);
const imagePath = join(dir, 'image.img');
writeFileSync(imagePath, image);
const tree = join(dir, 'tree');
mkdirSync(join(tree, 'sub', 'deeper'), { recursive: true });
writeFileSync(join(tree, 'big'), rand('ssh-tree', 700_000));
writeFileSync(join(tree, 'sub', 'small'), 'hello\n');
writeFileSync(join(tree, 'sub', 'deeper', 'again'), rand('ssh-tree', 700_000));
symlinkSync('big', join(tree, 'link'));

// The served side, made locally: what every transfer is compared with.
const srv = join(dir, 'srv');
mkdirSync(srv);
ok(wasync(['make', join(srv, 'image.caibx'), imagePath]), 'make image.caibx');
ok(wasync(['make', join(srv, 'tree.caidx'), tree]), 'make tree.caidx');
ok(wasync(['make', join(srv, 'tree.catar'), tree]), 'make tree.catar');
const store = join(srv, 'default.castr');
const remote = (path: string) => `localhost:${path}`;

/** A tree as comparable text: paths, types, modes, contents, link targets. */
function snapshot(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const p = join(rel, name);
      const st = lstatSync(join(root, p));
      if (st.isSymbolicLink()) out.push(`${p} -> ${readlinkSync(join(root, p))}`);
      else if (st.isDirectory()) {
        out.push(`${p}/ ${(st.mode & 0o7777).toString(8)}`);
        walk(p);
      } else out.push(`${p} ${(st.mode & 0o7777).toString(8)} ${sha256(readFileSync(join(root, p)))}`);
    }
  };
  walk('');
  return out;
}
const treeSnapshot = snapshot(tree);

function extractAll(client: 'wasync' | 'casync', sideEnv: Record<string, string>, label: string) {
  const run = client === 'wasync' ? wasync : casync;
  const out = join(dir, `${label}-image.img`);
  ok(run(['extract', remote(join(srv, 'image.caibx')), out], { env: sideEnv }), `${label} extract .caibx`);
  assert.ok(readFileSync(out).equals(image), `${label}: blob bit-exact`);
  for (const name of ['tree.caidx', 'tree.catar']) {
    const to = join(dir, `${label}-${name}`);
    ok(run(['extract', remote(join(srv, name)), to], { env: sideEnv }), `${label} extract ${name}`);
    assert.deepEqual(snapshot(to), treeSnapshot, `${label}: ${name} tree`);
  }
}

/** Pushes the image and the tree with `client` make, and compares with the local ones. */
function pushAll(client: 'wasync' | 'casync', sideEnv: Record<string, string>, label: string) {
  const run = client === 'wasync' ? wasync : casync;
  const r = join(dir, `${label}-pushed`);
  mkdirSync(r);
  const made = ok(run(['make', remote(join(r, 'image.caibx')), imagePath], { env: sideEnv }), `${label} make .caibx`);
  assert.equal(made.stdout, ok(wasync(['digest', imagePath])).stdout, `${label}: printed digest`);
  ok(run(['make', remote(join(r, 'tree.caidx')), tree], { env: sideEnv }), `${label} make .caidx`);
  ok(run(['make', remote(join(r, 'tree.catar')), tree], { env: sideEnv }), `${label} make .catar`);
  for (const name of ['image.caibx', 'tree.caidx', 'tree.catar']) {
    assert.ok(readFileSync(join(r, name)).equals(readFileSync(join(srv, name))), `${label}: pushed ${name} byte-identical`);
  }
  assert.deepEqual(storeChunks(join(r, 'default.castr')), storeChunks(store), `${label}: the remote store's chunks`);
  assert.deepEqual(readdirSync(tmp), [], `${label}: no staging left behind`);
}

test('wasync client, casync server: extract .caibx, .caidx, .catar; make pushes all three', (t) => {
  if (!requires(t, haveCasync, 'the casync binary')) return;
  sshCommands();
  extractAll('wasync', casyncSide, 'w-c');
  assert.deepEqual(sshCommands(), [
    `localhost casync pull - - ${srv}/image.caibx ${store}`,
    `localhost casync pull - - ${srv}/tree.caidx ${store}`,
    `localhost casync pull - ${srv}/tree.catar - -`,
  ]);
  pushAll('wasync', casyncSide, 'w-c');
  const r = join(dir, 'w-c-pushed');
  assert.deepEqual(sshCommands(), [
    `localhost casync push - - ${r}/image.caibx ${r}/default.castr`,
    `localhost casync push - - ${r}/tree.caidx ${r}/default.castr`,
    `localhost casync push - ${r}/tree.catar - -`,
  ]);
});

test('casync client, wasync server: casync extract from `wasync pull`, casync make into `wasync push`', (t) => {
  if (!requires(t, haveCasync, 'the casync binary')) return;
  extractAll('casync', wasyncSide, 'c-w');
  pushAll('casync', wasyncSide, 'c-w');
  // casync's own statistics line shows it took everything from the remote.
  const out = join(dir, 'c-w-store-only.img');
  ok(casync(['extract', `--store=${remote(store)}`, join(srv, 'image.caibx'), out], { env: wasyncSide }), 'casync --store=host:');
  assert.ok(readFileSync(out).equals(image));
});

test('wasync against itself: extract, make, and --store on an ssh host with a local index', () => {
  extractAll('wasync', wasyncSide, 'w-w');
  pushAll('wasync', wasyncSide, 'w-w');
  // A local index and an ssh store; small enough to run on the main thread.
  sshCommands();
  const out = join(dir, 'w-w-store.img');
  ok(wasync(['extract', `--store=${remote(store)}`, join(srv, 'image.caibx'), out], { env: wasyncSide }), 'extract --store=host:');
  assert.ok(readFileSync(out).equals(image));
  assert.deepEqual(sshCommands(), [`localhost ${wasyncRemote} pull - - - ${store}`]);
});

test('MISSING falls through to the next store; a chunk missing everywhere is named', () => {
  // A store of the image alone: srv's also holds the tree's chunks, whose ids
  // change with the files' mtimes, so its n-th chunk is not always the image's.
  const partial = join(dir, 'partial');
  mkdirSync(partial);
  ok(wasync(['make', join(partial, 'image.caibx'), imagePath]), 'make the partial store');
  const chunks = storeChunks(join(partial, 'default.castr'));
  const victim = chunks[3].replace('.cacnk', '');
  rmSync(join(partial, 'default.castr', victim.slice(0, 4), `${victim}.cacnk`));
  for (const [name, sideEnv] of sides) {
    if (name === 'casync' && !haveCasync) continue;
    const out = join(dir, `missing-${name}.img`);
    const r = wasync(['extract', remote(join(partial, 'image.caibx')), out], { env: sideEnv });
    assert.equal(r.status, 1, `${name}: ${r.stderr}`);
    assert.equal(r.stderr, `wasync: chunk ${victim} is missing: not found in localhost:${partial}/default.castr\n`, name);
    assert.ok(!existsSync(out), `${name}: no output`);
    // Another host's store has it: the MISSING answer falls through to it, like a 404.
    ok(wasync(['extract', `--extra-store=127.0.0.1:${store}`, remote(join(partial, 'image.caibx')), out], { env: sideEnv }), `${name} fallback`);
    assert.ok(readFileSync(out).equals(image), `${name}: fallback result`);
  }
  assert.deepEqual(readdirSync(tmp), []);
});

test('a remote command that is missing or fails, an ABORT, a malformed frame: one clear line', () => {
  const fail = (sideEnv: Record<string, string>, args: string[], pattern: RegExp) => {
    const r = wasync(args, { env: sideEnv });
    assert.equal(r.status, 1, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, pattern);
  };
  const idx = remote(join(srv, 'image.caibx'));
  const out = join(dir, 'fail.img');
  fail(env('/nonexistent/casync'), ['extract', idx, out], /^wasync: ssh localhost \(\/nonexistent\/casync pull - - .*\): exited with status 127: .*not found/);
  fail({ ...wasyncSide, CASYNC_SSH_PATH: '/nonexistent/ssh' }, ['extract', idx, out], /cannot run \/nonexistent\/ssh: ENOENT/);
  fail(wasyncSide, ['extract', remote(join(srv, 'nope.caibx')), out], /the remote aborted: .*nope\.caibx: cannot read: ENOENT/);
  if (haveCasync) fail(casyncSide, ['extract', remote(join(srv, 'nope.caibx')), out], /\(casync pull .*\): exited with status 1: .*No such file/);
  // Fake servers: HELLO, then an ABORT or a frame that breaks the rules.
  const hello = 'h = Buffer.alloc(24); h.writeBigUInt64LE(24n, 0); h.writeBigUInt64LE(0x3c71d0948ca5fbeen, 8); h.writeBigUInt64LE(5n, 16);';
  const server = (name: string, then: string) =>
    script(name, `#!${process.execPath}\nlet ${hello}\nprocess.stdout.write(h);\n${then}\nprocess.stdin.resume();\n`);
  const aborting = server(
    'aborting',
    "const why = Buffer.from('disk on fire\\0'); const a = Buffer.alloc(24); a.writeBigUInt64LE(BigInt(24 + why.length), 0); a.writeBigUInt64LE(0xe7d9136b7efea352n, 8); a.writeBigUInt64LE(5n, 16); process.stdout.write(Buffer.concat([a, why]));",
  );
  fail(env(aborting), ['extract', idx, out], /^wasync: ssh localhost \(.*aborting pull .*\): the remote aborted: disk on fire \(error 5\)$/m);
  const garbled = server('garbled', 'const g = Buffer.alloc(16); g.writeBigUInt64LE(8n, 0); process.stdout.write(g);');
  fail(env(garbled), ['extract', idx, out], /garbled pull .*\): frame of unknown type 0x0000000000000000: size 8 is below the minimum of 16 \(at byte 24\)/);
  assert.ok(!existsSync(out));
});

test('wasync push stores only verified chunks: a corrupt one is refused with ABORT, and no index appears', async () => {
  const target = join(dir, 'verify');
  mkdirSync(target);
  const index = readFileSync(join(srv, 'image.caibx'));
  const child = spawn(process.execPath, [WASYNC, 'push', '-', '-', join(target, 'x.caibx'), join(target, 'default.castr')], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const frames: CaProtocolFrame[] = [];
  const parser = new FrameParser('wasync push');
  let stderr = '';
  child.stderr.on('data', (b) => (stderr += b));
  let corruptSent = false;
  child.stdout.on('data', (b: Buffer) => {
    for (const f of parser.push(new Uint8Array(b))) {
      frames.push(f);
      if (f.kind === 'request' && !corruptSent) {
        corruptSent = true;
        // Right id, wrong bytes: a zstd frame of something else entirely.
        const asked = Buffer.from(f.ids.subarray(0, 32)).toString('hex');
        const name = storeChunks(store).find((n) => !n.startsWith(asked))!;
        const other = readFileSync(join(store, name.slice(0, 4), name));
        child.stdin.write(encodeChunk(f.ids.subarray(0, 32), other, true));
      }
    }
  });
  child.stdin.write(encodeHello(0xe00n));
  for (let o = 0; o < index.length; o += 4096) child.stdin.write(encodeFile(CA_PROTOCOL_INDEX, index.subarray(o, o + 4096)));
  child.stdin.write(encodeEmpty(CA_PROTOCOL_INDEX_EOF));
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(status, 1);
  assert.deepEqual(frames.map((f) => f.kind).filter((k) => k !== 'request'), ['hello', 'abort']);
  const abort = frames.find((f) => f.kind === 'abort');
  assert.match(abort?.kind === 'abort' ? abort.reason : '', /^chunk [0-9a-f]{64} in the pushed stream is corrupt: /);
  assert.match(stderr, /is corrupt/);
  assert.deepEqual(readdirSync(target).filter((n) => n !== 'default.castr'), [], 'no index, no temporary file');
  assert.deepEqual(storeChunks(join(target, 'default.castr')), []);
});

test('answers are kept for a second request: in memory, then spilled to disk, removed at the end', () => {
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = tmp;
  try {
    const cache = new ReplayCache(100);
    const answers = [1, 2, 3].map((n) => ({ data: new Uint8Array(60).fill(n), compressed: n !== 2 }));
    answers.forEach((a, i) => cache.put(`id${i}`, a));
    assert.equal(readdirSync(tmp).length, 1, 'a spill directory');
    answers.forEach((a, i) => {
      const got = cache.get(`id${i}`)!;
      assert.ok(Buffer.from(got.data).equals(a.data), `id${i} data`);
      assert.equal(got.compressed, a.compressed);
    });
    assert.equal(cache.get('other'), null);
    cache.dispose();
    assert.deepEqual(readdirSync(tmp), []);
  } finally {
    process.env.TMPDIR = saved;
  }
});
