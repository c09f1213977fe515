// The three rings of ARCHITECTURE.md, imports pointing inward: assembly/ ← the
// runtime-neutral core in src/ ← the edges (src/platform/node/, src/cli/ and the
// Node library entry src/index.ts).  src/platform/web/ and the page are browser
// code, so they count as core here: they may use nothing of Node either.
//
// - The core type-checks with no Node types (`types: []`, libs ES2022 + DOM):
//   a Buffer, process, setImmediate, NodeJS.* or node: import is a compile error,
//   and so is importing an edge file, since tsc follows the import and the edge
//   file's own node: imports fail.
// - Import specifiers (ts.preProcessFile, so export-from, import type and
//   dynamic import() count) resolved to files: nothing outside src/cli/ imports
//   it; the core imports no Node edge; the Node platform imports no CLI;
//   assembly/ imports nothing from src/.
// - The browser bundle (scripts/build-web.mjs's page and worker, plus the
//   library's browser entry src/browser.ts) references no Node global.  The
//   type-check alone would not do: it sees the packages the bundle pulls in
//   (zstddec, fflate, xz-decompress) only through their .d.ts files, while their
//   JavaScript is what runs.  esbuild, which knows which names are free, swaps
//   each Node global for a marker through `define`; a marker in the output is a
//   use, attributed to the module comment esbuild writes above each module.
//   test/web.test.ts checks the same bundle for node: imports.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { build } from 'esbuild';
import { ROOT } from './helpers.ts';
import { webBuildOptions } from '../scripts/build-web.mjs';

/** The edges: the only places that may use Node. */
const EDGES = ['src/platform/node/', 'src/cli/', 'src/index.ts'];

/**
 * Node globals that third-party code in the browser bundle uses only on a path a
 * browser never takes, as "module: global", with why.
 */
const GUARDED_IN_BUNDLE = new Map([
  ['node_modules/zstddec/dist/zstddec.mjs: Buffer', 'decodes its wasm with Buffer only where fetch is missing; browsers and workers have fetch'],
]);

/** Node's globals that browsers lack (require is checked apart: esbuild owns it while bundling). */
const NODE_GLOBALS = ['Buffer', 'process', 'global', 'setImmediate', 'clearImmediate', '__dirname', '__filename'];

const under = (file: string, prefixes: readonly string[]) =>
  prefixes.some((p) => (p.endsWith('/') ? file.startsWith(p) : file === p));
const isNodeSide = (file: string) => under(file, EDGES);

/** Repository-relative paths of the .ts files under a directory. */
const tsFiles = (dir: string) =>
  (readdirSync(join(ROOT, dir), { recursive: true }) as string[])
    .filter((f) => f.endsWith('.ts'))
    .map((f) => `${dir}/${f}`)
    .sort();

const srcFiles = tsFiles('src');
const coreFiles = srcFiles.filter((f) => !isNodeSide(f));

interface Import {
  from: string;
  specifier: string;
  /** the repository-relative file for a relative specifier, else the specifier */
  to: string;
}

function importsOf(file: string): Import[] {
  const { importedFiles } = ts.preProcessFile(readFileSync(join(ROOT, file), 'utf8'), true, true);
  return importedFiles.map(({ fileName: specifier }) => ({
    from: file,
    specifier,
    to: specifier.startsWith('.') ? relative(ROOT, resolve(ROOT, dirname(file), specifier)) : specifier,
  }));
}

const srcImports = srcFiles.flatMap(importsOf);

/** Fails naming each offending import. */
function noImports(found: Import[], what: string): void {
  const lines = found.map((i) => `${i.from} imports '${i.specifier}'`);
  if (lines.length) assert.fail(`${what}:\n  ${lines.join('\n  ')}`);
}

const tsconfig = ts.getParsedCommandLineOfConfigFile(join(ROOT, 'tsconfig.json'), {}, {
  ...ts.sys,
  onUnRecoverableConfigFileDiagnostic: (d) => assert.fail(ts.flattenDiagnosticMessageText(d.messageText, '\n')),
})!;
// tsconfig.json's strictness and module settings, without its Node types.  DOM
// also types the worker code (DOM and WebWorker cannot be loaded together).
const noNodeOptions: ts.CompilerOptions = {
  ...tsconfig.options,
  types: [],
  lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
  noEmit: true,
  declaration: false,
  sourceMap: false,
};
// Parsed once for both programs below (lib.dom.d.ts alone takes a second).
const parsed = new Map<string, ts.SourceFile | undefined>();

/** tsc's errors for these files (and whatever they import) with no Node types, as text. */
function typeCheckWithoutNode(files: string[], extra?: { name: string; text: string }): string {
  const host = ts.createCompilerHost(noNodeOptions);
  const read = host.getSourceFile.bind(host);
  host.getSourceFile = (name, version, ...rest) => {
    if (name === extra?.name) return ts.createSourceFile(name, extra.text, version);
    if (!parsed.has(name)) parsed.set(name, read(name, version, ...rest));
    return parsed.get(name);
  };
  const roots = [...files.map((f) => join(ROOT, f)), ...(extra ? [extra.name] : [])];
  const program = ts.createProgram(roots, noNodeOptions, host);
  // A dependency's `/// <reference types="node" />` would bring Node's types
  // back in and quietly defeat the check.
  const nodeTypes = program.getSourceFiles().filter((s) => s.fileName.includes('/node_modules/@types/node/'));
  const referrers = program
    .getSourceFiles()
    .filter((s) => s.typeReferenceDirectives.some((r) => r.fileName === 'node'))
    .map((s) => relative(ROOT, s.fileName));
  assert.equal(nodeTypes.length, 0, `@types/node was loaded, referenced by: ${referrers.join(', ') || '(unknown)'}`);
  return ts.formatDiagnostics(ts.getPreEmitDiagnostics(program), {
    getCanonicalFileName: (f) => f,
    getCurrentDirectory: () => ROOT,
    getNewLine: () => '\n',
  });
}

