// Live differential tests of `wasync list|mtree|stat|digest` against the casync
// binary: the vector trees (mk_tree1/2/3.sh) and a generated tree with a wide
// directory, deep nesting, odd names and a multi-chunk file are archived by casync
// under several --with/--without sets; wasync must print exactly what casync prints
// for the .catar, for the .caidx (chunks from the store) and for the directory
// itself, with and without a PATH, under several decoder masks.  wasync runs in
// batches (test/inspect-batch.mjs) to keep node start-up out of the time taken.
//
// Where casync has no answer of its own wasync is held to the archive's: a
// subtree PATH of a DIRECTORY (casync refuses it) must print what the .catar does
// (for stat, apart from the encoder-only lines checked in the root comparisons),
// and `list --recursive=no DIRECTORY` (casync fails after the first child) what
// the .catar listing does.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { casync, haveCasync, isRoot, ok, requires, tempDir, type Run } from './helpers.ts';

const VECTORS = '/work/shared/vectors';
const BATCH = join(import.meta.dirname, 'inspect-batch.mjs');
const ENV = { TZ: 'UTC' };
const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

/** Runs wasync command lines in one process. */
function wasyncBatch(jobs: string[][]): Run[] {
  const r = spawnSync(process.execPath, [BATCH], { input: JSON.stringify(jobs), env: { ...process.env, ...ENV }, maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`inspect batch failed: ${r.stderr}`);
  return (JSON.parse(r.stdout.toString('utf8')) as { status: number; stdout: string; stderr: string }[]).map((x) => {
    const out = Buffer.from(x.stdout, 'base64');
    return { status: x.status, out, stdout: out.toString('utf8'), stderr: Buffer.from(x.stderr, 'base64').toString('utf8') };
  });
}

const cas = (args: string[]) => casync(args, { env: ENV });

const GEN = String.raw`
set -e
D="$1"
umask 022
mkdir -p "$D/wide" "$D/d0/d1/d2/d3/d4/d5" "$D/empty" "$D/sub dir"
i=0
while [ $i -lt 300 ]; do printf 'w%d\n' $i > "$D/wide/f$i"; i=$((i+1)); done
mkdir "$D/wide/zz-dir"; printf 'x\n' > "$D/wide/zz-dir/inner"
printf 'leaf\n' > "$D/d0/d1/d2/d3/d4/d5/leaf"
for n in 'has#hash' 'back\slash' "$(printf 'tab\tname')" '~tilde' "$(printf '\346\226\260')" '.dot' 'Upper' 'sp ace'; do
  printf 'n\n' > "$D/sub dir/$n"
done
python3 -c "import sys; sys.stdout.buffer.write(b''.join(bytes([(i * 7919 + (i >> 9)) % 251]) for i in range(3000000)))" > "$D/big.bin"
: > "$D/zero"
ln -s "sub dir/sp ace" "$D/link"; ln -s d0/d1 "$D/d0link"
printf 'x\n' > "$D/suid"; chmod 4755 "$D/suid"; chown 2000:1 "$D/suid"
chmod 1777 "$D/empty"
export TZ=UTC
find "$D" -depth -exec touch -h -d '2020-05-05 05:05:05.555555555' {} +
touch -h -d '1999-12-31 23:59:59.5' "$D/zero" "$D/link"
`;

/** casync's \ooo escapes undone: the path bytes of a list line. */
function unescape(s: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\') {
      out.push(parseInt(s.slice(i + 1, i + 4), 8));
      i += 3;
    } else out.push(s.charCodeAt(i));
  }
  return Buffer.from(out);
}

/** Paths of an archive (from casync list) that argv can carry, without the root. */
function pathsOf(archive: string): string[] {
  return ok(cas(['list', archive])).stdout.split('\n').filter(Boolean).slice(1).map((l) => unescape(l.slice(11)))
    .filter((b) => Buffer.from(b.toString('utf8')).equals(b)).map((b) => b.toString('utf8'));
}

interface Tree {
  name: string;
  dir: string;
  /** make option sets to archive it with */
  makes: string[][];
}

