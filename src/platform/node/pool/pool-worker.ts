// Worker-thread entry of the chunk engine.  The runner takes jobs in order and
// runs them one at a time itself, so that a fetch job's requests can start the
// moment it arrives.
import { parentPort, workerData } from 'node:worker_threads';
import { JobRunner } from './job-runner.ts';
import type { Job } from './jobs.ts';
import { serializeError } from './worker-pool.ts';
import { useCoreModule } from '../../../wasm/core.ts';

// The pool's compiled wasm core (worker-pool.ts); a worker started otherwise compiles its own.
if (workerData?.core instanceof WebAssembly.Module) useCoreModule(workerData.core);

const runner = new JobRunner();

parentPort!.on('message', ({ id, job }: { id: number; job: Job }) => {
  runner.run(job).then(
    ({ result, transfer }) => parentPort!.postMessage({ id, result }, transfer),
    (e) => parentPort!.postMessage({ id, error: serializeError(e) }),
  );
});
