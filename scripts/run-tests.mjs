// Runs every test/*.test.ts with node:test under tsx.  Test files run two at a
// time; each prints why it skipped anything (never under CI=true, where a missing
// prerequisite fails instead).  The persistent seed index goes to a scratch
// directory, so tests neither read nor fill the user's.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const only = process.argv.slice(2);
const files = readdirSync(join(root, 'test'))
  .filter((f) => f.endsWith('.test.ts') && (!only.length || only.some((o) => f.includes(o))))
  .sort()
  .map((f) => join('test', f));
const cache = mkdtempSync(join(tmpdir(), 'wasync-test-cache-'));
const r = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...files],
  { cwd: root, stdio: 'inherit', env: { ...process.env, XDG_CACHE_HOME: cache } },
);
rmSync(cache, { recursive: true, force: true });
process.exit(r.status ?? 1);