test('the core type-checks without Node: no Buffer, process, NodeJS.*, node: import or edge import', () => {
  assert.ok(existsSync(join(ROOT, 'src/generated/core-wasm.ts')), 'src/generated/core-wasm.ts is missing: `npm run build` generates it');
  // The check itself sees Node globals.
  const probe = { name: join(ROOT, 'src/ring-probe.ts'), text: 'export const b = Buffer.from("x"), p = process.argv;\n' };
  const seen = typeCheckWithoutNode([], probe);
  assert.match(seen, /ring-probe\.ts.*Cannot find name 'Buffer'/, seen);
  assert.match(seen, /ring-probe\.ts.*Cannot find name 'process'/, seen);

  const errors = typeCheckWithoutNode(coreFiles);
  if (errors) assert.fail(`The core (src/ outside the edges) must not need Node:\n${errors}`);
});

test('nothing outside src/cli/ imports from src/cli/', () => {
  const found = srcImports.filter((i) => !under(i.from, ['src/cli/']) && under(i.to, ['src/cli/']));
  noImports(found, 'The CLI is the outermost edge, yet these import it');
});

test('neither the core nor src/platform/web/ imports a Node edge or a node: module', () => {
  const found = srcImports.filter((i) => !isNodeSide(i.from) && (isNodeSide(i.to) || i.to.startsWith('node:')));
  noImports(found, 'Core files import Node code (move what they need inward, or pass it in as an argument)');
});

test('src/platform/node/ imports nothing from src/cli/', () => {
  const found = srcImports.filter((i) => under(i.from, ['src/platform/node/']) && under(i.to, ['src/cli/']));
  noImports(found, 'The Node platform imports the CLI');
});

test('assembly/ imports nothing from src/', () => {
  const found = tsFiles('assembly').flatMap(importsOf).filter((i) => under(i.to, ['src/']));
  noImports(found, 'The wasm core imports host code');
});

/** "module: global" for each Node global a browser bundle of these entries uses. */
async function nodeGlobalsInBundle(entries: Record<string, string> | { contents: string }): Promise<string[]> {
  const marker = '__wasync_node_global_';
  const { outputFiles } = await build({
    ...webBuildOptions,
    ...('contents' in entries
      ? { entryPoints: undefined, stdin: { contents: entries.contents, resolveDir: ROOT, loader: 'ts' as const } }
      : { entryPoints: entries }),
    define: Object.fromEntries(NODE_GLOBALS.map((g) => [g, `${marker}${g}`])),
    minify: false, // keeps esbuild's "// path" comment above each module
    sourcemap: false,
    metafile: false,
    write: false,
    outdir: '/nonexistent',
    logLevel: 'silent',
  });
  const found = new Set<string>();
  for (const { text } of outputFiles!) {
    const modules = [...text.matchAll(/^\/\/ (\S+)$/gm)].map((m) => ({ at: m.index!, path: m[1] }));
    const moduleAt = (at: number) => modules.findLast((m) => m.at < at)?.path ?? '(bundle prelude)';
    for (const m of text.matchAll(new RegExp(`${marker}(\\w+)`, 'g'))) found.add(`${moduleAt(m.index!)}: ${m[1]}`);
    // A require() esbuild could not resolve at build time goes through its
    // __require shim (declared `var __require`; `function __require` is its
    // CommonJS wrapper, which binds module and exports itself).
    for (const m of text.matchAll(/(var |function )?\b__require\b/g)) if (!m[1]) found.add(`${moduleAt(m.index!)}: require`);
  }
  return [...found].sort();
}

test('the browser bundle references no Node global', async () => {
  // The check itself sees them.
  const probe = await nodeGlobalsInBundle({ contents: 'const m = "x"; export const a = [process.argv, Buffer, require(m)];' });
  assert.deepEqual(probe, ['<stdin>: Buffer', '<stdin>: process', '<stdin>: require']);

  const used = await nodeGlobalsInBundle({ ...webBuildOptions.entryPoints, browser: 'src/browser.ts' });
  const found = used.filter((u) => !GUARDED_IN_BUNDLE.has(u));
  if (found.length) assert.fail(`The browser bundle uses Node globals (module: global):\n  ${found.join('\n  ')}`);
  // A guard that no longer matches anything should go.
  const stale = [...GUARDED_IN_BUNDLE.keys()].filter((g) => !used.includes(g));
  if (stale.length) assert.fail(`GUARDED_IN_BUNDLE lists uses the bundle no longer has: ${stale.join(', ')}`);
});
