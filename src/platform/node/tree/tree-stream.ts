// The catar decoder feeding a TreeExtractor: archive bytes are pushed in as the
// extractor's caller (a local .catar reader or the chunk fetcher of a .caidx)
// produces them, and any failure aborts the extraction so no temporary is left.

import { CatarDecoder } from '../../../format/catar-decoder.ts';
import type { Origin } from '../pool/jobs.ts';
import { TreeExtractor, type ExtractTreeOptions } from './extract-tree.ts';

/** Decodes a catar stream, pushed in pieces, into the target directory. */
export class TreeStream {
  private readonly decoder: CatarDecoder;
  private readonly extractor: TreeExtractor;

  constructor(file: string, expectFlags: bigint | undefined, o: ExtractTreeOptions) {
    this.decoder = new CatarDecoder(file, { expectFlags });
    this.extractor = new TreeExtractor(o);
  }

  get entries() {
    return this.extractor.entries;
  }

  get clonedBytes() {
    return this.extractor.clonedBytes;
  }

  get linkedBytes() {
    return this.extractor.linkedBytes;
  }

  async push(bytes: Uint8Array, origins: Origin[] = []): Promise<void> {
    this.guard(() => {
      this.extractor.noteOrigins(origins);
      this.decoder.push(bytes);
      this.drain();
    });
    await this.extractor.settle();
  }

  async end(): Promise<void> {
    this.guard(() => {
      this.decoder.end();
      this.drain();
    });
    try {
      await this.extractor.finish();
    } catch (e) {
      this.extractor.abort();
      throw e;
    }
  }

  /** After a failure elsewhere (the chunk fetcher): temporaries go, descriptors close. */
  abort(): void {
    this.extractor.abort();
  }

  private drain() {
    for (let ev = this.decoder.next(); ev; ev = this.decoder.next()) this.extractor.event(ev);
  }

  private guard(f: () => void) {
    try {
      f();
    } catch (e) {
      this.extractor.abort();
      throw e;
    }
  }
}
