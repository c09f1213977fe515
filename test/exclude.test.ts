// .caexclude handling (casync-format.md §7.1): the file syntax, fnmatch with
// FNM_PERIOD (against the C library's own fnmatch), and whole trees compared with
// what `casync make` + `casync list` keep.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, lstatSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ExcludeRules, parseExcludeFile } from '../src/format/exclude.ts';
import { fnmatch } from '../src/format/exclude-fnmatch.ts';
import { escapePath } from '../src/inspect/inspect-escape.ts';
import { WasyncError } from '../src/errors.ts';
import { casync, haveCasync, ok, requires, tempDir } from './helpers.ts';

const B = (s: string) => Buffer.from(s, 'latin1');

/** The C library's fnmatch(pattern, name, FNM_PERIOD), through koffi; null if unavailable. */
const libcFnmatch: ((p: Buffer, s: Buffer) => boolean) | null = (() => {
  try {
    const koffi = createRequire(import.meta.url)('koffi');
    const f = koffi.load('libc.so.6').func('int fnmatch(const uint8_t *p, const uint8_t *s, int flags)');
    const z = (b: Buffer) => Buffer.concat([b, Buffer.from([0])]);
    return (p: Buffer, s: Buffer) => f(z(p), z(s), 4 /* FNM_PERIOD */) === 0;
  } catch {
    return null;
  }
})();

// [pattern, name, glibc's answer]
const CASES: [string, string, boolean][] = [
  ['*.log', 'a.log', true],
  ['*.log', '.hidden.log', false],
  ['.*.log', '.hidden.log', true],
  ['?hidden', '.hidden', false],
  ['[.]hidden', '.hidden', false],
  ['\\.hidden', '.hidden', true],
  ['*', '.', false],
  ['a*b', 'a.b', true],
  ['a?c', 'a.c', true],
  ['[a-c]x', 'bx', true],
  ['[!a-c]x', 'bx', false],
  ['[^a-c]x', 'dx', true],
  ['[]]', ']', true],
  ['[!]]', 'a', true],
  ['[]-a]', '^', true],
  ['[a-]', '-', true],
  ['[ab', '[ab', true],
  ['[ab', 'a', false],
  ['\\[x\\]', '[x]', true],
  ['star\\*', 'star*', true],
  ['star\\*', 'starx', false],
  ['a\\', 'a\\', false],
  ['[[:digit:]]x', '7x', true],
  ['[[:bogus:]]', 'a', false],
  ['[a[:bogus:]]', 'a', true],
  ['[[:alpha:]', '[:alpha:', false],
  ['[[=a=]]', 'a', true],
  ['[[.a.]]', 'a', true],
  ['[[.ab.]]', 'a', false],
  ['[\x80-\xff]', '\xfe', true],
  ['?', '\xc3\xbc', false],
  ['??', '\xc3\xbc', true],
  ['*[!.]', 'x.', false],
  ['**a', 'ba', true],
];

test('fnmatch: FNM_PERIOD, brackets, escapes, glibc quirks', () => {
  for (const [p, s, want] of CASES) assert.equal(fnmatch(B(p), B(s)), want, `${p} vs ${s}`);
});

test('fnmatch agrees with the C library on random patterns', (t) => {
  if (!requires(t, libcFnmatch !== null, "koffi and glibc's fnmatch")) return;
  for (const [p, s, want] of CASES) assert.equal(libcFnmatch!(B(p), B(s)), want, `libc: ${p} vs ${s}`);
  const pieces = ['*', '?', '[', ']', '!', '^', '-', '\\', '.', 'a', 'b', 'z', ':', '=', '[:alpha:]', '[:bogus:]',
    '[=a=]', '[.a.]', '[.', '.]', '[:', ':]', '[!', '[]', 'A', '0', '\x80', '\xff', ' ', 'y', '[a-', '-]'];
  const chars = ['a', 'b', '.', '-', ']', '[', '\\', '!', '^', 'z', 'A', '0', '\x80', '\xff', ' ', ':', '='];
  let seed = 7;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n;
  for (let i = 0; i < 30000; i++) {
    let p = '';
    for (let k = rnd(10); k >= 0; k--) p += pieces[rnd(pieces.length)];
    let s = '';
    for (let k = rnd(6); k >= 0; k--) s += chars[rnd(chars.length)];
    assert.equal(fnmatch(B(p), B(s)), libcFnmatch!(B(p), B(s)), `${JSON.stringify(p)} vs ${JSON.stringify(s)}`);
  }
});

test('parsing: blanks, comments, negation, anchoring, directory-only', () => {
  const r = parseExcludeFile(B(' \t*.log \t\n# c\n\n!keep.log\n//a//b/\nd/\n x\r\n'), 'f');
  assert.deepEqual(
    r.map((x) => [x.kind, Buffer.from(x.glob).toString('latin1'), x.anchored, x.directoryOnly, x.rest.length]),
    [
      ['positive', '*.log', false, false, 0],
      ['negative', 'keep.log', false, false, 0],
      ['inner', 'a', true, true, 1],
      ['positive', 'd', true, true, 0],
      ['positive', 'x\r', false, false, 0],
    ],
  );
  assert.equal(Buffer.from(r[2].rest[0].glob).toString(), 'b');
  assert.deepEqual([r[2].rest[0].kind, r[2].rest[0].anchored, r[2].rest[0].directoryOnly], ['positive', true, true]);
  // NUL bytes end lines too
  assert.equal(parseExcludeFile(B('a\0b'), 'f').length, 2);
});

