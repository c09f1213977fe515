// Trees against the casync binary: the same .catar and .caidx bytes, chunk set and
// printed digest under several feature-flag sets, and extraction both ways
// restoring the same tree (casync mtree, getfacl, getfattr, lsattr).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { casync, haveCasync, isRoot, ok, requires, storeChunks, tempDir, wasync } from './helpers.ts';
import { generatedTree, vectorTree } from './tree-fixtures.ts';
import { mounted } from './linux-fixtures.ts';

const FLAG_SETS = [
  [],
  ['--with=unix'],
  ['--with=fat'],
  ['--without=all'],
  ['--with=best', '--without=acl'],
  ['--digest=sha256'],
];

interface Tree {
  name: string;
  path: string;
}

let treeSets = 0;

/** Builds the trees: tree2 on ext4 (chattr, ACLs, trusted xattrs), the rest in a temp dir. */
function trees(t: Parameters<typeof requires>[0]): Tree[] | null {
  if (!requires(t, haveCasync, 'the casync binary (apt-get install casync)')) return null;
  if (!requires(t, isRoot, 'root (the trees have several owners and device nodes)')) return null;
  const dir = tempDir();
  const ext4 = mounted('ext4');
  if (!requires(t, ext4 !== null, 'root, mkfs.ext4 and loop mounts (tree2 needs ext4)')) return null;
  const out: Tree[] = [];
  for (const n of [0, 1, 3] as const) {
    const path = join(dir, `tree${n}`);
    assert.ok(vectorTree(n, path), `mk_tree${n}.sh`);
    out.push({ name: `tree${n}`, path });
  }
  const tree2 = join(ext4!, `tree2-${process.pid}-${treeSets++}`);
  assert.ok(vectorTree(2, tree2), 'mk_tree2.sh');
  out.push({ name: 'tree2', path: tree2 });
  const gen = join(dir, 'generated');
  generatedTree(gen, { longNames: true, smallFiles: 1500 });
  out.push({ name: 'generated', path: gen });
  return out;
}

test('make: identical .catar and .caidx, chunk set and digest', async (t) => {
  const all = trees(t);
  if (!all) return;
  const work = tempDir();
  for (const tree of all) {
    for (const flags of FLAG_SETS) {
      await t.test(`${tree.name} ${flags.join(' ') || '(default)'}`, () => {
        const p = (s: string) => join(work, `${tree.name}${flags.join('')}-${s}`);
        const w = ok(wasync(['make', ...flags, p('w.catar'), tree.path]), 'wasync make catar');
        const c = ok(casync(['make', ...flags, p('c.catar'), tree.path]), 'casync make catar');
        assert.equal(w.stdout, c.stdout, 'printed digest');
        assert.ok(readFileSync(p('w.catar')).equals(readFileSync(p('c.catar'))), 'catar bytes');
        const wi = ok(wasync(['make', ...flags, `--store=${p('w.castr')}`, p('w.caidx'), tree.path]));
        const ci = ok(casync(['make', ...flags, `--store=${p('c.castr')}`, p('c.caidx'), tree.path]));
        assert.equal(wi.stdout, ci.stdout, 'printed digest (caidx)');
        assert.ok(readFileSync(p('w.caidx')).equals(readFileSync(p('c.caidx'))), 'caidx bytes');
        assert.deepEqual(storeChunks(p('w.castr')), storeChunks(p('c.castr')), 'chunk set');
      });
    }
  }
});

/** Per-file blocks of a recursive listing tool, keyed by path. */
function blocks(tool: string, args: string[], dir: string): Map<string, string> {
  const r = spawnSync(tool, args, { cwd: dir, encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
  const m = new Map<string, string>();
  if (tool === 'lsattr') {
    for (const line of r.stdout.split('\n')) {
      const match = /^(\S+) (\.\/.*)$/.exec(line);
      if (match) m.set(match[2], match[1]);
    }
    return m;
  }
  for (const block of r.stdout.split('\n\n')) {
    const match = /^# file: (.*)$/m.exec(block);
    if (match) m.set(match[1].replace(/^\.\//, ''), block.trim());
  }
  return m;
}

/** What the extracted tree has must equal the original, for every file it has. */
function sameMetadata(original: string, extracted: string, what: string) {
  for (const [tool, args] of [
    ['getfacl', ['-R', '-s', '-p', '.']],
    ['getfattr', ['-R', '-d', '-m', '-', '-h', '.']],
    ['lsattr', ['-R', '-a', '.']],
  ] as const) {
    const a = blocks(tool, [...args], original);
    const b = blocks(tool, [...args], extracted);
    for (const [path, value] of b) {
      if (tool === 'lsattr' && path.endsWith('/..')) continue;
      assert.equal(value, a.get(path), `${what}: ${tool} of ${path}`);
    }
  }
}

const mtree = (target: string, extra: string[] = []) => ok(casync(['mtree', ...extra, target])).stdout;

test('extraction both ways restores the same tree', async (t) => {
  const all = trees(t);
  if (!all) return;
  const work = tempDir();
  for (const tree of all) {
    await t.test(tree.name, () => {
      const p = (s: string) => join(work, `${tree.name}-${s}`);
      ok(wasync(['make', `--store=${p('w.castr')}`, p('w.caidx'), tree.path]));
      ok(casync(['make', `--store=${p('c.castr')}`, p('c.caidx'), tree.path]));
      const want = mtree(tree.path);
      // wasync extracts what casync made, root times included.
      ok(wasync(['extract', `--store=${p('c.castr')}`, p('c.caidx'), p('by-wasync')]));
      assert.equal(mtree(p('by-wasync')), want, 'wasync extraction');
      sameMetadata(tree.path, p('by-wasync'), 'wasync extraction');
      if (tree.name === 'generated') return; // casync 2 cannot extract its 255-byte name
      ok(casync(['extract', `--store=${p('w.castr')}`, p('w.caidx'), p('by-casync')]));
      // casync leaves the root directory's time as it was.
      const dropRootTime = (s: string) => s.replace(/^(\. .*?) time=\S+/, '$1');
      assert.equal(dropRootTime(mtree(p('by-casync'))), dropRootTime(want), 'casync extraction');
      sameMetadata(tree.path, p('by-casync'), 'casync extraction');
    });
  }
});

test('a 255-byte name and the root time: where casync 2 fails, wasync does it right', (t) => {
  if (!requires(t, haveCasync && isRoot, 'casync and root')) return;
  const dir = tempDir();
  const tree = join(dir, 'long');
  generatedTree(tree, { longNames: true, smallFiles: 3 });
  ok(casync(['make', join(dir, 'long.catar'), tree]));
  const failed = casync(['extract', join(dir, 'long.catar'), join(dir, 'by-casync')]);
  assert.notEqual(failed.status, 0, 'casync 2 cannot extract a 255-byte name');
  ok(wasync(['extract', join(dir, 'long.catar'), join(dir, 'by-wasync')]));
  assert.equal(readFileSync(join(dir, 'by-wasync', 'n'.repeat(255)), 'utf8'), 'long name\n');
  assert.equal(statSync(join(dir, 'by-wasync')).mtimeMs, statSync(tree).mtimeMs);
  assert.equal(mtree(join(dir, 'by-wasync')), mtree(tree));
  execFileSync('rm', ['-rf', join(dir, 'by-casync')]);
});
