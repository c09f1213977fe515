// The Web Worker of verify-pool.ts: checks batches of chunks against HTTP stores
// (engine/verify.ts: present, decompresses, hashes to its id) with up to
// `concurrency` requests in flight, and answers each batch with its verdicts in
// batch order.  The decoders are loaded on 'init', so a browser that cannot run
// one says so before any chunk is judged.

import { CHUNK_ID_SIZE } from '../../format/constants.ts';
import { verifyChunk, type VerifyAccess } from '../../engine/verify.ts';
import type { DigestName } from '../../digest.ts';
import { Semaphore } from '../../stores/semaphore.ts';
import { webChunkAccess } from './access.ts';
import { loadCodecs } from './codecs.ts';
import type { FromWorker, ToWorker } from './verify-pool.ts';

interface WorkerScope {
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
  postMessage(m: FromWorker): void;
}

const scope = globalThis as unknown as WorkerScope;
let job: { access: VerifyAccess; digest: DigestName; gate: Semaphore } | null = null;

scope.onmessage = (e) => {
  const m = e.data;
  if (m.type === 'init') {
    job = { access: webChunkAccess(m.stores), digest: m.digest, gate: new Semaphore(m.concurrency) };
    loadCodecs().then(
      () => scope.postMessage({ type: 'ready' }),
      (err: Error) => scope.postMessage({ type: 'error', seq: null, message: err.message }),
    );
    return;
  }
  const { access, digest, gate } = job!;
  const checks = Array.from(m.sizes, (size, i) =>
    gate.run(() => verifyChunk(access, digest, m.ids.subarray(i * CHUNK_ID_SIZE, (i + 1) * CHUNK_ID_SIZE), size)),
  );
  Promise.all(checks).then(
    (verdicts) => scope.postMessage({ type: 'verdicts', seq: m.seq, verdicts }),
    (err: Error) => scope.postMessage({ type: 'error', seq: m.seq, message: err.message }),
  );
};
