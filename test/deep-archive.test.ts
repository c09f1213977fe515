// A tree 10,000 directories deep (paths of 20,000 bytes, far past PATH_MAX): make
// archives it, list, mtree and stat stream its 100 MB of paths in time and memory
// linear in what they print, extraction keeps a few hundred descriptors open
// rather than one per level, and an archive deeper than DEPTH_MAX (16,384) is
// refused with one line naming it and the offset.  casync stops at 64 levels:
// its make says "Argument list too long", its list "File too large".
//
// Time and peak RSS are measured by python's getrusage (as bench/ does) and
// asserted generously: the defects were 14 s and 2.4 GB for list, EMFILE for
// extraction under a 256-descriptor limit, ENAMETOOLONG for make.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CatarEncoder } from '../src/format/catar-encoder.ts';
import { DEPTH_MAX } from '../src/format/catar-constants.ts';
import { basicNode, S_IFDIR, S_IFREG } from '../src/format/catar-node.ts';
import { archiveFlags } from '../src/platform/node/operations/common.ts';
import { casync, haveCasync, ok, requires, sha512_256, wasync, WASYNC } from './helpers.ts';

const DEPTH = 10_000;
const base = mkdtempSync(join(process.env.WASYNC_TEST_TMP ?? tmpdir(), 'wasync-deep-'));
const at = (...p: string[]) => join(base, ...p);

/** A chain of `depth` directories named d under `root`, a file f at the bottom; built by relative steps, as no path reaches it. */
function deepTree(root: string, depth: number) {
  const cwd = process.cwd();
  mkdirSync(root);
  process.chdir(root);
  try {
    for (let i = 0; i < depth; i++) {
      mkdirSync('d');
      process.chdir('d');
    }
    writeFileSync('f', 'hello\n');
  } finally {
    process.chdir(cwd);
  }
}

before(() => {
  const t0 = Date.now();
  deepTree(at('tree'), DEPTH);
  const t1 = Date.now();
  ok(wasync(['make', at('deep.catar'), at('tree')]), 'make');
  process.stderr.write(`# tree made in ${t1 - t0} ms, archived in ${Date.now() - t1} ms\n`);
});

// Node's rmSync walks by path, which these trees are too deep for; rm uses openat.
after(() => spawnSync('rm', ['-rf', base]));

interface Measured {
  status: number;
  seconds: number;
  maxRssMiB: number;
  bytes: number;
  sha256: string;
  lastLine: string;
  stderr: string;
}

/** Runs wasync reading its standard output as it comes (counted and hashed, never held); time and peak RSS from getrusage. */
function measured(args: string[], shell = ''): Measured {
  const py = [
    'import hashlib, resource, subprocess, sys, time',
    't = time.monotonic()',
    'p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)',
    'h = hashlib.sha256(); n = 0; tail = b""',
    'while True:',
    '    b = p.stdout.read(1 << 20)',
    '    if not b: break',
    '    h.update(b); n += len(b); tail = (tail + b)[-30000:]',
    'err = p.stderr.read(); p.wait()',
    'e = time.monotonic() - t',
    'last = tail.rstrip(b"\\n").split(b"\\n")[-1].decode("latin1")',
    'print(p.returncode, e, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, n, h.hexdigest(), last)',
    'sys.stderr.write(err.decode("utf8", "replace"))',
  ].join('\n');
  const cmd = shell ? ['sh', '-c', `${shell}; exec "$0" "$@"`, process.execPath, WASYNC, ...args] : [process.execPath, WASYNC, ...args];
  const r = spawnSync('python3', ['-c', py, ...cmd], { encoding: 'utf8', cwd: base, maxBuffer: 1 << 26 });
  if (r.error) throw r.error;
  const [status, seconds, rss, bytes, sha256, ...last] = r.stdout.trim().split(' ');
  return { status: Number(status), seconds: Number(seconds), maxRssMiB: Number(rss) / 1024, bytes: Number(bytes), sha256, lastLine: last.join(' '), stderr: r.stderr };
}

function within(m: Measured, what: string, seconds: number, mib: number) {
  process.stderr.write(`# ${what}: ${m.seconds.toFixed(2)} s, ${m.maxRssMiB.toFixed(0)} MiB, ${m.bytes} bytes out\n`);
  assert.equal(m.status, 0, `${what}: ${m.stderr}`);
  assert.ok(m.seconds < seconds, `${what} took ${m.seconds.toFixed(2)} s`);
  assert.ok(m.maxRssMiB < mib, `${what} peaked at ${m.maxRssMiB.toFixed(0)} MiB`);
}

const chain = (n: number) => Array(n).fill('d').join('/');
// ". " then one line per directory (11 bytes of mode and space, the path, a newline), then the file's.
const LIST_BYTES = 13 + DEPTH * (DEPTH + 1) + 11 * DEPTH + (11 + 2 * DEPTH + 1 + 1);

test('make archives a tree 10,000 directories deep (casync refuses past 64 levels)', (t) => {
  assert.equal(statSync(at('deep.catar')).size, 1_460_232);
  const m = measured(['make', '--store=s.castr', 'deep.caidx', 'tree']);
  within(m, 'make', 20, 400);
  if (!requires(t, haveCasync, 'casync')) return;
  const c = casync(['make', at('casync.catar'), at('tree')]);
  assert.notEqual(c.status, 0);
  assert.match(c.stderr, /Argument list too long/);
});

