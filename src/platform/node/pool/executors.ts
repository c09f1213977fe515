// The executors of one operation: chunk jobs on every core, and jobs on the
// calling thread (a blob file's digest, whose jobs must run in order, and the
// first jobs of a make with an encoder cache).  Making a blob file, the calling
// thread mostly waits for the pool, and a thread of the digest's own would
// cost a V8 isolate, its start-up and compilation, and a message per job, about
// 0.1 CPU seconds a run for no gain in speed.  A streamed make (a tree, stdin)
// is the opposite: the calling thread encodes, and its digest goes to one
// worker of the pool, in order (a tree make of the /usr/share copy: 3.7 s
// instead of 4.0).  Below a few MiB of input, starting worker threads costs
// more than it saves, so small inputs run on the calling thread; a caller may
// also fix the number of threads.
//
// close() first waits for the jobs in flight: a job stopped half-way could
// leave a chunk's temporary file in a store, or write into an output that is
// about to be removed, and a cancelled or failed operation leaves neither.

import { availableParallelism } from 'node:os';
import { usageError } from '../../../errors.ts';
import type { Executor, Job } from './jobs.ts';
import { InlineExecutor, SharedPool, WorkerPool } from './worker-pool.ts';

const PARALLEL_THRESHOLD = 16 << 20;

export class Executors {
  private pool: Draining | undefined;
  private here: Draining | undefined;
  private one: Draining | undefined;
  private closed: Promise<void> | undefined;

  /**
   * `bytes`: how much input the jobs will cover.  `workers`: 0 runs every job
   * on the calling thread, N on N threads; unset, one per core from 16 MiB up.
   * `shareCaller`: the calling thread, which would only wait, is one of the N
   * (chunks only).
   */
  constructor(
    private readonly bytes: number,
    private readonly workers?: number,
    private readonly shareCaller = false,
  ) {
    if (workers !== undefined && !(Number.isSafeInteger(workers) && workers >= 0)) {
      throw usageError(`workers ${workers}: expected 0 or a positive whole number`);
    }
  }

  /** Runs chunk jobs on every core. */
  get chunks(): Executor {
    return this.started();
  }

  /** How many threads `chunks` runs jobs on (without starting them). */
  get parallelism(): number {
    return this.pool?.parallelism ?? Math.max(1, this.workers ?? (this.bytes < PARALLEL_THRESHOLD ? 1 : availableParallelism()));
  }

  /** Runs jobs one after another, on the calling thread (the whole-blob digest). */
  get digest(): Executor {
    return this.inline;
  }

  /**
   * Runs jobs one after another on one worker of the pool, or on the calling
   * thread without one: the digest of a stream the calling thread encodes,
   * which would otherwise be a fifth of that thread's work.
   */
  get ordered(): Executor {
    const pool = this.started().inner;
    return pool instanceof WorkerPool ? (this.one ??= new Draining(pool.pinned())) : this.inline;
  }

  /**
   * Runs jobs on the calling thread whatever the size (a make with an encoder
   * cache runs its first few there), tracked like the others: a job that still
   * writes to the store when the operation fails is waited for by close().
   */
  get inline(): Executor {
    return (this.here ??= new Draining(new InlineExecutor()));
  }

  /** Waits for the jobs in flight, then stops the threads; called on failure and again at the end. */
  close(): Promise<void> {
    return (this.closed ??= Promise.all([this.closePool(), this.here?.close()]).then(() => {}));
  }

  private started(): Draining {
    return (this.pool ??= new Draining(this.make()));
  }

  private async closePool() {
    // The pinned worker's jobs first: closing the pool stops its threads.
    await this.one?.close();
    await this.pool?.close();
  }

  private make(): Executor {
    const n = this.workers ?? (this.bytes < PARALLEL_THRESHOLD ? 0 : undefined);
    if (n === 0) return new InlineExecutor();
    const size = n ?? availableParallelism();
    return this.shareCaller && size >= 2 ? new SharedPool(size) : new WorkerPool(size);
  }
}

/** An executor that knows which of its jobs are still running. */
class Draining implements Executor {
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(readonly inner: Executor) {}

  get parallelism() {
    return this.inner.parallelism;
  }

  run<R>(job: Job, transfer?: ArrayBuffer[]): Promise<R> {
    const p = this.inner.run<R>(job, transfer);
    const settled: Promise<unknown> = p.then(
      () => this.inFlight.delete(settled),
      () => this.inFlight.delete(settled),
    );
    this.inFlight.add(settled);
    return p;
  }

  async close() {
    while (this.inFlight.size) await Promise.all(this.inFlight);
    await this.inner.close();
  }
}
