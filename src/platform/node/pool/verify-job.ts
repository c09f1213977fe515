// The verify job on Node: each chunk of the batch checked by engine/verify.ts
// against the stores (local ones read asynchronously, remote ones over HTTP), a
// few at a time so that remote requests overlap.

import { CHUNK_ID_SIZE } from '../../../format/constants.ts';
import type { RemoteConfig, VerifyJob, VerifyResult } from './jobs.ts';
import { verifyChunk, type ChunkVerdict } from '../../../engine/verify.ts';
import { HttpClient } from '../../../stores/http-client.ts';
import { RateLimiter } from '../../../stores/rate-limiter.ts';
import { Semaphore } from '../../../stores/semaphore.ts';
import { nodeChunkAccess } from '../io/random-access.ts';
import { isRemote } from '../stores/store-set.ts';

const LOCAL_PARALLEL = 4;

export async function runVerify(job: VerifyJob): Promise<VerifyResult> {
  const access = nodeChunkAccess(job.stores, client(job.remote));
  const gate = new Semaphore(job.stores.some(isRemote) ? (job.remote?.concurrency ?? 8) : LOCAL_PARALLEL);
  const n = job.sizes.length;
  const verdicts: Promise<ChunkVerdict>[] = [];
  for (let i = 0; i < n; i++) {
    const id = job.ids.subarray(i * CHUNK_ID_SIZE, (i + 1) * CHUNK_ID_SIZE);
    verdicts.push(gate.run(() => verifyChunk(access, job.digest, id, job.sizes[i])));
  }
  return { problems: (await Promise.all(verdicts)).filter((v) => v.verdict !== 'ok') };
}

function client(cfg: RemoteConfig | undefined): HttpClient {
  const limit = cfg?.rateLimit;
  return new HttpClient({
    attempts: cfg?.attempts,
    timeoutMs: cfg?.timeoutMs,
    token: cfg?.token,
    rateLimiter: limit ? new RateLimiter(limit.bytesPerSecond, limit.state) : null,
  });
}
