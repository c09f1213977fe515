// Builds the verification page into dist/web/: index.html, page.js and
// verify-worker.js, self-contained ES modules (the wasm core and the codecs'
// wasm are embedded), so any static host can serve the directory as it is.
//
// esbuild bundles them, chosen over `bun build` (also at hand, from the
// @oven/bun-linux-x64 devDependency), which gives bundles of the same size
// (page 192 KB and worker 168 KB against esbuild's 191 and 160): esbuild is
// already installed for tsx (the same package, so nothing more is
// fetched), runs wherever Node does where Bun's package is one platform's 107 MB
// binary, has a JavaScript API the tests call in-process, honours the codecs'
// package.json "browser" fields, and with platform=browser refuses any `node:`
// import outright; its metafile is what test/web.test.ts checks for one.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'web');

/** esbuild options for the page and its worker (also used by the no-node test). */
export const webBuildOptions = {
  absWorkingDir: root,
  entryPoints: { page: 'src/platform/web/page/page.ts', 'verify-worker': 'src/platform/web/verify-worker.ts' },
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022'],
  minify: true,
  sourcemap: 'linked',
  metafile: true,
  logLevel: 'warning',
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  mkdirSync(out, { recursive: true });
  await build({ ...webBuildOptions, outdir: out });
  copyFileSync(join(root, 'src', 'platform', 'web', 'page', 'index.html'), join(out, 'index.html'));
}
