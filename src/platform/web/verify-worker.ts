// The Web Worker of verify-pool.ts: checks batches of chunks against HTTP stores
// (engine/verify.ts: present, decompresses, hashes to its id) with up to
// `concurrency` requests in flight (the stores' bound: every chunk of a batch
// is asked for at once, so that a store with pack files can fetch neighbours
// together), and answers each batch with its verdicts in
// batch order.  The decoders are loaded on 'init', so a browser that cannot run
// one says so before any chunk is judged.  Asked to `keep`, it also sends each
// good chunk's bytes, transferred, for the page to reuse (chunk-share.ts).

import { CHUNK_ID_SIZE } from '../../format/constants.ts';
import type { ChunkVerdict } from '../../engine/verify.ts';
import type { ChunkSource } from '../../stores/store.ts';
import { fetchVerified, webStores } from './access.ts';
import { loadCodecs } from './codecs.ts';
import type { FromWorker, ToWorker } from './verify-pool.ts';

interface WorkerScope {
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
  postMessage(m: FromWorker, transfer?: Transferable[]): void;
}

const scope = globalThis as unknown as WorkerScope;
let job: { source: ChunkSource; keep: boolean } | null = null;

scope.onmessage = (e) => {
  const m = e.data;
  if (m.type === 'init') {
    job = { source: webStores(m.stores, m.digest, {}, m.concurrency), keep: m.keep };
    loadCodecs().then(
      () => scope.postMessage({ type: 'ready' }),
      (err: Error) => scope.postMessage({ type: 'error', seq: null, message: err.message }),
    );
    return;
  }
  const { source, keep } = job!;
  const checks = Array.from(m.sizes, (size, i) => fetchVerified(source, m.ids.subarray(i * CHUNK_ID_SIZE, (i + 1) * CHUNK_ID_SIZE), size));
  Promise.all(checks).then(
    (results) => {
      const verdicts: ChunkVerdict[] = results.map((r) => r.verdict);
      if (!keep) return scope.postMessage({ type: 'verdicts', seq: m.seq, verdicts });
      const data = results.map((r) => r.data && whole(r.data));
      scope.postMessage({ type: 'verdicts', seq: m.seq, verdicts, data }, data.filter((d) => d !== null).map((d) => d.buffer as ArrayBuffer));
    },
    (err: Error) => scope.postMessage({ type: 'error', seq: m.seq, message: err.message }),
  );
};

/** Bytes that own their buffer, so that transferring it moves no more than them. */
function whole(b: Uint8Array): Uint8Array {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b : b.slice();
}
