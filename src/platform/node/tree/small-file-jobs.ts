// The small files of a tree extraction, sent in batches to the worker threads.
//
// The extractor (extract-tree.ts) decodes on its thread and streams large files
// itself; files up to SMALL_FILE go here instead, are packed into a batch
// (pool/file-batch.ts) and leave as one FilesJob when the batch is
// full.  Kept apart from the extractor because this half is about jobs in
// flight, not about the tree: which directories each job holds files of (a
// directory is finalized only once every job with its files is done), how many
// jobs may be queued before decoding waits (memory stays at a few batch spaces),
// and reusing the spaces of finished jobs instead of allocating new ones.

import type { Executor, FilesJob, FilesResult } from '../pool/jobs.ts';
import type { UidShift } from './apply-metadata.ts';
import { BATCH_FILES, BatchSpace, FileBatchBuilder, type BatchFile } from '../pool/file-batch.ts';

/** Files up to this size are written by the workers. */
export const SMALL_FILE = 1 << 20;

/** What a directory holding batched files must carry. */
export interface JobDirectory {
  /** file jobs not yet done in this directory */
  pending: number;
}

export interface SmallFileSettings<D extends JobDirectory> {
  executor: Executor;
  replay: bigint;
  uidShift: UidShift | null;
  punchHoles: boolean;
  undoImmutable: boolean;
  warn(message: string): void;
  /** every job holding files of `dir` is done */
  directoryDone(dir: D): void;
  /** a job failed: the extraction stops at its next event */
  failed(error: unknown): void;
}

export class SmallFileJobs<D extends JobDirectory> {
  /** batch spaces whose jobs are done, reused for the next batches */
  private readonly spaces: BatchSpace[] = [];
  private batch = new FileBatchBuilder(new BatchSpace());
  /** the directories of the batch's files, one entry per file */
  private dirs: D[] = [];
  /** the directory of the file being collected, null between files */
  private current: D | null = null;
  private readonly jobs = new Set<Promise<void>>();

  constructor(private readonly s: SmallFileSettings<D>) {}

  /** A file is being collected: its payload goes to append(). */
  get collecting(): boolean {
    return this.current !== null;
  }

  /** Enough file jobs are queued to keep the workers busy: settle() before more events. */
  get busy(): boolean {
    return this.jobs.size > this.limit;
  }

  private get limit() {
    return 2 * this.s.executor.parallelism;
  }

  /** Starts collecting a file of `dir` (its payload follows). */
  begin(dir: D, file: Omit<BatchFile, 'data'>): void {
    if (!this.batch.fits(file.node.size!, file.name.length, file.dirPath)) this.flush();
    this.current = dir;
    this.batch.add(file);
  }

  append(data: Uint8Array): void {
    this.batch.append(data);
  }

  /** The file's payload is complete; a full batch leaves. */
  end(): void {
    const dir = this.current!;
    dir.pending++;
    this.dirs.push(dir);
    this.current = null;
    if (this.batch.count >= BATCH_FILES) this.flush();
  }

  /** Waits while too many file jobs are queued. */
  async settle(): Promise<void> {
    while (this.jobs.size > this.limit) await Promise.race(this.jobs);
  }

  /** Sends what is collected and waits for every job. */
  async drain(): Promise<void> {
    this.flush();
    while (this.jobs.size) await Promise.all(this.jobs);
  }

  /**
   * After a failure: waits for the jobs already sent, sending no more.  They
   * write through this thread's directory descriptors and remove their own
   * temporaries on failure; closing those descriptors under them would leave
   * the temporaries behind (their unlinkat fails with EBADF).
   */
  async stopped(): Promise<void> {
    while (this.jobs.size) await Promise.all(this.jobs);
  }

  /** Sends the small files collected so far to a worker. */
  flush(): void {
    if (!this.batch.count) return;
    const dirs = this.dirs;
    const job: FilesJob = {
      kind: 'files',
      replay: this.s.replay,
      uidShift: this.s.uidShift,
      punchHoles: this.s.punchHoles,
      undoImmutable: this.s.undoImmutable,
      files: this.batch.seal(),
    };
    const done = this.s.executor.run<FilesResult>(job, [this.batch.space.buffer]).then(
      (r) => {
        this.spaces.push(new BatchSpace(r.space));
        for (const w of r.warnings) this.s.warn(w);
        for (const dir of dirs) if (!--dir.pending) this.s.directoryDone(dir);
      },
      (e) => this.s.failed(e),
    );
    this.batch = new FileBatchBuilder(this.spaces.pop() ?? new BatchSpace());
    this.dirs = [];
    this.jobs.add(done);
    done.then(() => this.jobs.delete(done));
  }
}