function buildTrees(t: { skip(m: string): void }): Tree[] {
  const tmp = tempDir('wasync-inspect-');
  const trees: Tree[] = [];
  const sh = (script: string, dir: string) => {
    const r = spawnSync('sh', script.startsWith('/') ? [script, dir] : ['-c', script, 'sh', dir], { encoding: 'utf8' });
    assert.equal(r.status, 0, `building ${dir}: ${r.stderr}`);
  };
  const all = [[], ['--with=unix'], ['--without=all'], ['--with=best', '--without=acl'], ['--digest=sha256'], ['--with=fat']];
  sh(`${VECTORS}/mk_tree1.sh`, join(tmp, 'tree1'));
  trees.push({ name: 'tree1', dir: join(tmp, 'tree1'), makes: all });
  if (have('setcap') && have('chattr')) {
    sh(`${VECTORS}/mk_tree2.sh`, join(tmp, 'tree2'));
    trees.push({ name: 'tree2', dir: join(tmp, 'tree2'), makes: [[], ['--with=unix'], ['--exclude-nodump=no']] });
  } else t.skip('tree2 needs setcap and chattr');
  sh(`${VECTORS}/mk_tree3.sh`, join(tmp, 'tree3'));
  trees.push({ name: 'tree3', dir: join(tmp, 'tree3'), makes: [[]] });
  sh(GEN, join(tmp, 'gen'));
  trees.push({ name: 'gen', dir: join(tmp, 'gen'), makes: [[], ['--digest=sha256', '--with=2sec-time', '--with=symlinks']] });
  return trees;
}

const QUERIES = [[], ['--without=user-names'], ['--digest=sha256'], ['--with=fat'], ['--with=unix', '--with=chattr']];
const VERBS = ['list', 'mtree', 'stat', 'digest'];

interface Case {
  what: string;
  want: Run;
  args: string[];
  /** compare stdout only (casync fails after printing, or exits for its own bug) */
  stdoutOnly?: boolean;
  /** drop these lines from both before comparing (what `stat DIRECTORY` shows as the encoder sees it) */
  drop?: RegExp;
}

function check(cases: Case[]) {
  const got = wasyncBatch(cases.map((c) => c.args));
  cases.forEach((c, i) => {
    const g = got[i];
    const drop = (x: string) => (c.drop ? x.replace(c.drop, '') : x);
    assert.equal(drop(g.stdout), drop(c.want.stdout), `${c.what}: stdout (stderr: ${g.stderr})`);
    if (c.stdoutOnly) return;
    assert.equal(g.status === 0, c.want.status === 0, `${c.what}: exit status ${g.status}, casync ${c.want.status} (${g.stderr})`);
    if (g.status !== 0) assert.match(g.stderr, /^wasync: .+\n$/, `${c.what}: one line on stderr`);
  });
}

test('list, mtree, stat and digest match casync for DIRECTORY, .catar and .caidx', (t) => {
  if (!requires(t, haveCasync && isRoot, 'the casync binary and root')) return;
  const trees = buildTrees(t);
  const tmp = tempDir('wasync-inspect-out-');
  let compared = 0;
  for (const tree of trees) {
    for (const [m, make] of tree.makes.entries()) {
      const catar = join(tmp, `${tree.name}-${m}.catar`);
      const caidx = join(tmp, `${tree.name}-${m}.caidx`);
      const store = join(tmp, `${tree.name}-${m}.castr`);
      ok(cas(['make', ...make, catar, tree.dir]), `casync make ${make.join(' ')} ${tree.name}`);
      ok(cas(['make', ...make, `--store=${store}`, '--chunk-size=16384', caidx, tree.dir]));
      const cases: Case[] = [];
      const label = `${tree.name} [${make.join(' ')}]`;
      for (const q of QUERIES) {
        for (const verb of VERBS) {
          if (verb === 'digest' && q.length) continue;
          const want = cas([verb, ...q, catar]);
          cases.push({ what: `${verb} ${q.join(' ')} ${label}.catar`, want, args: [verb, ...q, catar] });
          cases.push({ what: `${verb} ${q.join(' ')} ${label}.caidx`, want, args: [verb, ...q, `--store=${store}`, caidx] });
          // A directory is read with the make options and the query options together.
          const wantDir = cas([verb, ...make, ...q, tree.dir]);
          // casync's encoder cannot enumerate xattrs it did not read, and fails after printing.
          cases.push({ what: `${verb} ${make.join(' ')} ${q.join(' ')} ${tree.name}/`, want: wantDir, args: [verb, ...make, ...q, tree.dir], stdoutOnly: verb === 'stat' });
        }
      }
      // Every path (a sample of wide directories) under the default query.
      const paths = pathsOf(catar).filter((p, i) => !p.startsWith('wide/f') || i % 37 === 0);
      for (const p of paths) {
        for (const verb of [...VERBS, 'list --recursive=no']) {
          const v = verb.split(' ');
          const want = cas([...v, catar, p]);
          cases.push({ what: `${verb} ${label}.catar ${p}`, want, args: [...v, catar, p] });
          if (m === 0 || verb === 'stat') {
            cases.push({ what: `${verb} ${label}.caidx ${p}`, want, args: [...v, `--store=${store}`, caidx, p] });
            cases.push({ what: `${verb} ${tree.name}/ ${p}`, want, args: [...v, ...make, tree.dir, p], drop: /^( {2}ProjID|FileAttr| FATAttr): .*\n/gm });
          }
        }
      }
      // The root's --recursive=no listing, and paths that are not there.
      const shallow = cas(['list', '--recursive=no', catar]);
      cases.push({ what: `list --recursive=no ${label}.catar`, want: shallow, args: ['list', '--recursive=no', catar] });
      cases.push({ what: `list --recursive=no ${label}/`, want: shallow, args: ['list', '--recursive=no', ...make, tree.dir] });
      for (const p of ['no-such-file', 'a.txt/below-a-file', 'link/below-a-symlink', '.', '..', './a.txt']) {
        for (const verb of VERBS) {
          const want = cas([verb, catar, p]);
          assert.notEqual(want.status, 0, `casync ${verb} ${p}`);
          cases.push({ what: `${verb} ${label}.catar ${p}`, want, args: [verb, catar, p] });
          cases.push({ what: `${verb} ${label}.caidx ${p}`, want, args: [verb, `--store=${store}`, caidx, p] });
          cases.push({ what: `${verb} ${label}/ ${p}`, want, args: [verb, ...make, tree.dir, p] });
        }
      }
      // Tolerated spellings: leading, trailing and repeated slashes.
      for (const p of ['/b/', 'b//c.bin', '//dir1///f2', '/']) {
        const want = cas(['stat', catar, p]);
        cases.push({ what: `stat ${label}.catar ${p}`, want, args: ['stat', catar, p] });
      }
      check(cases);
      compared += cases.length;
    }
  }
  assert.ok(compared > 1000, `${compared} comparisons`);
});

