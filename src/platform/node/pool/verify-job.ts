// The verify job on Node: each chunk of the batch judged by engine/verify.ts
// against the job's stores (built once per thread, every copy checked), a few
// at a time so that remote requests overlap; the remote stores' gate bounds
// them to this thread's share of --concurrency.

import { CHUNK_ID_SIZE } from '../../../format/constants.ts';
import { verifyChunk, type ChunkVerdict } from '../../../engine/verify.ts';
import { Semaphore } from '../../../stores/semaphore.ts';
import type { BuiltStores } from '../../../stores/store-graph.ts';
import { perThread } from '../storage/node-stores.ts';
import type { VerifyJob, VerifyResult } from './jobs.ts';

const LOCAL_PARALLEL = 4;

export async function runVerify(job: VerifyJob, stores: BuiltStores): Promise<VerifyResult> {
  const gate = new Semaphore(stores.remote ? perThread(job.stores.net) : LOCAL_PARALLEL);
  const verdicts: Promise<ChunkVerdict>[] = [];
  for (let i = 0; i < job.sizes.length; i++) {
    const id = job.ids.subarray(i * CHUNK_ID_SIZE, (i + 1) * CHUNK_ID_SIZE);
    verdicts.push(gate.run(() => verifyChunk(stores.source, id, job.sizes[i])));
  }
  return { problems: (await Promise.all(verdicts)).filter((v) => v.verdict !== 'ok') };
}
