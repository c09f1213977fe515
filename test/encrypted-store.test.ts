// Encrypted chunk stores in desync's layout (encrypt.go, folbricht/desync
// ff9ccfab): round trips with both ciphers on the calling thread, on worker
// threads and over HTTP; no plain byte of the input in any file of the store;
// the key id of desync's own test key; an AES-256-GCM chunk sealed by Python's
// `cryptography` (nonce first) opening in wasync and wasync's opening there; a
// wrong key refused in one line naming the chunk and the key ids; plain and
// encrypted chunks side by side in one store.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EncryptedStore, MemoryStore, encryptedExtension, encryptionKeyId, extract, localStore, make, readIndex } from '../src/index.ts';
import { describeStore } from '../src/stores/store-graph.ts';
import { fromHex } from '../src/chunk/chunk-id.ts';
import { nobleCipher } from '../src/stores/chunk-cipher.ts';
import { nodeCiphers } from '../src/platform/node/storage/node-cipher.ts';
import { ok, rand, requires, tempDir, wasync, wasyncAsync, type Run } from './helpers.ts';
import { startServe } from './http-fixtures.ts';

// desync's encrypt_test.go keys.
const TEST_KEY = '6368616e676520746869732070617373776f726420746f206120736563726574';
const OTHER_KEY = '746f74616c6c7920646966666572656e74206b65792075736564206865726521';
const MARKER = 'WASYNC-PLAINTEXT-MARKER-1b7f';

const dir = tempDir('wasync-enc-');
const p = (...n: string[]) => join(dir, ...n);
// Random data with the marker repeated through it, compressible enough that zstd keeps runs of it.
const image = Buffer.concat(Array.from({ length: 64 }, (_, i) => Buffer.concat([rand(`enc-${i}`, 20_000), Buffer.from(`${MARKER}\n`.repeat(300))])));
writeFileSync(p('image.img'), image);

/** Every file under `root`, relative. */
function files(root: string): string[] {
  return (readdirSync(root, { recursive: true }) as string[]).filter((f) => spawnSync('test', ['-f', join(root, f)]).status === 0).sort();
}

