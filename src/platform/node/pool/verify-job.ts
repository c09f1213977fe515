// The verify job on Node: each chunk of the batch judged by engine/verify.ts
// against the job's stores (built once per thread, every copy checked).  From
// remote stores the whole batch is asked for at once: the stores' gate bounds
// the requests to this thread's share of --concurrency, and a store with pack
// files sees all the chunks it may fetch together (pack-store.ts).

import { CHUNK_ID_SIZE } from '../../../format/constants.ts';
import { verifyChunk, type ChunkVerdict } from '../../../engine/verify.ts';
import { Semaphore } from '../../../stores/semaphore.ts';
import type { BuiltStores } from '../../../stores/store-graph.ts';
import type { VerifyJob, VerifyResult } from './jobs.ts';

const LOCAL_PARALLEL = 4;

export async function runVerify(job: VerifyJob, stores: BuiltStores): Promise<VerifyResult> {
  const gate = new Semaphore(stores.remote ? Math.max(job.sizes.length, 1) : LOCAL_PARALLEL);
  const verdicts: Promise<ChunkVerdict>[] = [];
  for (let i = 0; i < job.sizes.length; i++) {
    const id = job.ids.subarray(i * CHUNK_ID_SIZE, (i + 1) * CHUNK_ID_SIZE);
    verdicts.push(gate.run(() => verifyChunk(stores.source, id, job.sizes[i])));
  }
  return { problems: (await Promise.all(verdicts)).filter((v) => v.verdict !== 'ok') };
}
