// The tar case (make X.caidx T.tar): a pax tar of a tree (/usr/share) made into a
// .caidx by wasync straight from the tar, from a file (read twice, nothing
// copied) and from a pipe (file data spooled), against what casync needs for the
// same index: GNU tar unpacking it as root, then casync make of the tree.  The
// indexes must be the same bytes.

import { mkdtempSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { compare, sameFile, timed, wasyncBin } from './measure.ts';

/** TAR_FEATURE_FLAGS (src/format/tar-reader.ts), spelled for casync. */
const TAR_WITH = ['32bit-uids', 'user-names', 'nsec-time', 'permissions', 'symlinks', 'device-nodes', 'fifos', 'xattrs', 'acl', 'selinux', 'fcaps'].map(
  (f) => `--with=${f}`,
);

export function benchTarIn(work: string, tree: string, runs: number): void {
  const dir = mkdtempSync(join(work, 'tar-in-'));
  const p = (n: string) => join(dir, n);
  const tar = p('tree.tar');
  if (spawnSync('tar', ['--format=pax', '--xattrs', '--acls', '-C', tree, '-cf', tar, '.']).status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return console.log(`\n(tar case skipped: cannot tar ${tree})`);
  }
  const size = Number(spawnSync('stat', ['-c', '%s', tar], { encoding: 'utf8' }).stdout);
  const unpackAndMake = (i: string) =>
    `mkdir ${p(`u${i}`)} && tar -C ${p(`u${i}`)} --same-owner --numeric-owner --xattrs --xattrs-include='*' --acls -xpf ${tar} && casync make ${TAR_WITH.join(' ')} --store=${p(`c${i}.castr`)} ${p(`c${i}.caidx`)} ${p(`u${i}`)}`;
  console.log(`\ntar in: ${(size / 2 ** 20).toFixed(0)} MiB pax tar of ${tree}`);
  try {
    compare(
      'make .caidx from T.tar',
      size,
      (i) => timed(['node', wasyncBin, 'make', `--store=${p(`w${i}.castr`)}`, p(`w${i}.caidx`), tar]),
      (i) => timed(['sh', '-c', unpackAndMake(`${i}`)]),
      runs,
    );
    sameFile(p('w0.caidx'), p('c0.caidx'), 'the index of the tar and of the unpacked tree');
    compare(
      'make .caidx from a pipe',
      size,
      (i) => timed(['sh', '-c', `cat ${tar} | node ${wasyncBin} make --store=${p(`wp${i}.castr`)} ${p(`wp${i}.caidx`)} -`]),
      (i) => timed(['sh', '-c', unpackAndMake(`p${i}`)]),
      runs,
    );
    sameFile(p('wp0.caidx'), p('cp0.caidx'), 'the index of the piped tar and of the unpacked tree');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