test('list of the 10,000-deep archive streams its 100 MB in linear time and bounded memory', (t) => {
  const m = measured(['list', 'deep.catar']);
  within(m, 'list', 8, 300);
  assert.equal(m.bytes, LIST_BYTES);
  assert.match(m.lastLine, new RegExp(`^-rw-r--r-- ${chain(DEPTH)}/f$`));
  // The index gives the same text.
  const x = measured(['list', '--store=s.castr', 'deep.caidx']);
  within(x, 'list of the index', 8, 300);
  assert.equal(x.sha256, m.sha256);
  if (!requires(t, haveCasync, 'casync')) return;
  const c = casync(['list', at('deep.catar')]);
  assert.notEqual(c.status, 0);
  assert.match(c.stderr, /File too large/);
});

let archiveMtree: Measured | undefined;
const mtreeOfArchive = () => (archiveMtree ??= measured(['mtree', 'deep.catar']));

test('mtree of the archive and of the tree itself stream alike; stat finds the deepest file', () => {
  const m = mtreeOfArchive();
  within(m, 'mtree', 8, 300);
  assert.match(m.lastLine, new RegExp(`^${chain(DEPTH)}/f type=file .*size=6 .*sha512256digest=${sha512_256(Buffer.from('hello\n'))}$`));
  const d = measured(['mtree', 'tree']);
  within(d, 'mtree of the directory', 10, 300);
  assert.equal(d.sha256, m.sha256);
  const s = measured(['stat', 'deep.catar', `${chain(DEPTH)}/f`]);
  within(s, 'stat', 5, 300);
  const r = ok(wasync(['stat', at('deep.catar'), `${chain(DEPTH)}/f`]));
  assert.match(r.stdout, new RegExp(`^    File: ${chain(DEPTH)}/f\\n    Mode: -rw-r--r--\\n`));
  assert.match(r.stdout, new RegExp(`\\n  Digest: ${sha512_256(Buffer.from('hello\n'))}\\n`));
});

test('extract of the 10,000-deep archive under a 256-descriptor limit, the tree then as archived', () => {
  const m = measured(['extract', 'deep.catar', 'out'], 'ulimit -n 256');
  within(m, 'extract', 20, 300);
  assert.equal(measured(['mtree', 'out']).sha256, mtreeOfArchive().sha256);
});

/** The archive of `depth` nested directories with a file at the bottom, as make would write it (make refuses past DEPTH_MAX). */
function encodedChain(depth: number): Buffer {
  const enc = new CatarEncoder(archiveFlags(undefined));
  const parts: Uint8Array[] = [];
  const time = 1_700_000_000_000_000_000n;
  const dir = () => enc.node(basicNode(S_IFDIR | 0o755, 0, 0, time, 0n));
  parts.push(dir());
  for (let i = 0; i < depth; i++) parts.push(enc.filename(Buffer.from('d')), dir());
  parts.push(enc.filename(Buffer.from('f')), enc.node({ ...basicNode(S_IFREG | 0o644, 0, 0, time, 0n), size: 6 }), Buffer.from('hello\n'));
  enc.payloadDone(6);
  for (let i = 0; i <= depth; i++) parts.push(enc.endDirectory());
  return Buffer.concat(parts);
}

test(`deeper than ${DEPTH_MAX} directories: make, list and stat refuse with one line naming the file and where`, (t) => {
  assert.equal(DEPTH_MAX, 16_384);
  // At the limit: the file lies DEPTH_MAX levels down.
  writeFileSync(at('limit.catar'), encodedChain(DEPTH_MAX - 1));
  assert.equal(measured(['stat', 'limit.catar', `${chain(DEPTH_MAX - 1)}/f`]).status, 0);
  // One more level.
  writeFileSync(at('over.catar'), encodedChain(DEPTH_MAX));
  const m = measured(['list', 'over.catar']);
  assert.equal(m.status, 1);
  const line = /^wasync: over\.catar: an entry more than 16384 directories deep \(wasync reads at most that many levels\) \(at byte \d+\)\n$/;
  assert.match(m.stderr, line);
  const s = wasync(['stat', at('over.catar'), `${chain(DEPTH_MAX)}/f`]);
  assert.equal(s.status, 1);
  assert.match(s.stderr.replace(at('over.catar'), 'over.catar'), line);

  // make keeps a descriptor open per level, as casync does: the hard limit must allow that many.
  const hard = Number(spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout.trim());
  if (!requires(t, hard > DEPTH_MAX + 512, `a descriptor limit above ${DEPTH_MAX + 512} (ulimit -Hn is ${hard})`)) return;
  deepTree(at('overtree'), DEPTH_MAX);
  const r = measured(['make', 'overtree.catar', 'overtree']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^wasync: overtree(\/d){16384}\/f: more than 16384 directories deep \(wasync archives at most that many levels\)\n$/);
  assert.deepEqual(readdirSync(base).filter((f) => f.startsWith('overtree.') || f.startsWith('.#')), [], 'no archive written, no temporary left');
  if (!requires(t, haveCasync, 'casync')) return;
  const c = casync(['list', at('over.catar')]);
  assert.notEqual(c.status, 0);
  assert.match(c.stderr, /File too large/);
});