test('invalid files are refused, naming the file and the line', () => {
  for (const [content, line] of [
    ['ok\na/./b\n', 2],
    ['!\n', 1],
    ['#\n/\n', 2],
    ['x/../y', 1],
    ['..', 1],
    ['a\n\n' + 'x'.repeat(65536) + '\n', 3],
  ] as const) {
    assert.throws(
      () => ExcludeRules.root().withFile(B(content), 'dir/.caexclude'),
      (e: unknown) => e instanceof WasyncError && e.code === 'EFORMAT' && e.message.startsWith('dir/.caexclude: ') && e.message.includes(`line ${line}:`),
      JSON.stringify(content.slice(0, 20)),
    );
  }
  assert.doesNotThrow(() => ExcludeRules.root().withFile(B('x'.repeat(65535)), 'f'));
});

test('rules passed down the tree: unanchored continue, anchored hand down their rest', () => {
  const top = ExcludeRules.root().withFile(B('*.o\n!keep.o\n/build/\nsrc/*.tmp\n*/cache/\n.*\n'), 'x');
  const no = (r: ExcludeRules, n: string, dir = false) => assert.equal(r.excludes(B(n), dir), false, n);
  const yes = (r: ExcludeRules, n: string, dir = false) => assert.equal(r.excludes(B(n), dir), true, n);
  yes(top, 'a.o'); no(top, 'keep.o'); yes(top, 'build', true); no(top, 'build'); no(top, 'x.tmp'); yes(top, '.git', true);
  const src = top.enter(B('src'));
  yes(src, 'x.tmp'); yes(src, 'b.o'); no(src, 'build', true); yes(src, '.git', true); yes(src, 'cache', true); no(src, 'cache');
  const lib = top.enter(B('lib'));
  yes(lib, 'cache', true); no(lib, 'cache'); no(lib, 'x.tmp');
  assert.equal(lib.enter(B('cache')).excludes(B('cache'), true), false);
  // a negative below cancels a positive from above, and the other way round
  const sub = src.withFile(B('!x.tmp\nkeep.o\n'), 'y');
  no(sub, 'x.tmp'); no(sub, 'keep.o'); yes(sub, 'c.o');
  assert.ok(ExcludeRules.root().empty);
  assert.ok(ExcludeRules.root().withFile(B('# nothing\n\n'), 'z').empty);
  assert.throws(() => top.excludes(B('..'), true), TypeError);
});

// ---------------------------------------------------------------------------
// Whole trees against casync.

const FILES = [
  'a.log', 'b.txt', '.hidden.log', '.cfg', 'c.TXT', '[x]', 'x1', 'x2', 'xa', 'sp ace.log', '\xff.bin', 'star*', 'q?', 'br]k',
  'dir/a.log', 'dir/b.txt', 'dir/keep.log', 'dir/sub/a.log', 'dir/sub/deep.txt', 'dir/sub/x/y.txt', 'dir/.hidden.log',
  'other/a.log', 'other/dir/b.txt', 'other/sub/c.txt', '.git/config', '.git/objects/o1', 'build/out.o', 'build/keep/a.o', 'x3/x1',
];

function makeTree(root: string, excludes: Record<string, string>) {
  for (const f of FILES) {
    const p = B(join(root, f));
    mkdirSync(B(join(root, f, '..')), { recursive: true });
    writeFileSync(p, f);
  }
  for (const [dir, content] of Object.entries(excludes)) writeFileSync(B(join(root, dir, '.caexclude')), B(content));
}

/** What our rules keep, as `casync list` would name it, in archive order. */
function kept(root: string): string[] {
  const out = ['.'];
  const walk = (abs: Buffer, rel: Buffer, rules: ExcludeRules) => {
    const names = (readdirSync(abs, { encoding: 'buffer' }) as Buffer[]).sort(Buffer.compare);
    if (names.some((n) => n.equals(B('.caexclude')))) {
      rules = rules.withFile(readFileSync(Buffer.concat([abs, B('/.caexclude')])), `${rel.toString('latin1') || '.'}/.caexclude`);
    }
    for (const name of names) {
      const childAbs = Buffer.concat([abs, B('/'), name]);
      const isDir = lstatSync(childAbs).isDirectory();
      const { excluded, rules: below } = rules.test(name, isDir);
      if (excluded) continue;
      const path = rel.length ? Buffer.concat([rel, B('/'), name]) : name;
      out.push(escapePath(path));
      if (isDir) walk(childAbs, path, below);
    }
  };
  walk(B(root), Buffer.alloc(0), ExcludeRules.root());
  return out;
}

