// Worker-thread entry of the chunk engine: runs jobs one at a time, in order.
import { parentPort } from 'node:worker_threads';
import { JobRunner } from './job-runner.ts';
import type { Job } from '../../engine/jobs.ts';
import { serializeError } from './worker-pool.ts';

const runner = new JobRunner();
let queue: Promise<void> = Promise.resolve();

parentPort!.on('message', ({ id, job }: { id: number; job: Job }) => {
  queue = queue.then(async () => {
    try {
      const { result, transfer } = await runner.run(job);
      parentPort!.postMessage({ id, result }, transfer);
    } catch (e) {
      parentPort!.postMessage({ id, error: serializeError(e) });
    }
  });
});
