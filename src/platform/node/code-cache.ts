// Loads the command line's CommonJS bundles (dist/cli/*.cjs, made by
// scripts/build-cli.mjs) with the V8 code cache written beside each at build
// time (*.cjs.cache, after a warm-up run, so that it holds the functions that
// ran as well as the top level).  Parsing and compiling the bundle cost every
// process and every worker thread of the pool some 60 ms of CPU; Node 20 has
// no module.enableCompileCache, and ES modules take no cached data, hence
// CommonJS through vm.Script.  A cache that V8 rejects (another Node, other
// flags) or a missing one means a plain compile, said nowhere.

import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire, Module } from 'node:module';
import { dirname } from 'node:path';
import vm from 'node:vm';

const scripts = new Map<string, vm.Script>();

/** Runs the CommonJS bundle at `file` (an absolute path) and gives its exports. */
export function loadBundle(file: string): Record<string, unknown> {
  const source = readFileSync(file, 'utf8');
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(`${file}.cache`);
  } catch {
    // no cache: compile as Node would
  }
  const script = new vm.Script(Module.wrap(source), {
    filename: file,
    cachedData,
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  scripts.set(file, script);
  const module = { exports: {} as Record<string, unknown> };
  script.runInThisContext()(module.exports, createRequire(file), module, file, dirname(file));
  return module.exports;
}

/** Whether V8 took the cache of a bundle this thread loaded. */
export const cacheTaken = (file: string) => scripts.get(file)?.cachedDataRejected === false;

/** Writes the code cache of a bundle this thread loaded (the build does, after a warm-up). */
export function writeCodeCache(file: string): void {
  const tmp = `${file}.cache.${process.pid}.tmp`;
  writeFileSync(tmp, scripts.get(file)!.createCachedData());
  renameSync(tmp, `${file}.cache`);
}