function casyncKept(dir: string, tree: string, extra: string[] = []): string[] | string {
  const archive = join(dir, `${Math.random().toString(36).slice(2)}.catar`);
  const r = casync(['make', ...extra, archive, tree]);
  if (r.status !== 0) return r.stderr;
  return ok(casync(['list', archive])).stdout.split('\n').filter(Boolean).map((l) => l.slice(11));
}

const SCENARIOS: Record<string, string>[] = [
  { '.': '*.log\n!keep.log\nbuild/\n' },
  { '.': '/dir/sub\ndir/*.txt\n' },
  { '.': '*.txt\n', dir: '!b.txt\n', 'dir/sub': '*\n' },
  { '.': '.*\n!.cfg\n' },
  { '.': '[ab].*\nx[!0-9]\nx[0-9]/\n\\[x\\]\nstar\\*\nq\\?\nbr]k\n' },
  { '.': '*/\n' },
  { '.': 'dir/sub/x/y.txt\n*/a.log\ndir/*/\n' },
  { '.': 'dir\n', dir: '!b.txt\n' },
  { '.': '!b.txt\n', dir: '*.txt\n' },
  { '.': '*.log\n!dir/a.log\n' },
  { '.': '*.log\r\n  b.txt  \n# *.TXT\n\0x1\n' },
  { '.': '\xff*\n*.TX[Tt]\n' },
  { '.': '.caexclude\nsub/\n', dir: 'sub/\n' },
  { '.': '', other: '# only a comment\n' },
  { '.': 'other/*\n!other/dir\n', other: '!sub\n' },
  { '.': '[[:upper:]]*\n[[:digit:]]\n*[[:digit:]]\n' },
];

test('trees with .caexclude files keep what casync keeps', (t) => {
  if (!requires(t, haveCasync, 'the casync binary')) return;
  const tmp = tempDir();
  const full = kept((makeTree(join(tmp, 'plain'), {}), join(tmp, 'plain'))).length;
  let excluding = 0;
  for (const [i, scenario] of SCENARIOS.entries()) {
    const tree = join(tmp, `s${i}`);
    makeTree(tree, scenario);
    const mine = kept(tree);
    assert.deepEqual(mine, casyncKept(tmp, tree), JSON.stringify(scenario));
    // every .caexclude written is itself listed unless excluded; count real exclusions
    if (mine.length < full + Object.keys(scenario).length) excluding++;
  }
  assert.ok(excluding >= SCENARIOS.length - 1, `${excluding} scenarios exclude anything`);
});

test('random .caexclude files at several levels keep what casync keeps', (t) => {
  if (!requires(t, haveCasync, 'the casync binary')) return;
  const tmp = tempDir();
  const pool = ['*.log', '!*.log', '!keep.log', '*.txt', '!b.txt', 'dir/', '/dir', 'sub', '!sub', '*/a.log', 'dir/sub/',
    '.*', '!.hidden.log', '[ab]*', '[!ab]*', 'x?', 'x[0-9]', '!x1', '*', '!*', 'sub/*.txt', '/other/dir/', 'o*/',
    '!dir', '*.o', 'keep/', 'objects', '?.*', '[.]*', 'x3/x1'];
  const dirs = ['.', 'dir', 'dir/sub', 'other', 'build', 'x3'];
  let seed = 99;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n;
  for (let i = 0; i < 40; i++) {
    const scenario: Record<string, string> = {};
    for (const d of dirs) {
      if (rnd(3) === 0) continue;
      const lines: string[] = [];
      for (let k = 1 + rnd(3); k > 0; k--) lines.push(pool[rnd(pool.length)]);
      scenario[d] = lines.join('\n') + '\n';
    }
    const tree = join(tmp, `r${i}`);
    makeTree(tree, scenario);
    assert.deepEqual(kept(tree), casyncKept(tmp, tree), JSON.stringify(scenario));
  }
});

test('invalid .caexclude: casync fails, and so do we; unless its directory is excluded', (t) => {
  if (!requires(t, haveCasync, 'the casync binary')) return;
  const tmp = tempDir();
  const bad = join(tmp, 'bad');
  makeTree(bad, { dir: 'ok\nsub/../x\n' });
  assert.match(casyncKept(tmp, bad) as string, /Invalid argument/);
  assert.throws(() => kept(bad), /dir\/\.caexclude: line 2: invalid pattern "sub\/\.\.\/x": "\.\." component/);
  const hidden = join(tmp, 'hidden');
  makeTree(hidden, { '.': 'dir\n', dir: '!\n' });
  assert.deepEqual(kept(hidden), casyncKept(tmp, hidden));
});

test('Debian casync honours .caexclude even with --exclude-file=no', (t) => {
  if (!requires(t, haveCasync, 'the casync binary')) return;
  const tmp = tempDir();
  const tree = join(tmp, 'tree');
  makeTree(tree, { '.': '*.log\n' });
  assert.deepEqual(casyncKept(tmp, tree, ['--exclude-file=no']), kept(tree));
});
