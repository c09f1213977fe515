// The chunks a pull session has received, for asking twice.  casync's pull
// server answers a chunk id once per session (its request queue remembers every
// id it has seen), while an index may list a chunk many times and a reader may
// want a copy again; a second REQUEST would never be answered.  So every answer
// is kept: in memory up to a budget, the oldest then moved to files in a
// temporary directory under $TMPDIR or /var/tmp (casync keeps them all there,
// in its .carem cache), which is removed when the session ends.  These are
// the bytes as received, unverified; readers check them like any store's.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Answer {
  data: Uint8Array;
  compressed: boolean;
}

const MEMORY_BUDGET = 64 << 20;

const live = new Set<string>();
let exitHook = false;

export class ReplayCache {
  private readonly memory = new Map<string, Answer>();
  private readonly spilled = new Map<string, boolean>();
  /** ids in memory, oldest first from `head` (a Map's own order gets slow to take from the front) */
  private order: string[] = [];
  private head = 0;
  private bytes = 0;
  private dir: string | null = null;

  /** `budget`: bytes kept in memory before the oldest go to disk. */
  constructor(private readonly budget = MEMORY_BUDGET) {}

  get(hex: string): Answer | null {
    const m = this.memory.get(hex);
    if (m) return m;
    const compressed = this.spilled.get(hex);
    if (compressed === undefined || !this.dir) return null;
    return { data: readFileSync(join(this.dir, hex)), compressed };
  }

  put(hex: string, a: Answer): void {
    if (this.memory.has(hex) || this.spilled.has(hex)) return;
    this.memory.set(hex, a);
    this.order.push(hex);
    this.bytes += a.data.length;
    while (this.bytes > this.budget) {
      const oldest = this.order[this.head++];
      const o = this.memory.get(oldest)!;
      this.memory.delete(oldest);
      if (this.head > 4096 && this.head * 2 > this.order.length) {
        this.order = this.order.slice(this.head);
        this.head = 0;
      }
      this.bytes -= o.data.length;
      writeFileSync(join(this.spillDir(), oldest), o.data);
      this.spilled.set(oldest, o.compressed);
    }
  }

  dispose(): void {
    this.memory.clear();
    this.spilled.clear();
    this.order = [];
    this.head = 0;
    this.bytes = 0;
    if (this.dir) {
      rmSync(this.dir, { recursive: true, force: true });
      live.delete(this.dir);
      this.dir = null;
    }
  }

  private spillDir(): string {
    if (this.dir) return this.dir;
    this.dir = mkdtempSync(join(process.env.TMPDIR || '/var/tmp', 'wasync-carem-'));
    live.add(this.dir);
    if (!exitHook) {
      exitHook = true;
      process.on('exit', () => {
        for (const d of live) rmSync(d, { recursive: true, force: true });
      });
    }
    return this.dir;
  }
}
