// Shared test helpers: deterministic inputs (the generators of
// casync-format.md §8), temporary directories, and running wasync and casync.

import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, type TestContext } from 'node:test';

export const ROOT = join(import.meta.dirname, '..');
export const WASYNC = join(ROOT, 'bin', 'wasync.js');

/** gen.py rand SEED SIZE: SHA-256("SEED:i") for i = 0, 1, … concatenated. */
export function rand(seed: string, size: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  for (let i = 0, o = 0; o < size; i++, o += 32) {
    createHash('sha256').update(`${seed}:${i}`).digest().copy(out, o, 0, Math.min(32, size - o));
  }
  return out;
}

export const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
export const sha512_256 = (b: Uint8Array) => createHash('sha512-256').update(b).digest('hex');
export const sha256File = (p: string) => sha256(readFileSync(p));

/** A fresh directory removed after the test file. */
export function tempDir(prefix = 'wasync-test-'): string {
  const dir = mkdtempSync(join(process.env.WASYNC_TEST_TMP ?? tmpdir(), prefix));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface Run {
  status: number | null;
  stdout: string;
  /** stdout as bytes */
  out: Buffer;
  stderr: string;
}

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: Uint8Array } = {}): Run {
  const r: SpawnSyncReturns<Buffer> = spawnSync(cmd, args, {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    input: opts.input,
    maxBuffer: 1 << 30,
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout.toString('utf8'), out: r.stdout, stderr: r.stderr.toString('utf8') };
}

export const wasync = (args: string[], opts?: Parameters<typeof run>[2]) =>
  run(process.execPath, [WASYNC, ...args], opts);

/** Like run(), without blocking this process (which may be serving the command). */
export function runAsync(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b) => out.push(b));
    child.stderr.on('data', (b) => err.push(b));
    child.on('error', reject);
    child.on('close', (status) => {
      const o = Buffer.concat(out);
      resolve({ status, stdout: o.toString('utf8'), out: o, stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}

export const wasyncAsync = (args: string[], opts?: Parameters<typeof runAsync>[2]) =>
  runAsync(process.execPath, [WASYNC, ...args], opts);

export const casync = (args: string[], opts?: Parameters<typeof run>[2]) => run('casync', args, opts);

/** Runs and insists on success, showing stderr and the end of stdout otherwise. */
export function ok(r: Run, what = 'command'): Run {
  // stdout too: verify, for one, names each corrupt chunk's reason there.
  if (r.status !== 0) throw new Error(`${what} failed (${r.status}): ${r.stderr}${r.stdout ? `\nstdout: ${r.stdout.slice(-4000)}` : ''}`);
  return r;
}

const inCI = process.env.CI === 'true';

/**
 * Whether a prerequisite is there.  On a developer machine a missing one skips
 * the test with the reason; under CI=true it fails it.
 */
export function requires(t: TestContext, have: boolean, what: string): boolean {
  if (have) return true;
  if (inCI) throw new Error(`prerequisite missing in CI: ${what}`);
  t.skip(`needs ${what}`);
  return false;
}

export const haveCasync = spawnSync('casync', ['--version']).status === 0;
export const isRoot = process.getuid?.() === 0;

/** The chunk files in a store, as "<id>.cacnk" names, sorted. */
export function storeChunks(store: string): string[] {
  const out: string[] = [];
  let subs: string[];
  try {
    subs = readdirSync(store);
  } catch {
    return out;
  }
  for (const sub of subs) for (const f of readdirSync(join(store, sub))) out.push(f);
  return out.sort();
}

/** The tree generators of casync-format.md §8 (mk_tree0..3.sh, gen.py), copied from the format notes. */
export const VECTORS = join(ROOT, 'test', 'vectors');

/** The StoreGraph jobs carry for the local store `dir` (as an operation describes it). */
export async function localGraph(dir: string) {
  const { OperationStores } = await import('../src/platform/node/operations/stores.ts');
  const { Network } = await import('../src/platform/node/operations/network.ts');
  return new OperationStores(new Network()).graph(new OperationStores(new Network()).resolve(dir), 1);
}

/** Local store directories tried in order on this thread, every copy checked. */
export async function localSource(dirs: string[]) {
  const { checkedStores } = await import('../src/platform/node/storage/node-stores.ts');
  const { LocalStore } = await import('../src/platform/node/storage/local-store.ts');
  return checkedStores(dirs.map((d) => new LocalStore(d)));
}
