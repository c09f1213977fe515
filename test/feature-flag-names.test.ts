// Feature flag names and option parsing (casync-format.md §3), checked against the
// §3.2 table and against what the casync binary writes and logs with `-v`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  FEATURE_FLAG_NAMES,
  combineFeatureFlags,
  featureFlagOfName,
  featureFlagsFromOptions,
  featureFlagsHelp,
  formatFeatureFlagNames,
  verboseFeatureFlagLines,
  type FeatureFlagOptions,
} from '../src/format/feature-flag-names.ts';
import {
  CA_FORMAT_DEFAULT,
  CA_FORMAT_SUPPORTED_WITH_MASK,
  CA_FORMAT_WITH_MASK,
  hex64,
  replayFeatureFlags,
} from '../src/format/feature-flags.ts';
import { WasyncError } from '../src/errors.ts';
import { casync, haveCasync, ok, requires, tempDir } from './helpers.ts';

interface Row {
  args: string[];
  flags: bigint;
  blob?: boolean;
}

// casync-format.md §3.2, "flags written", plus the V8 combinations.
const rows: Row[] = [
  { args: [], flags: 0xb0000001ffeffe26n },
  { args: ['--with=best'], flags: 0xb0000001ffeffe26n },
  { args: ['--with=unix'], flags: 0xb000000000001f09n },
  { args: ['--with=fat'], flags: 0xb00000000000e0c0n },
  { args: ['--with=fuse'], flags: 0xb000000013efff22n },
  { args: ['--with=privileged'], flags: 0xb0000001ec414406n },
  { args: ['--with=chattr'], flags: 0xb000000003ef0000n },
  { args: ['--with=acl'], flags: 0xb000000020000006n },
  { args: ['--without=all'], flags: 0xb000000000000000n },
  { args: ['--with=best', '--without=acl'], flags: 0xb0000001dfeffe26n },
  { args: ['--digest=sha256', '--exclude-nodump=no', '--exclude-file=no'], flags: 0x00000001fffffe26n },
  { args: ['--exclude-submounts=yes'], flags: 0xf0000001ffeffe26n },
  { args: [], flags: 0xb000000000000000n, blob: true },
  { args: ['--with=16bit-uids', '--with=usec-time', '--with=symlinks'], flags: 0xb000000000000211n },
  { args: ['--digest=sha256'], flags: 0x90000001ffeffe26n },
  { args: ['--digest=sha256'], flags: 0x9000000000000000n, blob: true },
];

/** The command-line arguments as FeatureFlagOptions. */
function options(args: string[]): FeatureFlagOptions {
  const o: FeatureFlagOptions & { with: string[]; without: string[] } = { with: [], without: [] };
  for (const a of args) {
    const [k, v] = a.split('=');
    if (k === '--with') o.with.push(v);
    else if (k === '--without') o.without.push(v);
    else if (k === '--exclude-nodump') o.excludeNodump = v === 'yes';
    else if (k === '--exclude-submounts') o.excludeSubmounts = v === 'yes';
    else if (k === '--exclude-file') o.excludeFile = v === 'yes';
    else if (k === '--digest') o.digest = v as 'sha256';
  }
  return o;
}

const defaultFor = (row: Row) => (row.blob ? 0n : CA_FORMAT_SUPPORTED_WITH_MASK);

test('every row of the §3.2 "flags written" table', () => {
  for (const row of rows) {
    const got = featureFlagsFromOptions(options(row.args), defaultFor(row));
    assert.equal(hex64(got), hex64(row.flags), row.args.join(' ') || '(default)');
  }
  assert.equal(CA_FORMAT_DEFAULT, 0xb0000001ffeffe26n);
});

test('names: 33 single bits then the 8 groups, with the §3.2 values', () => {
  assert.equal(FEATURE_FLAG_NAMES.length, 41);
  const singles = FEATURE_FLAG_NAMES.filter((n) => !n.group);
  assert.equal(singles.length, 33);
  singles.forEach((n, i) => assert.equal(n.flag, 1n << BigInt(i), n.name));
  const groups = Object.fromEntries(FEATURE_FLAG_NAMES.filter((n) => n.group).map((n) => [n.name, n.flag]));
  assert.deepEqual(groups, {
    best: 0x1fffffe26n,
    unix: 0x1f09n,
    fat: 0xe0c0n,
    chattr: 0x3ff0000n,
    'fat-attrs': 0xe000n,
    privileged: 0x1ec414407n,
    fuse: 0x13fffffbn,
    all: CA_FORMAT_WITH_MASK,
  });
  assert.equal(featureFlagOfName('quota-projid'), 0x100000000n);
  assert.equal(featureFlagOfName('Best'), undefined);
});

test('the first --with replaces the default, later ones add, --without removes', () => {
  const f = (w: string[], wo: string[] = []) => combineFeatureFlags({ with: w, without: wo }, CA_FORMAT_WITH_MASK);
  assert.equal(f(['symlinks']) & CA_FORMAT_WITH_MASK, 0x200n);
  assert.equal(f(['symlinks', 'fifos']) & CA_FORMAT_WITH_MASK, 0xa00n);
  assert.equal(f([], ['symlinks']) & CA_FORMAT_WITH_MASK, CA_FORMAT_WITH_MASK & ~0x200n);
  // --without applies after all --with, whatever the order on the command line
  assert.equal(f(['unix'], ['unix']) & CA_FORMAT_WITH_MASK, 0n);
  // combine does not normalize: nodump survives next to EXCLUDE_NODUMP (it is a decoder mask)
  assert.equal(f([]), 0xb0000001ffffffffn);
});

