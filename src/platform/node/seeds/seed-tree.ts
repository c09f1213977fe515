// A directory as a seed for extracting a .caidx: encoded with the index's feature
// flags and chunked with its chunk sizes, as casync does, remembering where each
// part of the stream came from (TreeSeedMap) so chunks can be rebuilt later.

import type { ChunkSizes } from '../../../chunker/sizes.ts';
import type { DigestName } from '../../../chunk/digest.ts';
import { ChunkPipeline } from '../pool/chunk-pipeline.ts';
import type { Executor } from '../pool/jobs.ts';
import { RingWriter, ringSizeFor } from '../pool/ring-writer.ts';
import { TreeSeedMap } from './tree-seed-map.ts';
import type { LinuxFs } from '../linux/index.ts';
import { encodeTree } from '../tree/encode-tree.ts';

export interface SeedTreeOptions {
  dir: string;
  featureFlags: bigint;
  sizes: ChunkSizes;
  digest: DigestName;
  executor: Executor;
  linux: LinuxFs | null;
  /** the seed's chunks, in order: their end offsets and packed ids */
  onChunks(ends: number[], ids: Uint8Array): void;
}

export async function indexSeedTree(o: SeedTreeOptions): Promise<TreeSeedMap> {
  const map = new TreeSeedMap();
  const ring = new SharedArrayBuffer(ringSizeFor(o.sizes.max));
  const pipeline = new ChunkPipeline({
    input: { ring, path: `${o.dir} (seed)` },
    sizes: o.sizes,
    digest: o.digest,
    store: null,
    compression: 'zstd',
    executor: o.executor,
    onChunks: (ends, r) => o.onChunks(ends, r.ids),
  });
  const writer = new RingWriter(ring, pipeline);
  await encodeTree({ root: o.dir, featureFlags: o.featureFlags, sink: writer, linux: o.linux, observer: map });
  await pipeline.finish(writer.written);
  return map;
}