test('digest of a symlink, device or FIFO path is refused, as casync does', (t) => {
  if (!requires(t, haveCasync && isRoot, 'the casync binary and root')) return;
  const tmp = tempDir('wasync-inspect-');
  const tree = join(tmp, 't');
  const r = spawnSync('sh', ['-c', 'mkdir "$1" && ln -s x "$1/l" && mkfifo "$1/p" && mknod "$1/c" c 1 3 && echo hi > "$1/f"', 'sh', tree]);
  assert.equal(r.status, 0);
  const catar = join(tmp, 't.catar');
  ok(cas(['make', catar, tree]));
  const jobs = ['l', 'p', 'c'].flatMap((p) => [['digest', catar, p], ['digest', tree, p]]);
  for (const [i, g] of wasyncBatch(jobs).entries()) {
    assert.notEqual(g.status, 0, jobs[i].join(' '));
    assert.match(g.stderr, /does not refer to a file or directory/);
    assert.equal(g.stdout, '');
  }
  const [file] = wasyncBatch([['digest', catar, 'f']]);
  assert.equal(file.stdout, ok(cas(['digest', catar, 'f'])).stdout);
});

test('missing chunks and bad inputs end with one clear line', (t) => {
  if (!requires(t, haveCasync && isRoot, 'the casync binary and root')) return;
  const tmp = tempDir('wasync-inspect-');
  const tree = join(tmp, 'tree3');
  assert.equal(spawnSync(`${VECTORS}/mk_tree3.sh`, [tree]).status, 0);
  const caidx = join(tmp, 't.caidx');
  const store = join(tmp, 's.castr');
  ok(cas(['make', `--store=${store}`, caidx, tree]));
  const [extra, noStore, wrongWhat, fileInput, nonexistent] = wasyncBatch([
    ['mtree', `--store=${join(tmp, 'empty.castr')}`, `--extra-store=${store}`, caidx],
    ['list', caidx],
    ['list', '--what=blob', caidx],
    ['list', join(tree, 'f1')],
    ['stat', join(tmp, 'nothing-here')],
  ]);
  // Chunks missing from the primary store are taken from an extra store.
  assert.equal(extra.stdout, ok(cas(['mtree', `--store=${store}`, caidx])).stdout);
  assert.match(noStore.stderr, /^wasync: chunk [0-9a-f]{64} is missing: store .*default\.castr does not exist\n$/);
  assert.match(wrongWhat.stderr, /--what=archive, --what=archive-index or --what=directory/);
  assert.match(fileInput.stderr, /should be a directory, \.catar or \.caidx/);
  assert.match(nonexistent.stderr, /nothing-here: cannot read/);
  for (const r of [noStore, wrongWhat, fileInput, nonexistent]) assert.equal(r.status, 1);
});
