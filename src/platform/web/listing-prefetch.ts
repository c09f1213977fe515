// Fetching ahead what listing a directory of an archive will read, for every
// entry at once (a bounded number in flight), instead of one entry's records
// after another's.
//
// A directory's GOODBYE table gives every child's byte range, so without
// waiting for any child the reads the lookup is about to make are known:
//   * the table itself, and the directory's own first records;
//   * per child, the first RECORD_WINDOW bytes of its range: its FILENAME,
//     ENTRY and metadata, which is the window catar-node-records.ts reads;
//   * per child directory (its mode is in that ENTRY), the GOODBYE tail at the
//     end of its range and the GOODBYE header the tail points back to.
// Nothing past an entry's records is asked for, so a file's contents are not
// fetched beyond the chunk its records end in.  The bytes are copied out (a
// read may be a view of a whole cached chunk) and handed to HeldRanges.
//
// Nothing here is trusted: what the table and records say is only a hint of
// what to fetch.  A child that makes no sense is skipped, and the lookup that
// follows checks everything and reports it, naming the offset.

import type { ReadAt } from '../../engine/random-access.ts';
import type { CatarNodeLocation } from '../../format/catar-lookup.ts';
import { S_IFDIR, S_IFMT } from '../../format/catar-node.ts';
import {
  CA_FORMAT_ENTRY_SIZE,
  CA_FORMAT_GOODBYE_ITEM_SIZE,
  CA_FORMAT_GOODBYE_TAIL_SIZE,
  CA_FORMAT_HEADER_SIZE,
} from '../../format/catar-constants.ts';
import type { HeldRange } from './held-ranges.ts';

const HDR = CA_FORMAT_HEADER_SIZE;
const ITEM = CA_FORMAT_GOODBYE_ITEM_SIZE;
const TAIL = CA_FORMAT_GOODBYE_TAIL_SIZE;
/** what CatarNodeReader reads of a node first; if it reads more, listing is slower, not wrong */
export const RECORD_WINDOW = 4096;

const u64 = (b: Uint8Array, at: number) => {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(at, true);
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : -1;
};

/** The bytes listing `dir` will read, fetched through `r` with up to `concurrency` children at once. */
export async function prefetchListing(r: ReadAt, dir: CatarNodeLocation, concurrency: number): Promise<HeldRange[]> {
  const g = dir.goodbye;
  if (!g) return [];
  const held: HeldRange[] = [];
  const read = async (offset: number, length: number) => {
    const bytes = (await r.read(offset, length)).slice();
    held.push({ offset, bytes });
    return bytes;
  };
  const from = dir.filenameOffset ?? dir.entryOffset;
  const [, table] = await Promise.all([read(from, Math.min(g.offset - from, RECORD_WINDOW)), read(g.offset, g.size)]);
  const ranges: { start: number; end: number }[] = [];
  for (let at = HDR; at + ITEM <= table.length - TAIL; at += ITEM) {
    const back = u64(table, at);
    const size = u64(table, at + 8);
    const start = g.offset - back;
    if (back < 0 || size <= 0 || start < dir.entryOffset + CA_FORMAT_ENTRY_SIZE || start + size > g.offset) continue;
    ranges.push({ start, end: start + size });
  }
  // In archive order, so that neighbours, which often share a chunk, are asked for together.
  ranges.sort((a, b) => a.start - b.start);

  const child = async ({ start, end }: { start: number; end: number }) => {
    const head = await read(start, Math.min(end - start, RECORD_WINDOW));
    const entryAt = head.length >= HDR ? u64(head, 0) : -1;
    if (entryAt < HDR || entryAt + CA_FORMAT_ENTRY_SIZE > head.length) return;
    if ((u64(head, entryAt + 24) & S_IFMT) !== S_IFDIR || end - TAIL < start + entryAt + CA_FORMAT_ENTRY_SIZE) return;
    const tail = await read(end - TAIL, TAIL);
    const gsize = u64(tail, 8);
    if (gsize < HDR + TAIL || end - gsize < start + entryAt) return;
    await read(end - gsize, HDR);
  };
  let next = 0;
  const lane = async () => {
    while (next < ranges.length) await child(ranges[next++]).catch(() => {});
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, ranges.length)) }, lane));
  return held;
}
