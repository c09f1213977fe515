// The blob vectors of casync-format.md §8 (V1–V6), made by casync 2: wasync must
// print the same digest and write the same index bytes, with no casync needed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseIndex } from '../src/format/index-file.ts';
import { toHex } from '../src/chunk/chunk-id.ts';
import { ok, rand, sha256, sha256File, storeChunks, tempDir, wasync } from './helpers.ts';
import { refWindowHash, refDiscriminator } from './chunker-model.ts';

const dir = tempDir();
const file = (name: string, data: Uint8Array) => {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
};

function make(input: string, name: string, args: string[] = []) {
  const index = join(dir, `${name}.caibx`);
  const r = ok(wasync(['make', ...args, `--store=${join(dir, 's.castr')}`, index, input]));
  return { printed: r.stdout.trim(), index, sha: sha256File(index), parsed: parseIndex(readFileSync(index), index) };
}

test('V1: 10,000,000 zero bytes', () => {
  const m = make(file('zero.bin', new Uint8Array(10_000_000)), 'zero');
  assert.equal(m.printed, '50462689f25cbd8e8032c0fbadb5fe0ce341b8d26924439e5eca9f1e550517ff');
  assert.equal(m.sha, 'f2102b14f70021649cb7828952e22e5c1ab2bd93aa4790f483af2ad09e1e0529');
  assert.equal(readFileSync(m.index).length, 1664);
  assert.equal(toHex(m.parsed.entries[0].id), '1c8109946feed9f9e9fe4b5144d90f05a50fb3275e848cb72f4b9546d8c533f2');
  assert.equal(toHex(m.parsed.entries[38].id), 'b8e4029871a03e7a5598f8a9c0ea77ef206792d3977b80a5b46b6b16ac1a1eb8');
});

test('V2: rand("casync", 10000000)', () => {
  const m = make(file('rand10m.bin', rand('casync', 10_000_000)), 'rand10m');
  assert.equal(m.printed, '0da073ce0ece453449fc536465304c48e7e0e1ecb6448f51ca8c90c7c75e7c57');
  assert.equal(m.sha, '427fe809acc4db2f6c76d0111daaa1d1cb25d447571365090be789a58d03f3d6');
  assert.equal(m.parsed.entries.length, 151);
  assert.equal(toHex(m.parsed.entries[0].id), '9c26d9fca41f134548965af95d99613bbe21b5f0bfd32635cc57d2819a6f2388');
});

test('V3 and V4: rand("casync", 1000000) under several --chunk-size values and --digest=sha256', () => {
  const input = file('rand1m.bin', rand('casync', 1_000_000));
  for (const [cs, sha] of [
    ['16384', '100dc0e54a4e41e9a50771827e5fbb83c11af1976caf6e61eec766582ba2c849'],
    ['1000:5000:20000', 'e90c826719c0b3365881247fc6798f354ae5c9e55f7ce2c94b34ad7c75df8d75'],
    ['4096:4096:4096', '6d09fe3090123bcb464c8dd7bc3ae0a1aa77728980cf4e17a91e0563ac0a176d'],
    ['16:64:256', '332de7a41a9621aaf43b2ad3c9fa5e66ffecb8d8e0e8bec1d8c7ea067ffffe50'],
    ['1000:1100:2000', '7dd4f2369b2201d7b65e8ec6939d8a0e085d9d59a8d9119defae39fd7b890a67'],
    ['200:300:40000', 'd0175454f78cf66b6d1b89c78aed180e113b24dc71115507c7f55f8e53a7aea4'],
  ]) {
    assert.equal(make(input, `v3-${cs}`, [`--chunk-size=${cs}`]).sha, sha, cs);
  }
  const v4 = make(input, 'v4', ['--digest=sha256']);
  assert.equal(v4.printed, '3469ce3a67f4be3f41c7e920c3d7c99488528a41f7b964bbe0fec67d36cad090');
  assert.equal(v4.sha, '10bb1983168c9c4bd286d7e6568504bf78144125cf5d0374c7316648e69b03b8');
  assert.equal(v4.parsed.header.flags, 0x9000000000000000n);
  assert.equal(toHex(v4.parsed.entries[0].id), 'e57aca49dbefeb567c1b663c6b15d13223b6ef0864ea46cf93a5eafc5ce514b8');
});

test('V5: the first chunk cut at exactly min', () => {
  const d = refDiscriminator(16384, 65536, 262144);
  let k = 86898; // found by mk_min_cut.py's search, checked in chunker.test.ts
  const w = rand(`mincut-${k}`, 48);
  assert.equal(refWindowHash(w) % d, d - 1);
  const data = Buffer.concat([rand('mincut-prefix', 16384 - 48), w, rand('mincut-suffix', 200000 - 16384)]);
  assert.equal(sha256(data), '35b4479d991bab4e0eb28075a7a877bf0ff36edad007c28da261eb27a7c59bc4');
  const m = make(file('mincut.bin', data), 'mincut');
  assert.deepEqual(
    m.parsed.entries.map((e) => [e.size, toHex(e.id)]),
    [
      [16384, '51aa4ac5189e162bd4402929441ad99d383c38f6ec0c0959e0074e424b76b8c4'],
      [24957, '6208f3e2a6775fbf4d20a1afe1702c9e68f4a748b7b4ff77d9f48ef531fec2a3'],
      [158659, 'f12e6876408a3825ab24e6aaa8afdb494a70f84d6a95758789b1a0fd2bf0b3b8'],
    ],
  );
});

test('V6: an empty blob stores nothing and creates no store', () => {
  const store = join(dir, 'empty.castr');
  const index = join(dir, 'empty.caibx');
  const r = ok(wasync(['make', `--store=${store}`, index, file('empty.bin', new Uint8Array(0))]));
  assert.equal(r.stdout, 'c672b8d1ef56ed28ab87c3622c5114069bdd3ad7b8f9737498d0c01ecef0967a\n');
  assert.equal(sha256File(index), '16ddad079094dc0f11dfb87986aebcb24d7975f2edb4442778f5f8f34208b7ab');
  assert.deepEqual(storeChunks(store), []);
  const out = join(dir, 'empty.out');
  ok(wasync(['extract', `--store=${store}`, index, out]));
  assert.equal(readFileSync(out).length, 0);
});

test('digest: of a file with either algorithm, and of a blob index', () => {
  const data = rand('casync', 1_000_000);
  const input = file('digest.bin', data);
  assert.equal(ok(wasync(['digest', input])).stdout, 'ed86c215da75b99e376e2cb68d67fc5607edd7f1a14914ae1e505e2bf48d3c33\n');
  assert.equal(ok(wasync(['digest', '--digest=sha256', input])).stdout, `${sha256(data)}\n`);
  const store = join(dir, 'digest.castr');
  for (const [digest, want] of [
    ['sha512-256', 'ed86c215da75b99e376e2cb68d67fc5607edd7f1a14914ae1e505e2bf48d3c33'],
    ['sha256', sha256(data)],
  ]) {
    const index = join(dir, `digest-${digest}.caibx`);
    ok(wasync(['make', `--digest=${digest}`, `--store=${store}`, index, input]));
    // The index's own algorithm, so that it equals what make printed.
    assert.equal(ok(wasync(['digest', `--store=${store}`, index])).stdout, `${want}\n`, digest);
  }
});
