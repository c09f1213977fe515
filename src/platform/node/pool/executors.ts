// Which executor runs a job stream: below a few MiB, starting worker threads costs
// more than it saves, so small inputs run on the calling thread.

import type { Executor } from './jobs.ts';
import { InlineExecutor, WorkerPool } from './worker-pool.ts';

const PARALLEL_THRESHOLD = 16 << 20;

export class Executors {
  private pool: Executor | undefined;
  private ordered: Executor | undefined;

  /** `bytes`: how much input the jobs will cover. */
  constructor(private readonly bytes: number) {}

  /** Runs chunk jobs on every core. */
  get chunks(): Executor {
    this.pool ??= this.bytes < PARALLEL_THRESHOLD ? new InlineExecutor() : new WorkerPool();
    return this.pool;
  }

  /** Runs jobs one after another on one thread of its own (the whole-blob digest). */
  get digest(): Executor {
    this.ordered ??= this.bytes < PARALLEL_THRESHOLD ? new InlineExecutor() : new WorkerPool(1);
    return this.ordered;
  }

  async close() {
    await Promise.all([this.pool?.close(), this.ordered?.close()]);
  }
}
