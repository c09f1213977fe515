// The files a make with an encoder cache reads this time (cached-make.ts):
// gathered into scan-files jobs of a few MiB (pool/cached-make-jobs.ts), which
// read each file whole and find the buzhash candidates inside it.  Results are
// taken in the order the jobs were handed out, since the stream needs them in
// that order; each fills in its files' head, tail and candidates, and the new
// cache entry of those to be remembered.

import { handled } from '../pool/chunk-pipeline.ts';
import { KEPT_CONTENT, type Job, type ScanFilesResult } from '../pool/jobs.ts';
import type { StreamFile } from './cached-stream.ts';
import { EDGE } from './encoder-cache-file.ts';

const SCAN_BATCH_BYTES = 8 << 20;
const SCAN_BATCH_FILES = 1024;

interface ScanBatch {
  files: number[];
  result: Promise<ScanFilesResult>;
  value: ScanFilesResult | null;
  error: unknown;
  done: boolean;
}

export class FileScans {
  private readonly batches: ScanBatch[] = [];
  private gathered: number[] = [];
  private gatheredBytes = 0;

  constructor(
    private readonly files: StreamFile[],
    /** the discriminator */
    private readonly d: number,
    private readonly runJob: (job: Job, bytes: number) => Promise<ScanFilesResult>,
  ) {}

  /** jobs handed out whose results are not taken yet */
  get backlog(): number {
    return this.batches.length;
  }

  /** File number `n` is to be scanned. */
  add(n: number): void {
    this.gathered.push(n);
    this.gatheredBytes += this.files[n].size;
    if (this.gatheredBytes >= SCAN_BATCH_BYTES || this.gathered.length >= SCAN_BATCH_FILES) this.flush();
  }

  /** Hands out the files gathered as one job. */
  flush(): void {
    if (!this.gathered.length) return;
    const files = this.gathered;
    const all = this.files;
    const bytes = this.gatheredBytes;
    this.gathered = [];
    this.gatheredBytes = 0;
    const job = {
      kind: 'scan-files',
      paths: files.map((n) => all[n].path.toString('latin1')),
      sizes: Float64Array.from(files, (n) => all[n].size),
      d: this.d,
    } as const;
    const batch: ScanBatch = { files, result: handled(this.runJob(job, bytes)), value: null, error: null, done: false };
    batch.result.then(
      (r) => {
        batch.value = r;
        batch.done = true;
      },
      (e) => {
        batch.error = e;
        batch.done = true;
      },
    );
    for (const n of files) all[n].batch = batch;
    this.batches.push(batch);
  }

  /** Settles when the first job does (its failure is thrown by takeDone()). */
  first(): Promise<unknown> {
    return this.batches[0].result.catch(() => undefined);
  }

  /** Takes in the results of the jobs done, in order, up to the first still running. */
  takeDone(): void {
    while (this.batches[0]?.done) {
      const s = this.batches.shift()!;
      if (!s.value) throw s.error;
      const r = s.value;
      let c = 0;
      let kept = 0;
      s.files.forEach((n, i) => {
        const f = this.files[n];
        if (f.size <= KEPT_CONTENT) f.content = r.contents.subarray(kept, (kept += f.size));
        f.candidates = r.candidates.slice(c, c + r.counts[i]);
        c += r.counts[i];
        f.head = r.edges.slice(2 * EDGE * i, 2 * EDGE * i + EDGE);
        f.tail = r.edges.slice(2 * EDGE * i + EDGE, 2 * EDGE * (i + 1));
        f.batch = null;
        if (f.entry) Object.assign(f.entry, { head: f.head, tail: f.tail, candidates: f.candidates });
      });
    }
  }
}
