// The same bin/wasync.js under Node, Bun and Deno (the dev dependencies
// @oven/bun-linux-x64 and deno, binaries from the npm registry): blob and tree
// make, extract, list, mtree, stat, digest and verify, and the library imported
// by the package's name.  Each runtime works in a directory of its own from the
// same inputs; every printed line, index, store and extracted file must be
// Node's, byte for byte, and extracted metadata (modes, sizes, nanosecond
// times, symlink targets) too.  The blob is over 16 MiB so that make and
// extract run their jobs on worker threads.
//
// A runtime that is not installed skips with the reason, and fails under CI=true.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT, WASYNC, requires, sha256, storeChunks, tempDir } from './helpers.ts';
import { smallBlob, smallTree, temporaries } from './api-fixtures.ts';

interface Runtime {
  name: string;
  /** the executable and the arguments before the script */
  command: string[];
  /** why it cannot run, or null */
  missing: string | null;
}

function runtime(name: string, candidates: string[], args: string[]): Runtime {
  const exe = candidates.find((c) => existsSync(c));
  if (!exe) return { name, command: [], missing: `${name} (npm install: ${candidates.map((c) => relative(ROOT, c)).join(' or ')} is absent)` };
  const v = spawnSync(exe, ['--version'], { encoding: 'utf8' });
  if (v.status !== 0) return { name, command: [], missing: `${name} (${exe} --version failed: ${v.stderr || v.error})` };
  return { name, command: [exe, ...args], missing: null };
}

const bin = (...p: string[]) => join(ROOT, 'node_modules', ...p);
const RUNTIMES: Runtime[] = [
  runtime('bun', [bin('.bin', 'bun'), bin('@oven', 'bun-linux-x64', 'bin', 'bun')], []),
  runtime('deno', [bin('.bin', 'deno'), bin('deno', 'deno')], ['run', '-A']),
];

const dir = tempDir('wasync-runtimes-');
const img = join(dir, 'img');
const tree = join(dir, 'tree');
writeFileSync(img, smallBlob('runtimes', 18));
smallTree(tree, 'runtimes');

interface Step {
  args: string[];
  status: number | null;
  stdout: string;
  stderr: string;
}

/** The smoke run in `out`: every command and what it printed. */
function smoke(command: string[], out: string): Step[] {
  mkdirSync(out);
  const o = (f: string) => join(out, f);
  const script: string[][] = [
    ['make', o('img.caibx'), img],
    ['make', o('tree.caidx'), tree],
    ['make', o('tree.catar'), tree],
    ['extract', o('img.caibx'), o('img.out')],
    ['extract', o('tree.caidx'), o('tree.out')],
    ['extract', o('tree.catar'), o('tree.out2')],
    ['list', o('tree.caidx')],
    ['list', tree],
    ['mtree', o('tree.caidx')],
    ['mtree', tree],
    ['mtree', o('tree.out')],
    ['stat', o('tree.catar'), 'sub/link'],
    ['digest', o('img.caibx')],
    ['digest', img],
    ['digest', o('tree.caidx')],
    ['digest', tree],
    ['digest', o('tree.out2')],
    ['verify', o('img.caibx')],
  ];
  const steps = script.map((args) => {
    const r = spawnSync(command[0], [...command.slice(1), WASYNC, ...args], { cwd: out, encoding: 'utf8', maxBuffer: 1 << 26 });
    if (r.error) throw r.error;
    return { args, status: r.status, stdout: r.stdout, stderr: r.stderr };
  });
  const api = spawnSync(command[0], [...command.slice(1), join(ROOT, 'test', 'runtime-api.mjs'), img, tree], { cwd: ROOT, encoding: 'utf8' });
  steps.push({ args: ['(library)'], status: api.status, stdout: api.stdout, stderr: api.stderr });
  return steps;
}

/** Every entry under `root`: type, mode, size, times in ns, and contents or target. */
function describeTree(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    const p = join(root, rel);
    const st = lstatSync(p, { bigint: true });
    let what = '';
    if (st.isSymbolicLink()) what = `-> ${readlinkSync(p)}`;
    else if (st.isFile()) what = sha256(readFileSync(p));
    out.push(`${rel || '.'} mode=${st.mode.toString(8)} size=${st.isDirectory() ? '-' : st.size} mtime=${st.mtimeNs} uid=${st.uid} ${what}`);
    if (st.isDirectory()) for (const n of readdirSync(p).sort()) walk(rel ? `${rel}/${n}` : n);
  };
  walk('');
  return out;
}

/** What a run left, to compare: relative paths relative to its directory, so runs compare. */
const normalize = (s: string, out: string) => s.split(out).join('<out>');

const reference = smoke([process.execPath], join(dir, 'node'));

test('the reference run under Node succeeds', () => {
  for (const s of reference) assert.equal(s.status, 0, `node wasync ${s.args.join(' ')}: ${s.stderr}`);
});

for (const rt of RUNTIMES) {
  test(`${rt.name}: bin/wasync.js and the library give Node's results, byte for byte`, (t) => {
    if (!requires(t, rt.missing === null, rt.missing ?? '')) return;
    const version = spawnSync(rt.command[0], ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0];
    t.diagnostic(`${rt.name}: ${version}`);
    const out = join(dir, rt.name);
    const steps = smoke(rt.command, out);
    const ref = join(dir, 'node');
    steps.forEach((s, i) => {
      const what = `${rt.name} wasync ${s.args.join(' ')}`;
      assert.equal(s.status, 0, `${what}: exit ${s.status}: ${s.stderr}`);
      assert.equal(normalize(s.stdout, out), normalize(reference[i].stdout, ref), `${what}: standard output`);
      assert.equal(normalize(s.stderr, out), normalize(reference[i].stderr, ref), `${what}: standard error`);
    });
    for (const f of ['img.caibx', 'tree.caidx', 'tree.catar', 'img.out']) {
      assert.ok(readFileSync(join(out, f)).equals(readFileSync(join(ref, f))), `${rt.name}: ${f} differs from Node's`);
    }
    assert.deepEqual(storeChunks(join(out, 'default.castr')), storeChunks(join(ref, 'default.castr')), `${rt.name}: the store's chunks`);
    assert.ok(readFileSync(join(out, 'img.out')).equals(readFileSync(img)));
    for (const d of ['tree.out', 'tree.out2']) {
      assert.deepEqual(describeTree(join(out, d)), describeTree(join(ref, d)), `${rt.name}: ${d} (contents and metadata)`);
    }
    assert.deepEqual(describeTree(join(out, 'tree.out')).slice(1), describeTree(tree).slice(1), 'the extracted tree is the source tree');
    assert.deepEqual(temporaries(out), []);
  });
}
