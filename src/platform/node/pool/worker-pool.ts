// Executors for chunk-engine jobs: a pool of worker threads (one per core) for
// large inputs, and an inline executor on the calling thread for small ones,
// where starting threads would cost more than the work.  A caller whose thread
// would only wait for the jobs (blob extraction) shares the work instead: one
// worker thread fewer to start, some 0.1 s of CPU for its start-up, module
// loading and JIT warm-up.

import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { WasyncError, type ErrorCode } from '../../../errors.ts';
import { JobRunner } from './job-runner.ts';
import { coreModule } from '../../../wasm/core.ts';
import { nativeAddons } from '../native-addons.ts';
import type { Executor, Job } from './jobs.ts';

interface SerializedError {
  code: ErrorCode | null;
  message: string;
  /** a system error's code, call and path, so that the caller can still tell ENOSPC from EACCES */
  sys?: { code: string; syscall?: string; path?: string };
}

export function serializeError(e: unknown): SerializedError {
  if (e instanceof WasyncError) return { code: e.code, message: e.message };
  const err = e as NodeJS.ErrnoException;
  const sys = typeof err?.code === 'string' ? { code: err.code, syscall: err.syscall, path: err.path } : undefined;
  return { code: null, message: err?.stack ?? String(e), sys };
}

function deserializeError(e: SerializedError): Error {
  if (e.code) return new WasyncError(e.code, e.message);
  return Object.assign(new Error(e.message), e.sys);
}

export class InlineExecutor implements Executor {
  readonly parallelism = 1;
  private readonly runner = new JobRunner();

  async run<R>(job: Job): Promise<R> {
    return (await this.runner.run(job)).result as R;
  }

  async close() {}
}

/**
 * Built code runs pool-worker.js.  Run from TypeScript sources (tests, under
 * tsx), the worker must register tsx itself: loader hooks are per thread.
 */
function spawnWorker(): Worker {
  nativeAddons.beforeThreads();
  // The wasm core goes compiled (pool-worker.ts), one compile for all threads.
  const o = { resourceLimits: LIMITS, workerData: { core: coreModule() } };
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./pool-worker.js', import.meta.url), o);
  const entry = JSON.stringify(new URL('./pool-worker.ts', import.meta.url).href);
  return new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${entry}); })`, { ...o, eval: true });
}

/**
 * A small young generation: the jobs' garbage is short-lived, and V8's default
 * (semi-spaces growing to 16 MiB) let each worker's heap reach some 50 MiB of
 * resident memory for no fewer collections worth having.
 */
const LIMITS = { maxYoungGenerationSizeMb: 6 };

interface Slot {
  worker: Worker;
  pending: number;
}

export class WorkerPool implements Executor {
  private readonly slots: Slot[] = [];
  private readonly waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private nextId = 0;
  private failure: Error | null = null;

  constructor(size = availableParallelism()) {
    for (let i = 0; i < size; i++) {
      const worker = spawnWorker();
      const slot = { worker, pending: 0 };
      worker.on('message', ({ id, result, error }) => {
        slot.pending--;
        const w = this.waiting.get(id)!;
        this.waiting.delete(id);
        if (error) w.reject(deserializeError(error));
        else w.resolve(result);
      });
      worker.on('error', (e) => this.fail(e));
      this.slots.push(slot);
    }
  }

  get parallelism() {
    return this.slots.length;
  }

  /** the fewest jobs any worker has pending */
  leastPending(): number {
    return Math.min(...this.slots.map((s) => s.pending));
  }

  run<R>(job: Job, transfer: ArrayBuffer[] = []): Promise<R> {
    return this.runOn(this.slots.reduce((a, b) => (b.pending < a.pending ? b : a)), job, transfer);
  }

  /**
   * Runs every job on the last worker, one after another in the order given
   * (jobs whose state lives in that thread, such as a stream's digest).
   */
  pinned(): Executor {
    const slot = this.slots[this.slots.length - 1];
    return { parallelism: 1, run: (job, transfer) => this.runOn(slot, job, transfer), close: async () => {} };
  }

  private runOn<R>(slot: Slot, job: Job, transfer: ArrayBuffer[] = []): Promise<R> {
    if (this.failure) return Promise.reject(this.failure);
    slot.pending++;
    const id = this.nextId++;
    return new Promise<R>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      slot.worker.postMessage({ id, job }, transfer);
    });
  }

  async close() {
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private fail(e: Error) {
    this.failure = e;
    for (const w of this.waiting.values()) w.reject(e);
    this.waiting.clear();
  }
}

/**
 * Worker threads plus the calling thread: each job goes to whichever has the
 * fewest jobs pending, the caller's own on a tie going to a worker.  Each of
 * the caller's jobs waits for a turn of its event loop first, so that between
 * two of them it reads the workers' results and hands them more.
 */
export class SharedPool implements Executor {
  private readonly pool: WorkerPool;
  private readonly runner = new JobRunner(true);
  private pending = 0;

  /** `size`: threads in all, the caller's included (at least 2) */
  constructor(size: number) {
    this.pool = new WorkerPool(size - 1);
  }

  get parallelism() {
    return this.pool.parallelism + 1;
  }

  run<R>(job: Job, transfer: ArrayBuffer[] = []): Promise<R> {
    if (this.pending >= this.pool.leastPending()) return this.pool.run<R>(job, transfer);
    this.pending++;
    const done = () => void this.pending--;
    const p = this.runner.run(job);
    p.then(done, done);
    return p.then((o) => o.result as R);
  }

  close() {
    return this.pool.close();
  }
}
