// The tar case (make X.caidx T.tar): a pax tar of a tree (/usr/share) made into a
// .caidx by wasync straight from the tar, from a file (read twice, nothing
// copied) and from a pipe (file data spooled), against what casync needs for the
// same index: GNU tar unpacking it as root, then casync make of the tree.  The
// indexes must be the same bytes.

import { rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { compare, sameFile, timed, wasyncBin } from './measure.ts';

/** TAR_FEATURE_FLAGS (src/format/tar-reader.ts), spelled for casync. */
const TAR_WITH = ['32bit-uids', 'user-names', 'nsec-time', 'permissions', 'symlinks', 'device-nodes', 'fifos', 'xattrs', 'acl', 'selinux', 'fcaps'].map(
  (f) => `--with=${f}`,
);

export function benchTarIn(work: string, tree: string, runs: number): void {
  const p = (n: string) => join(work, `tar-${n}`);
  const tar = p('tree.tar');
  if (spawnSync('tar', ['--format=pax', '--xattrs', '--acls', '-C', tree, '-cf', tar, '.']).status !== 0) return console.log(`\n(tar case skipped: cannot tar ${tree})`);
  const size = Number(spawnSync('stat', ['-c', '%s', tar], { encoding: 'utf8' }).stdout);
  const clean = (...xs: string[]) => {
    for (const x of xs) rmSync(x, { recursive: true, force: true });
    spawnSync('sync');
  };
  const unpackAndMake = `mkdir ${p('u')} && tar -C ${p('u')} --same-owner --numeric-owner --xattrs --xattrs-include='*' --acls -xpf ${tar} && casync make ${TAR_WITH.join(' ')} --store=${p('c.castr')} ${p('c.caidx')} ${p('u')}`;
  console.log(`\ntar in: ${(size / 2 ** 20).toFixed(0)} MiB pax tar of ${tree}`);
  try {
    compare(
      'make .caidx from T.tar',
      size,
      () => timed(['node', wasyncBin, 'make', `--store=${p('w.castr')}`, p('w.caidx'), tar]),
      () => timed(['sh', '-c', unpackAndMake]),
      (x) => (x === 'a' ? clean(p('w.castr'), p('w.caidx')) : clean(p('u'), p('c.castr'), p('c.caidx'))),
      runs,
    );
    sameFile(p('w.caidx'), p('c.caidx'), 'the index of the tar and of the unpacked tree');
    compare(
      'make .caidx from a pipe',
      size,
      () => timed(['sh', '-c', `cat ${tar} | node ${wasyncBin} make --store=${p('w.castr')} ${p('w.caidx')} -`]),
      () => timed(['sh', '-c', unpackAndMake]),
      (x) => (x === 'a' ? clean(p('w.castr'), p('w.caidx')) : clean(p('u'), p('c.castr'), p('c.caidx'))),
      runs,
    );
    sameFile(p('w.caidx'), p('c.caidx'), 'the index of the piped tar and of the unpacked tree');
  } finally {
    clean(tar, p('u'), p('w.castr'), p('c.castr'), p('w.caidx'), p('c.caidx'));
  }
}
