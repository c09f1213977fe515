// Bundles the command line into dist/cli/: main.cjs (the verbs) and
// pool-worker.cjs (the worker threads' entry), each one CommonJS file with
// every pure-JavaScript package inside, and a V8 code cache beside each
// (*.cjs.cache) written after a warm-up run.  main.js and pool-worker.js, the
// modules that bin/wasync.js imports and the worker pool starts, load them
// through src/platform/node/code-cache.ts.
//
// Loading some 150 separate modules cost every command and every worker thread
// about 0.1 s at start; one bundle, still compiled at each start, 0.22 s of
// CPU for `wasync --version` against 0.08 s for `node -e 0`.  ES modules take
// no cached data in Node 20, hence CommonJS.  The native packages (koffi,
// zstd-napi, lzma-native) stay external: they load their addons from
// node_modules.  The library (dist/src, from tsc) is not bundled.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'cli');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

await build({
  absWorkingDir: root,
  // The worker pool starts ./pool-worker.js beside its own module, so both go to one directory.
  entryPoints: { main: 'src/cli/main.ts', 'pool-worker': 'src/platform/node/pool/pool-worker.ts' },
  outdir: out,
  outExtension: { '.js': '.cjs' },
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: ['node20'],
  external: ['koffi', 'zstd-napi', 'lzma-native'],
  // import.meta.url (worker-pool.ts, package-root.ts, createRequire) is the bundle's own URL.
  define: { 'import.meta.url': '__wasync_url' },
  banner: { js: 'var __wasync_url = require("node:url").pathToFileURL(__filename).href;' },
  sourcemap: 'linked',
  logLevel: 'warning',
});

await build({
  absWorkingDir: root,
  entryPoints: { 'code-cache': 'src/platform/node/code-cache.ts' },
  outdir: out,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: ['node20'],
  logLevel: 'warning',
});

const header = '// Made by scripts/build-cli.mjs: the bundle beside, through its code cache (src/platform/node/code-cache.ts).\n';
const bundle = (name) => `const file = fileURLToPath(new URL('./${name}.cjs', import.meta.url));\n`;
writeFileSync(
  join(out, 'main.js'),
  `${header}import { fileURLToPath } from 'node:url';\nimport { loadBundle } from './code-cache.js';\n\n${bundle('main')}export const { main, mountHelper } = loadBundle(file);\n`,
);
// Started with workerData.writeCodeCache (the warm-up below), the worker writes its cache and ends.
writeFileSync(
  join(out, 'pool-worker.js'),
  `${header}import { fileURLToPath } from 'node:url';\nimport { workerData } from 'node:worker_threads';\nimport { loadBundle, writeCodeCache } from './code-cache.js';\n\n${bundle('pool-worker')}loadBundle(file);\nif (workerData?.writeCodeCache) {\n  writeCodeCache(file);\n  process.exit(0);\n}\n`,
);

// The warm-up: `wasync --version` in a process of its own (its output dropped), and a worker thread's start.
const warm = `
import { Worker } from 'node:worker_threads';
import { once } from 'node:events';
import { main } from './main.js';
import { writeCodeCache } from './code-cache.js';
await main(['--version']);
writeCodeCache(${JSON.stringify(join(out, 'main.cjs'))});
const w = new Worker(new URL('./pool-worker.js', import.meta.url), { workerData: { writeCodeCache: true } });
const [code] = await once(w, 'exit');
process.exit(code);
`;
const warmFile = join(out, 'warm-up.mjs');
writeFileSync(warmFile, warm);
const r = spawnSync(process.execPath, [warmFile], { stdio: ['ignore', 'ignore', 'inherit'] });
rmSync(warmFile);
if (r.status !== 0) {
  console.error(`build-cli: the code cache's warm-up failed (${r.error?.message ?? `exit ${r.status}`})`);
  process.exit(1);
}
