// Builds the single executable dist/wasync (`npm run build:exe`): Bun's
// `--compile`, run from the @oven/bun-linux-x64 devDependency, bundles the
// command line with the Bun runtime, and embeds the wasm core (a module,
// src/generated/core-wasm.ts), the worker threads' entry and the native addons.
// Nothing is downloaded.  (deno compile, the other candidate, is out: it
// downloads its `denort` runtime, which no npm package ships; see the README.)
//
// Run by Bun (Bun.build's plugins are needed), as node scripts/build-exe.mjs
// starts it: node scripts/build-exe.mjs [OUTFILE].
//
// Three things are made static for bun build to see them:
//   * src/platform/node/native-addons.ts, the one place that loads addons, is
//     replaced by native-addons-embedded.ts (bare require() calls);
//   * the packages' own run-time choice of their .node file (zstd-napi's build
//     type, lzma-native's node-gyp-build) becomes one require() of the file
//     this machine's install has; koffi's is imported as a file (glibc x86-64,
//     as the Bun runtime inside is);
//   * the worker threads' entry is named pool-worker.js beside the main module
//     (`naming`), which is where worker-pool.ts starts it.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = process.argv[2] ?? join(root, 'dist', 'wasync');

if (typeof Bun === 'undefined') {
  const bun = join(root, 'node_modules', '@oven', 'bun-linux-x64', 'bin', 'bun');
  const r = spawnSync(bun, [fileURLToPath(import.meta.url), outfile], { stdio: 'inherit' });
  if (r.error) console.error(`build-exe: cannot run ${bun}: ${r.error.message} (is the @oven/bun-linux-x64 devDependency installed?)`);
  process.exit(r.status ?? 1);
}

const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const modules = join(root, 'node_modules');

/** `contents` for the module at a path matching `filter` (a CommonJS module's whole source). */
const replace = (filter, contents) => (b) => b.onLoad({ filter }, () => ({ contents, loader: 'js' }));

const staticAddons = {
  name: 'static-addons',
  setup(b) {
    const embedded = join(root, 'src', 'platform', 'node', 'native-addons-embedded.ts');
    b.onResolve({ filter: /\/native-addons\.ts$/ }, () => ({ path: embedded }));
    replace(/\/zstd-napi\/binding\.js$/, "module.exports = require('./build/Release/binding.node');")(b);
    // node-gyp-build's only user here is lzma-native (`require('node-gyp-build')(__dirname)`).
    b.onResolve({ filter: /^node-gyp-build$/ }, (a) => {
      if (!a.importer.includes('/lzma-native/')) throw new Error(`build-exe: node-gyp-build imported by ${a.importer}, not lzma-native`);
      return { path: 'lzma-native-addon', namespace: 'addon' };
    });
    b.onLoad({ filter: /.*/, namespace: 'addon' }, () => ({
      contents: `module.exports = () => require(${JSON.stringify(join(modules, 'lzma-native', 'prebuilds', 'linux-x64', 'node.napi.node'))});`,
      loader: 'js',
    }));
  },
};

const result = await Bun.build({
  entrypoints: [join(root, 'src', 'cli', 'executable.ts'), join(root, 'src', 'platform', 'node', 'pool', 'pool-worker.ts')],
  compile: { outfile },
  naming: '[name].[ext]',
  target: 'bun',
  // Bytecode (JavaScriptCore's, made at build time) starts `wasync --version`
  // in a third of the time, for some 5 MB more; it needs ES module output.
  minify: true,
  bytecode: true,
  format: 'esm',
  define: { WASYNC_VERSION: JSON.stringify(version) },
  plugins: [staticAddons],
});
if (!result.success) {
  for (const m of result.logs) console.error(String(m));
  process.exit(1);
}