function fails(r: Run, message: RegExp) {
  assert.equal(r.status, 1, `exit status; stderr: ${r.stderr}`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line: ${r.stderr}`);
  assert.match(lines[0], message);
}

test("the key id and extension of desync's test key are desync's", async () => {
  const key = fromHex(TEST_KEY)!;
  assert.equal(encryptionKeyId(key), '50d64035');
  // encrypt_test.go: require.Equal(t, ".aes-256-gcm-50d64035", enc1.extension)
  assert.equal(encryptedExtension('aes-256-gcm', key), '.aes-256-gcm-50d64035');
  assert.equal(encryptedExtension('xchacha20-poly1305', key), '.xchacha20-poly1305-50d64035');
  // node:crypto's AES-GCM and @noble/ciphers' open each other's chunks.
  const plain = rand('cipher', 70_000);
  for (const [a, b] of [[nobleCipher, nodeCiphers], [nodeCiphers, nobleCipher]] as const) {
    const sealed = await a('aes-256-gcm', key).seal(plain);
    assert.equal(sealed.length, 12 + plain.length + 16);
    assert.deepEqual(Buffer.from((await b('aes-256-gcm', key).open(sealed))!), plain);
    assert.equal(await b('aes-256-gcm', fromHex(OTHER_KEY)!).open(sealed), null);
  }
  const x = await nobleCipher('xchacha20-poly1305', key).seal(plain);
  assert.equal(x.length, 24 + plain.length + 16);
});

for (const cipher of ['xchacha20-poly1305', 'aes-256-gcm'] as const) {
  test(`${cipher}: make and extract round trip; no plain byte in the store; names as desync's`, () => {
    const store = p(`${cipher}.castr`);
    const enc = [`--encryption-key=${TEST_KEY}`, `--encryption=${cipher}`, `--store=${store}`];
    ok(wasync(['make', ...enc, p(`${cipher}.caibx`), p('image.img')]));
    const names = files(store);
    assert.ok(names.length > 10);
    for (const f of names) assert.match(f, new RegExp(`^([0-9a-f]{4})/\\1[0-9a-f]{60}\\.cacnk\\.${cipher}-50d64035$`));
    for (const f of names) assert.equal(readFileSync(join(store, f)).includes(MARKER), false, `${f} holds the marker`);
    assert.ok(image.includes(MARKER));
    ok(wasync(['extract', ...enc, p(`${cipher}.caibx`), p(`${cipher}.out`)]));
    assert.ok(readFileSync(p(`${cipher}.out`)).equals(image));
    // The same through the environment variable.
    ok(wasync(['extract', `--encryption=${cipher}`, `--store=${store}`, p(`${cipher}.caibx`), p(`${cipher}.env.out`)], { env: { WASYNC_ENCRYPTION_KEY: TEST_KEY } }));
    assert.ok(readFileSync(p(`${cipher}.env.out`)).equals(image));
    // A wrong key, or the other cipher: one line naming the chunk and the key ids, no output.
    const other = cipher === 'aes-256-gcm' ? 'xchacha20-poly1305' : 'aes-256-gcm';
    fails(
      wasync(['extract', `--encryption-key=${OTHER_KEY}`, `--encryption=${cipher}`, `--store=${store}`, p(`${cipher}.caibx`), p('wrong.out')]),
      new RegExp(`^wasync: chunk [0-9a-f]{64} in .*${cipher}\\.castr is corrupt: is not encrypted with ${cipher} key ${encryptionKeyId(fromHex(OTHER_KEY)!)}, only: ${cipher} key 50d64035 \\(a wrong key\\?\\)$`),
    );
    fails(wasync(['extract', `--encryption-key=${TEST_KEY}`, `--encryption=${other}`, `--store=${store}`, p(`${cipher}.caibx`), p('wrong.out')]), new RegExp(`is not encrypted with ${other} key 50d64035, only: ${cipher} key 50d64035`));
    assert.equal(spawnSync('test', ['-e', p('wrong.out')]).status, 1, 'nothing written');
    // A damaged file under the right name fails to open, naming its key.
    const victim = join(store, names[0]);
    const bytes = readFileSync(victim);
    spawnSync('chmod', ['u+w', victim]);
    writeFileSync(victim, Buffer.concat([bytes.subarray(0, 40), Buffer.from([bytes[40] ^ 1]), bytes.subarray(41)]));
    const r = wasync(['verify', ...enc, p(`${cipher}.caibx`)]);
    assert.equal(r.status, 1);
    assert.match(r.stdout, new RegExp(`does not decrypt with ${cipher} key 50d64035 \\(a wrong key, or damaged\\)`));
    writeFileSync(victim, bytes);
  });
}

