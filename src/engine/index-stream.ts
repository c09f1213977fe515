// Reading an index as it arrives: the header first (extraction needs the chunk
// sizes and digest before it can chunk seeds), then the entries in batches.

import { formatError } from '../errors.ts';
import { IndexParser, type IndexEntry, type IndexHeader } from '../format/index-file.ts';

export interface IndexStream {
  header: IndexHeader;
  entries: AsyncIterable<IndexEntry[]>;
}

export async function openIndexStream(bytes: AsyncIterable<Uint8Array>, file: string): Promise<IndexStream> {
  const parser = new IndexParser(file);
  const it = bytes[Symbol.asyncIterator]();
  const early: IndexEntry[] = [];
  while (!parser.header) {
    const next = await it.next();
    if (next.done) {
      parser.end(); // throws: truncated
      throw formatError(file, 0, 'index is truncated');
    }
    early.push(...parser.push(next.value));
  }
  async function* entries(): AsyncGenerator<IndexEntry[]> {
    if (early.length) yield early;
    for (;;) {
      const next = await it.next();
      if (next.done) break;
      const batch = parser.push(next.value);
      if (batch.length) yield batch;
    }
    parser.end();
  }
  return { header: parser.header, entries: entries() };
}
