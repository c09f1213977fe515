// The wasm core's SHA-512/256 and SHA-256 agree with node:crypto on every length
// around the block boundaries and on inputs fed in odd pieces.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { wasmHashFactory } from '../src/wasm/sha2.ts';
import { rand } from './helpers.ts';

const hash = wasmHashFactory();

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

  test(`${name}: pieces of any size give the same digest`, () => {
    const data = rand(`${name}-pieces`, 200_000);
    const h = hash(name);
    for (let at = 0, step = 1; at < data.length; at += step, step = (step * 7 + 3) % 70_001) h.update(data.subarray(at, at + step));
    assert.equal(Buffer.from(h.digest()).toString('hex'), createHash(name).update(data).digest('hex'));
  });
}
