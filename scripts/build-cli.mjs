// Bundles the command line into dist/cli/ (main.js, which bin/wasync.js loads,
// and pool-worker.js, the worker threads' entry, with the code they share in
// chunk files beside them).  Loading some 150 separate modules cost every
// command and every worker thread about 0.1 s at start (`wasync --version` in
// 0.25-0.30 s against 0.16-0.19 s bundled, here), a sixth of a 512 MiB extract.
// Packages stay external: the native ones (koffi, zstd-napi, lzma-native) must
// load from node_modules.  The library (dist/src, from tsc) is not bundled.
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

await build({
  absWorkingDir: root,
  // The worker pool starts ./pool-worker.js beside its own module, so both
  // entries and their shared chunks go to one directory.
  entryPoints: { main: 'src/cli/main.ts', 'pool-worker': 'src/platform/node/pool/pool-worker.ts' },
  outdir: join(root, 'dist', 'cli'),
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: ['node20'],
  packages: 'external',
  sourcemap: 'linked',
  logLevel: 'warning',
});
