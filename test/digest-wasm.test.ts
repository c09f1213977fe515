// The wasm core's SHA-512/256 and SHA-256 give FIPS 180-4's example digests, and
// agree with node:crypto on every length around the block boundaries, on inputs
// fed in odd pieces, and on random lengths fed in random pieces (the compressions
// are written out round by round: a slip in one round's variables shows here).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { wasmHashFactory } from '../src/wasm/sha2.ts';
import { rand } from './helpers.ts';

const hash = wasmHashFactory();

const hex = (name: 'sha512-256' | 'sha256', data: Uint8Array) => Buffer.from(hash(name).update(data).digest()).toString('hex');

test('FIPS 180-4 example digests: "abc" and the two-block message', () => {
  const abc = Buffer.from('abc');
  const twoBlocks = Buffer.from('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq');
  assert.equal(hex('sha256', abc), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.equal(hex('sha256', twoBlocks), '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1');
  assert.equal(hex('sha512-256', abc), '53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23');
  assert.equal(hex('sha512-256', twoBlocks), 'bde8e1f9f19bb9fd3406c90ec6bc47bd36d8ada9f11880dbc8a22a7078b6a461');
});

for (const name of ['sha512-256', 'sha256'] as const) {
  const oneShot = (data: Uint8Array) => {
    const h = hash(name);
    h.update(data);
    return Buffer.from(h.digest()).toString('hex');
  };

  test(`${name}: every length from 0 to 300, and a large input`, () => {
    const data = rand(name, 300);
    for (let n = 0; n <= 300; n++) {
      assert.equal(oneShot(data.subarray(0, n)), createHash(name).update(data.subarray(0, n)).digest('hex'), `length ${n}`);
    }
    const big = rand(`${name}-big`, (1 << 20) + 12345);
    assert.equal(oneShot(big), createHash(name).update(big).digest('hex'));
  });

  test(`${name}: random lengths in random pieces`, () => {
    // A fixed seed: a failure names a length that can be tried again.
    let seed = 0x9e3779b9;
    const next = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const data = rand(`${name}-random`, 301_000);
    for (let k = 0; k < 120; k++) {
      const length = next(k % 4 === 0 ? 300_000 : 3000);
      const from = next(1000); // inputs not aligned in memory, too
      const input = data.subarray(from, from + length);
      const h = hash(name);
      for (let at = 0; at < length; ) {
        const step = 1 + next(k % 2 ? 70_000 : 300);
        h.update(input.subarray(at, at + step));
        at += step;
      }
      assert.equal(Buffer.from(h.digest()).toString('hex'), createHash(name).update(input).digest('hex'), `length ${length}`);
    }
  });

  test(`${name}: pieces of any size give the same digest`, () => {
    const data = rand(`${name}-pieces`, 200_000);
    const h = hash(name);
    for (let at = 0, step = 1; at < data.length; at += step, step = (step * 7 + 3) % 70_001) h.update(data.subarray(at, at + step));
    assert.equal(Buffer.from(h.digest()).toString('hex'), createHash(name).update(data).digest('hex'));
  });
}