test("AES-256-GCM: chunks Python's cryptography seals (nonce first) open in wasync, and wasync's open in Python", (t) => {
  // The python3 on PATH, else Debian's (.ci/run installs python3-cryptography for it).
  const python = ['python3', '/usr/bin/python3'].find((py) => spawnSync(py, ['-c', 'import cryptography.hazmat.primitives.ciphers.aead']).status === 0);
  if (!requires(t, python !== undefined, "python3's cryptography module")) return;
  // A plain store, then every chunk of it sealed by Python into the layout desync writes.
  const plain = p('py-plain.castr');
  ok(wasync(['make', `--store=${plain}`, p('py.caibx'), p('image.img')]));
  const sealedStore = p('py-sealed.castr');
  const script = `
import os, sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
key = bytes.fromhex(sys.argv[1]); src, dst, ext = sys.argv[2], sys.argv[3], sys.argv[4]
for sub in os.listdir(src):
    os.makedirs(os.path.join(dst, sub), exist_ok=True)
    for name in os.listdir(os.path.join(src, sub)):
        data = open(os.path.join(src, sub, name), 'rb').read()
        nonce = os.urandom(12)
        open(os.path.join(dst, sub, name + ext), 'wb').write(nonce + AESGCM(key).encrypt(nonce, data, None))
`;
  const r = spawnSync(python!, ['-c', script, TEST_KEY, plain, sealedStore, '.aes-256-gcm-50d64035'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  ok(wasync(['extract', `--encryption-key=${TEST_KEY}`, '--encryption=aes-256-gcm', `--store=${sealedStore}`, p('py.caibx'), p('py.out')]));
  assert.ok(readFileSync(p('py.out')).equals(image));
  // And the other way: Python opens what wasync sealed, and finds the plain store's .cacnk.
  const opened = spawnSync(
    python!,
    ['-c', `
import sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
b = open(sys.argv[2], 'rb').read()
sys.stdout.buffer.write(AESGCM(bytes.fromhex(sys.argv[1])).decrypt(b[:12], b[12:], None))
`, TEST_KEY, join(p('aes-256-gcm.castr'), files(p('aes-256-gcm.castr'))[1])],
  );
  assert.equal(opened.status, 0, opened.stderr.toString());
  const id = files(p('aes-256-gcm.castr'))[1].replace(/\.cacnk\..*$/, '');
  assert.ok(opened.stdout.equals(readFileSync(join(plain, `${id}.cacnk`))), 'the sealed bytes are the compressed chunk');
});

test('plain and encrypted chunks share a store; worker threads and HTTP read the encrypted ones', async () => {
  const shared = p('shared.castr');
  const big = Buffer.concat([rand('enc-big', 18 << 20), image]);
  writeFileSync(p('big.img'), big);
  ok(wasync(['make', `--store=${shared}`, p('plain.caibx'), p('image.img')]));
  ok(wasync(['make', `--encryption-key=${TEST_KEY}`, `--store=${shared}`, p('big.caibx'), p('big.img')]), 'a large input: chunks sealed on worker threads');
  const names = files(shared);
  assert.ok(names.some((f) => f.endsWith('.cacnk')) && names.some((f) => f.endsWith('.cacnk.xchacha20-poly1305-50d64035')));
  ok(wasync(['extract', `--store=${shared}`, p('plain.caibx'), p('plain.out')]));
  assert.ok(readFileSync(p('plain.out')).equals(image));
  ok(wasync(['extract', `--encryption-key=${TEST_KEY}`, `--store=${shared}`, p('big.caibx'), p('big.out')]));
  assert.ok(readFileSync(p('big.out')).equals(big));
  // gc under the key removes only encrypted chunks no index needs; the plain ones stay.
  const before = names.filter((f) => f.endsWith('.cacnk')).length;
  ok(wasync(['gc', `--encryption-key=${TEST_KEY}`, `--store=${shared}`, p('plain.caibx')]));
  assert.equal(files(shared).filter((f) => f.endsWith('.cacnk')).length, before);
  const kept = files(shared).filter((f) => f.includes('xchacha'));
  const wanted = new Set((await readIndex(p('plain.caibx'))).chunks.map((c) => c.id));
  assert.ok(kept.length < names.length - before, 'encrypted chunks were collected');
  for (const f of kept) assert.ok(wanted.has(f.slice(5, 69)), `${f}: kept, though plain.caibx does not need it`);

  // Over HTTP (wasync serve serves the files as they are), on worker threads.
  ok(wasync(['make', `--encryption-key=${TEST_KEY}`, `--store=${shared}`, p('big.caibx'), p('big.img')]));
  const served = await startServe(dir);
  ok(await wasyncAsync(['extract', `--encryption-key=${TEST_KEY}`, `--store=${served.url}/shared.castr`, p('big.caibx'), p('big-http.out')]));
  assert.ok(readFileSync(p('big-http.out')).equals(big));
  await served.stop();
});

test('the library: an EncryptedStore over a local store, described for worker threads; refused over a store that cannot name its files', async () => {
  const key = fromHex(OTHER_KEY)!;
  const store = new EncryptedStore(localStore(p('lib.castr')), { key, cipher: 'aes-256-gcm' });
  assert.deepEqual(describeStore(store, () => assert.fail('no relay')), { kind: 'encrypted', store: { kind: 'local', dir: p('lib.castr') }, cipher: 'aes-256-gcm', key: OTHER_KEY });
  const made = await make({ source: image, store, output: p('lib.caibx') });
  assert.ok(made.stored > 0);
  const chunks: Uint8Array[] = [];
  await extract({ input: p('lib.caibx'), stores: store, onData: (b) => void chunks.push(Uint8Array.prototype.slice.call(b)), workers: 2 });
  assert.ok(Buffer.concat(chunks).equals(image));
  assert.throws(() => new EncryptedStore(new MemoryStore(), { key }), /memory store: cannot hold encrypted chunks/);
});
