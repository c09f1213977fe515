// engine/update-cost.ts on its own: every byte of the image in exactly one
// class, distinct new chunks counted once, the zero chunk apart, and a strip
// whose cells are painted whatever the sizes (fractional cell bounds included).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkIdSet, UpdateCost } from '../src/engine/update-cost.ts';
import type { IndexEntry } from '../src/format/index-file.ts';

const id = (n: number) => Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? n & 255 : i === 1 ? n >> 8 : 7));

test('shared, zero and new bytes add up to the image; new chunks are counted once', () => {
  const sizes = [70_001, 65_536, 262_144, 262_144, 1, 99_999, 70_001, 123_457];
  const ids = [1, 2, 0, 0, 3, 4, 1, 5];
  let offset = 0;
  const entries: IndexEntry[] = sizes.map((size, i) => {
    const e = { offset, size, id: id(ids[i]) };
    offset += size;
    return e;
  });
  const old = new ChunkIdSet();
  old.add([entries[1], entries[5]]);
  for (const cells of [1, 3, 7, 200, 4096]) {
    const cost = new UpdateCost({ zeroId: id(0), have: (x) => old.has(x), strip: { size: offset, cells } });
    cost.add(entries.slice(0, 3));
    cost.add(entries.slice(3));
    const f = cost.result();
    assert.equal(f.size, offset);
    assert.equal(f.covered.shared + f.covered.zero + f.covered.new, offset);
    assert.deepEqual(f.entries, { shared: 2, zero: 2, new: 4 });
    assert.equal(f.covered.zero, 2 * 262_144);
    assert.equal(f.download, 3, 'chunk 1 twice, 3 and 5');
    assert.equal(f.downloadSize, 70_001 + 1 + 123_457);
    const strip = cost.strip();
    assert.equal(strip.length, cells);
    assert.ok(strip.every((c) => c !== null) || cells > offset, `${cells} cells: ${strip.join(',')}`);
  }
});
