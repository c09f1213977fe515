// Differential tests against the casync binary: for every input and chunk size
// configuration, wasync and casync must write byte-identical .caibx files, the
// same chunk set and the same printed digest, and each must extract the other's
// store bit-exactly.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseChunkSizeOption, DEFAULT_CHUNK_SIZES } from '../src/chunker/sizes.ts';
import { casync, haveCasync, ok, rand, requires, storeChunks, tempDir, wasync } from './helpers.ts';

const CONFIGS: { name: string; args: string[]; sizes: { min: number; max: number }; big: number }[] = [
  { name: 'default', args: [], sizes: DEFAULT_CHUNK_SIZES, big: 3 << 20 },
  { name: '16384', args: ['--chunk-size=16384'], sizes: parseChunkSizeOption('16384'), big: 3 << 20 },
  { name: '1000:5000:20000', args: ['--chunk-size=1000:5000:20000'], sizes: parseChunkSizeOption('1000:5000:20000'), big: 3 << 20 },
  { name: '4096:4096:4096', args: ['--chunk-size=4096:4096:4096'], sizes: parseChunkSizeOption('4096:4096:4096'), big: 3 << 20 },
  { name: '16:64:256', args: ['--chunk-size=16:64:256'], sizes: parseChunkSizeOption('16:64:256'), big: 1 << 20 },
  { name: 'sha256', args: ['--digest=sha256'], sizes: DEFAULT_CHUNK_SIZES, big: 3 << 20 },
];

function inputs(cfg: (typeof CONFIGS)[number]): [string, Buffer][] {
  const { min, max } = cfg.sizes;
  const sizes = [...new Set([0, 1, 47, 48, min - 1, min, min + 1, max - 1, max, max + 1])].filter((n) => n >= 0);
  const pattern = rand('pattern', 10007);
  const repeating = Buffer.alloc(cfg.big);
  for (let o = 0; o < repeating.length; o += pattern.length) pattern.copy(repeating, o);
  return [
    ...sizes.map((n): [string, Buffer] => [`random-${n}`, rand(`size-${n}`, n)]),
    [`random-${cfg.big}`, rand('big', cfg.big)],
    [`zero-${cfg.big}`, Buffer.alloc(cfg.big)],
    [`repeating-${cfg.big}`, repeating],
  ];
}

for (const cfg of CONFIGS) {
  test(`make/extract agree with casync: --chunk-size ${cfg.name}`, async (t) => {
    if (!requires(t, haveCasync, 'the casync binary (apt-get install casync)')) return;
    const dir = tempDir();
    for (const [name, data] of inputs(cfg)) {
      await t.test(name, () => {
        const input = join(dir, `${cfg.name}-${name}.bin`);
        writeFileSync(input, data);
        const p = (s: string) => join(dir, `${cfg.name}-${name}-${s}`);
        const w = ok(wasync(['make', ...cfg.args, `--store=${p('w.castr')}`, p('w.caibx'), input]), 'wasync make');
        const c = ok(casync(['make', ...cfg.args, `--store=${p('c.castr')}`, p('c.caibx'), input]), 'casync make');
        assert.equal(w.stdout, c.stdout, 'printed digest');
        assert.deepEqual(readFileSync(p('w.caibx')), readFileSync(p('c.caibx')), 'index bytes');
        assert.deepEqual(storeChunks(p('w.castr')), storeChunks(p('c.castr')), 'chunk set');
        ok(casync(['extract', `--store=${p('w.castr')}`, p('w.caibx'), p('by-casync.out')]), 'casync extract');
        assert.ok(readFileSync(p('by-casync.out')).equals(data), 'casync extracts wasync store');
        ok(wasync(['extract', `--store=${p('c.castr')}`, p('c.caibx'), p('by-wasync.out')]), 'wasync extract');
        assert.ok(readFileSync(p('by-wasync.out')).equals(data), 'wasync extracts casync store');
      });
    }
  });
}

test('casync reads every compression wasync writes', async (t) => {
  if (!requires(t, haveCasync, 'the casync binary (apt-get install casync)')) return;
  const dir = tempDir();
  const data = Buffer.concat([rand('comp', 700_000), Buffer.from('compressible '.repeat(40_000))]);
  const input = join(dir, 'in.bin');
  writeFileSync(input, data);
  for (const compression of ['zstd', 'gzip', 'xz']) {
    await t.test(compression, () => {
      const store = join(dir, `${compression}.castr`);
      const index = join(dir, `${compression}.caibx`);
      ok(wasync(['make', `--compression=${compression}`, `--store=${store}`, index, input]));
      const magic = { zstd: '28b52ffd', gzip: '1f8b', xz: 'fd377a585a00' }[compression]!;
      for (const f of storeChunks(store)) {
        const head = readFileSync(join(store, f.slice(0, 4), f)).subarray(0, magic.length / 2).toString('hex');
        assert.equal(head, magic, `${f} is ${compression}`);
      }
      const out = join(dir, `${compression}.out`);
      ok(casync(['extract', `--store=${store}`, index, out]));
      assert.ok(readFileSync(out).equals(data));
      const back = join(dir, `${compression}.back`);
      ok(wasync(['extract', `--store=${store}`, index, back]));
      assert.ok(readFileSync(back).equals(data));
    });
  }
  await t.test('casync-written gzip and xz are read by wasync', () => {
    for (const compression of ['gzip', 'xz']) {
      const store = join(dir, `c-${compression}.castr`);
      const index = join(dir, `c-${compression}.caibx`);
      ok(casync(['make', `--compression=${compression}`, `--store=${store}`, index, input]));
      const out = join(dir, `c-${compression}.out`);
      ok(wasync(['extract', `--store=${store}`, index, out]));
      assert.ok(readFileSync(out).equals(data), compression);
    }
  });
});
