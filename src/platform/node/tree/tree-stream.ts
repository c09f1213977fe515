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

  /** Once it resolves, the decoder holds no reference to `bytes`. */
  async push(bytes: Uint8Array, origins: Origin[] = []): Promise<void> {
    await this.guard(async () => {
      this.extractor.noteOrigins(origins);
      this.decoder.push(bytes);
      await this.drain();
    });
  }

  async end(): Promise<void> {
    await this.guard(async () => {
      this.decoder.end();
      await this.drain();
    });
    try {
      await this.extractor.finish();
    } catch (e) {
      await this.extractor.abort();
      throw e;
    }
  }

  /** After a failure elsewhere (the chunk fetcher): the file jobs end, temporaries go, descriptors close. */
  abort(): Promise<void> {
    return this.extractor.abort();
  }

  /** Events until the decoder needs input, waiting whenever enough file jobs are queued. */
  private async drain() {
    for (let ev = this.decoder.next(); ev; ev = this.decoder.next()) {
      this.extractor.event(ev);
      if (this.extractor.busy) await this.extractor.settle();
    }
  }

  private async guard(f: () => Promise<void>) {
    try {
      await f();
    } catch (e) {
      await this.extractor.abort();
      throw e;
    }
  }
}