test('unknown names are usage errors naming the option and the value', () => {
  for (const [opts, re] of [
    [{ with: ['bogus'], without: [] }, /--with=bogus/],
    [{ with: [], without: ['nsec'] }, /--without=nsec/],
    [{ with: ['help'], without: [] }, /--with=help/],
  ] as const) {
    assert.throws(
      () => featureFlagsFromOptions(opts, CA_FORMAT_WITH_MASK),
      (e: unknown) => e instanceof WasyncError && e.code === 'EUSAGE' && re.test(e.message),
    );
  }
});

test('formatting: single names in casync order, "none", unknown bits refused', () => {
  assert.equal(
    formatFeatureFlagNames(0xb000000000001f09n),
    '16bit-uids sec-time permissions symlinks device-nodes fifos sockets',
  );
  assert.equal(formatFeatureFlagNames(0xb000000000000000n), 'none');
  assert.equal(formatFeatureFlagNames(0n), 'none');
  assert.throws(() => formatFeatureFlagNames(0x800000000n), WasyncError);
  assert.deepEqual(verboseFeatureFlagLines(0x9000000000000000n), [
    'Using feature flags: none',
    'Excluding files and directories with chattr(1) -d flag: yes',
    'Excluding submounts: no',
    'Excluding files and directories listed in .caexclude: yes',
    'Digest algorithm: sha256',
  ]);
});

test('flags written and logged by casync make -v match, for the table and random options', (t) => {
  if (!requires(t, haveCasync, 'the casync binary')) return;
  const dir = tempDir();
  mkdirSync(join(dir, 'd'));
  writeFileSync(join(dir, 'd', 'f'), 'hi\n');
  const all = [...rows];
  // Random combinations, deterministic: names and groups mixed, with and without.
  let seed = 12345;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n;
  for (let i = 0; i < 24; i++) {
    const args: string[] = [];
    for (let k = rnd(4); k > 0; k--) args.push(`--with=${FEATURE_FLAG_NAMES[rnd(41)].name}`);
    for (let k = rnd(3); k > 0; k--) args.push(`--without=${FEATURE_FLAG_NAMES[rnd(41)].name}`);
    if (rnd(3) === 0) args.push(`--exclude-nodump=${rnd(2) ? 'yes' : 'no'}`);
    if (rnd(3) === 0) args.push(`--exclude-submounts=${rnd(2) ? 'yes' : 'no'}`);
    if (rnd(3) === 0) args.push(`--exclude-file=${rnd(2) ? 'yes' : 'no'}`);
    if (rnd(3) === 0) args.push(`--digest=${rnd(2) ? 'sha256' : 'sha512-256'}`);
    all.push({ args, flags: -1n, blob: rnd(5) === 0 });
  }
  for (const [i, row] of all.entries()) {
    const out = join(dir, row.blob ? `x${i}.caibx` : `x${i}.catar`);
    const args = ['-v', 'make', ...row.args, ...(row.blob ? [`--store=${join(dir, 's.castr')}`] : []), out];
    const r = ok(casync([...args, join(dir, 'd', row.blob ? 'f' : '')]), args.join(' '));
    const written = readFileSync(out).readBigUInt64LE(16);
    const mine = featureFlagsFromOptions(options(row.args), defaultFor(row));
    assert.equal(hex64(mine), hex64(written), row.args.join(' '));
    const logged = r.stderr.split('\n').filter((l) => /^(Using feature|Excluding|Digest algorithm)/.test(l));
    assert.deepEqual(logged, verboseFeatureFlagLines(mine), row.args.join(' '));
  }
});

test('--with=help lists the single names like casync', (t) => {
  if (!requires(t, haveCasync, 'the casync binary')) return;
  assert.equal(ok(casync(['--with=help'])).stdout, featureFlagsHelp());
});

test('unknown names are refused by casync too', (t) => {
  if (!requires(t, haveCasync, 'the casync binary')) return;
  const dir = tempDir();
  const r = casync(['make', '--without=bogus', join(dir, 'x.catar'), dir]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /--without= feature flag: bogus/);
});

test('replay flags: the options mask what a decoder honours', () => {
  const mask = (o: FeatureFlagOptions) => combineFeatureFlags(o, CA_FORMAT_SUPPORTED_WITH_MASK);
  const archive = 0xb0000001ffeffe26n;
  assert.equal(replayFeatureFlags(archive, mask({ with: [], without: [] })), archive);
  // --without=user-names drops names; --with=fat keeps only what both know
  assert.equal(replayFeatureFlags(archive, mask({ with: [], without: ['user-names'] })), archive & ~0x4n);
  assert.equal(replayFeatureFlags(archive, mask({ with: ['fat'], without: [] })), 0xb00000000000e0a0n);
  // an --exclude-nodump=no archive keeps flag-nodump under the default mask
  const nodump = featureFlagsFromOptions({ with: [], without: [], excludeNodump: false }, CA_FORMAT_WITH_MASK);
  assert.equal(replayFeatureFlags(nodump, mask({ with: [], without: [] })) & 0x100000n, 0x100000n);
});
