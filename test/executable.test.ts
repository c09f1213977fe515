// The single executable (dist/wasync, `npm run build:exe`; built here afresh,
// some 5 s, so that it is never a stale one) on a machine without Node: each command runs in a mount namespace
// of its own (unshare -m) where an empty file is bind-mounted over the node
// binary and an empty tmpfs over node_modules, with PATH=/usr/bin:/bin and no
// other environment, so neither Node nor an addon on disk can be what runs.
// Blob and tree make, extract and verify (zstd, and xz through lzma-native; the
// blob is over 16 MiB so that the jobs run on worker threads; the tree has an
// xattr, read and written through koffi), compared byte for byte with casync's
// indexes and output; make from gzip, xz and zstd tars (their decoders are the
// embedded addons too).  Under CI=true a failed build or a missing prerequisite
// is a failure.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, casync, haveCasync, isRoot, ok, requires, tempDir, type Run } from './helpers.ts';
import { smallBlob, smallTree } from './api-fixtures.ts';

const EXE = join(ROOT, 'dist', 'wasync');
const dir = tempDir('wasync-exe-');
const empty = join(dir, 'empty');
writeFileSync(empty, '');

function build(): string | null {
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build-exe.mjs')], { encoding: 'utf8' });
  return r.status === 0 ? null : `npm run build:exe failed: ${r.stderr || r.error}`;
}

const nodes = [...new Set([realpathSync(process.execPath), ...['/usr/bin/node', '/usr/local/bin/node'].filter(existsSync).map((p) => realpathSync(p))])];
const hide = [...nodes.map((n) => `mount --bind ${empty} ${n}`), `mount -t tmpfs none ${join(ROOT, 'node_modules')}`].join(' && ');

/** `argv` (a shell command's words) with no Node reachable. */
function noNode(argv: string[]): Run {
  const r = spawnSync('unshare', ['-m', 'sh', '-c', `${hide} && exec env -i PATH=/usr/bin:/bin HOME=${dir} "$@"`, 'sh', ...argv], {
    cwd: dir,
    encoding: 'buffer',
    maxBuffer: 1 << 26,
  });
  if (r.error) throw r.error;
  return { status: r.status, out: r.stdout, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

const exe = (...args: string[]) => ok(noNode([EXE, ...args]), `wasync ${args.join(' ')}`);
const unshareWorks = isRoot && spawnSync('unshare', ['-m', 'true']).status === 0;

test('the single executable runs without Node', async (t) => {
  if (!requires(t, unshareWorks, 'root and unshare -m (to hide node)')) return;
  if (!requires(t, haveCasync, 'casync')) return;
  const failed = build();
  if (!requires(t, failed === null, failed ?? '')) return;

  await t.test('no node is reachable; --version', () => {
    assert.notEqual(noNode(['sh', '-c', 'node --version']).status, 0);
    assert.equal(readFileSync(EXE).subarray(0, 4).toString('latin1'), '\x7fELF');
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    assert.equal(exe('--version').stdout, `wasync ${version}\n`);
  });

  await t.test('blob: make, extract, verify as casync (zstd and xz)', () => {
    const img = join(dir, 'img');
    writeFileSync(img, smallBlob('executable', 18));
    for (const compression of ['zstd', 'xz']) {
      const o = (f: string) => join(dir, `${compression}-${f}`);
      exe(`--compression=${compression}`, `--store=${o('w.castr')}`, 'make', o('w.caibx'), img);
      ok(casync([`--compression=${compression}`, `--store=${o('c.castr')}`, 'make', o('c.caibx'), img]));
      assert.deepEqual(readFileSync(o('w.caibx')), readFileSync(o('c.caibx')));
      exe(`--store=${o('c.castr')}`, 'extract', o('c.caibx'), o('w.out'));
      assert.deepEqual(readFileSync(o('w.out')), readFileSync(img));
      ok(casync([`--store=${o('w.castr')}`, 'extract', o('w.caibx'), o('c.out')]));
      assert.deepEqual(readFileSync(o('c.out')), readFileSync(img));
      assert.match(exe(`--store=${o('w.castr')}`, 'verify', o('w.caibx')).stdout, /All chunks present and intact/);
    }
  });

  await t.test('make from gzip, xz and zstd tars, as from the plain tar', () => {
    const tree = join(dir, 'tar-tree');
    smallTree(tree, 'executable-tar');
    const tar = join(dir, 't.tar');
    const host = (cmd: string, ...args: string[]) => assert.equal(spawnSync(cmd, args).status, 0, `${cmd} ${args.join(' ')}`);
    host('tar', '--format=pax', '-C', tree, '-cf', tar, '.');
    exe(`--store=${join(dir, 'tar.castr')}`, 'make', join(dir, 'plain.caidx'), tar);
    for (const [tool, suffix] of [['gzip', 'gz'], ['xz', 'xz'], ['zstd', 'zst']]) {
      host(tool, '-k', '-f', tar);
      exe(`--store=${join(dir, 'tar.castr')}`, 'make', join(dir, `${suffix}.caidx`), `${tar}.${suffix}`);
      assert.deepEqual(readFileSync(join(dir, `${suffix}.caidx`)), readFileSync(join(dir, 'plain.caidx')), suffix);
    }
  });

  await t.test('tree: make, extract, verify as casync (with an xattr)', () => {
    const tree = join(dir, 'tree');
    smallTree(tree, 'executable');
    assert.equal(spawnSync('setfattr', ['-n', 'user.wasync', '-v', 'exe', join(tree, 'a.txt')]).status, 0, 'setfattr');
    const o = (f: string) => join(dir, `tree-${f}`);
    exe(`--store=${o('w.castr')}`, 'make', o('w.caidx'), tree);
    ok(casync([`--store=${o('c.castr')}`, 'make', o('c.caidx'), tree]));
    assert.deepEqual(readFileSync(o('w.caidx')), readFileSync(o('c.caidx')));
    exe(`--store=${o('w.castr')}`, 'extract', o('w.caidx'), o('w.out'));
    ok(casync([`--store=${o('c.castr')}`, 'extract', o('c.caidx'), o('c.out')]));
    const mtree = (p: string) => ok(casync(['mtree', p])).stdout;
    assert.equal(mtree(o('w.out')), mtree(o('c.out')));
    assert.equal(mtree(o('w.out')), mtree(tree));
    assert.equal(spawnSync('getfattr', ['--only-values', '-n', 'user.wasync', join(o('w.out'), 'a.txt')], { encoding: 'utf8' }).stdout, 'exe');
    assert.match(exe(`--store=${o('w.castr')}`, 'verify', o('w.caidx')).stdout, /All chunks present and intact/);
  });
});
