// Feature flag names as casync's command line knows them (casync-format.md §3.1, §3.2):
// parsing `--with=`/`--without=` and the exclusion and digest options into the word
// that `casync make` writes, and formatting a word back into the name list that
// `casync -v` prints ("Using feature flags: …").
//
// The name table keeps casync's order, single bits first and groups after them.
// Formatting walks it greedily, so a formatted list always spells out single bits:
// by the time a group comes up every bit has been consumed.  The first `--with=`
// replaces the default set rather than adding to it, because casync only looks at the
// default when no `--with=` was given at all.

import { usageError, WasyncError } from '../errors.ts';
import {
  CA_FORMAT_EXCLUDE_FILE,
  CA_FORMAT_EXCLUDE_NODUMP,
  CA_FORMAT_EXCLUDE_SUBMOUNTS,
  CA_FORMAT_FEATURE_FLAGS_MAX,
  CA_FORMAT_SHA512_256,
  CA_FORMAT_WITH_16BIT_UIDS,
  CA_FORMAT_WITH_2SEC_TIME,
  CA_FORMAT_WITH_32BIT_UIDS,
  CA_FORMAT_WITH_ACL,
  CA_FORMAT_WITH_BEST,
  CA_FORMAT_WITH_CHATTR,
  CA_FORMAT_WITH_DEVICE_NODES,
  CA_FORMAT_WITH_FAT,
  CA_FORMAT_WITH_FAT_ATTRS,
  CA_FORMAT_WITH_FCAPS,
  CA_FORMAT_WITH_FIFOS,
  CA_FORMAT_WITH_FLAG_APPEND,
  CA_FORMAT_WITH_FLAG_ARCHIVE,
  CA_FORMAT_WITH_FLAG_COMPR,
  CA_FORMAT_WITH_FLAG_DIRSYNC,
  CA_FORMAT_WITH_FLAG_HIDDEN,
  CA_FORMAT_WITH_FLAG_IMMUTABLE,
  CA_FORMAT_WITH_FLAG_NOATIME,
  CA_FORMAT_WITH_FLAG_NOCOMP,
  CA_FORMAT_WITH_FLAG_NOCOW,
  CA_FORMAT_WITH_FLAG_NODUMP,
  CA_FORMAT_WITH_FLAG_PROJINHERIT,
  CA_FORMAT_WITH_FLAG_SYNC,
  CA_FORMAT_WITH_FLAG_SYSTEM,
  CA_FORMAT_WITH_FUSE,
  CA_FORMAT_WITH_MASK,
  CA_FORMAT_WITH_NSEC_TIME,
  CA_FORMAT_WITH_PERMISSIONS,
  CA_FORMAT_WITH_PRIVILEGED,
  CA_FORMAT_WITH_QUOTA_PROJID,
  CA_FORMAT_WITH_READ_ONLY,
  CA_FORMAT_WITH_SEC_TIME,
  CA_FORMAT_WITH_SELINUX,
  CA_FORMAT_WITH_SOCKETS,
  CA_FORMAT_WITH_SUBVOLUME,
  CA_FORMAT_WITH_SUBVOLUME_RO,
  CA_FORMAT_WITH_SYMLINKS,
  CA_FORMAT_WITH_UNIX,
  CA_FORMAT_WITH_USEC_TIME,
  CA_FORMAT_WITH_USER_NAMES,
  CA_FORMAT_WITH_XATTRS,
  digestOfFlags,
  hex64,
  normalizeFeatureFlags,
  type DigestName,
} from './feature-flags.ts';

export interface FeatureFlagName {
  readonly name: string;
  readonly flag: bigint;
  /** true for the shortcut groups (best, unix, …, all) */
  readonly group: boolean;
}

const bit = (name: string, flag: bigint): FeatureFlagName => ({ name, flag, group: false });
const grp = (name: string, flag: bigint): FeatureFlagName => ({ name, flag, group: true });

/** Every name `--with=`/`--without=` accepts, in casync's order. */
export const FEATURE_FLAG_NAMES: readonly FeatureFlagName[] = Object.freeze([
  bit('16bit-uids', CA_FORMAT_WITH_16BIT_UIDS),
  bit('32bit-uids', CA_FORMAT_WITH_32BIT_UIDS),
  bit('user-names', CA_FORMAT_WITH_USER_NAMES),
  bit('sec-time', CA_FORMAT_WITH_SEC_TIME),
  bit('usec-time', CA_FORMAT_WITH_USEC_TIME),
  bit('nsec-time', CA_FORMAT_WITH_NSEC_TIME),
  bit('2sec-time', CA_FORMAT_WITH_2SEC_TIME),
  bit('read-only', CA_FORMAT_WITH_READ_ONLY),
  bit('permissions', CA_FORMAT_WITH_PERMISSIONS),
  bit('symlinks', CA_FORMAT_WITH_SYMLINKS),
  bit('device-nodes', CA_FORMAT_WITH_DEVICE_NODES),
  bit('fifos', CA_FORMAT_WITH_FIFOS),
  bit('sockets', CA_FORMAT_WITH_SOCKETS),
  bit('flag-hidden', CA_FORMAT_WITH_FLAG_HIDDEN),
  bit('flag-system', CA_FORMAT_WITH_FLAG_SYSTEM),
  bit('flag-archive', CA_FORMAT_WITH_FLAG_ARCHIVE),
  bit('flag-append', CA_FORMAT_WITH_FLAG_APPEND),
  bit('flag-noatime', CA_FORMAT_WITH_FLAG_NOATIME),
  bit('flag-compr', CA_FORMAT_WITH_FLAG_COMPR),
  bit('flag-nocow', CA_FORMAT_WITH_FLAG_NOCOW),
  bit('flag-nodump', CA_FORMAT_WITH_FLAG_NODUMP),
  bit('flag-dirsync', CA_FORMAT_WITH_FLAG_DIRSYNC),
  bit('flag-immutable', CA_FORMAT_WITH_FLAG_IMMUTABLE),
  bit('flag-sync', CA_FORMAT_WITH_FLAG_SYNC),
  bit('flag-nocomp', CA_FORMAT_WITH_FLAG_NOCOMP),
  bit('flag-projinherit', CA_FORMAT_WITH_FLAG_PROJINHERIT),
  bit('subvolume', CA_FORMAT_WITH_SUBVOLUME),
  bit('subvolume-ro', CA_FORMAT_WITH_SUBVOLUME_RO),
  bit('xattrs', CA_FORMAT_WITH_XATTRS),
  bit('acl', CA_FORMAT_WITH_ACL),
  bit('selinux', CA_FORMAT_WITH_SELINUX),
  bit('fcaps', CA_FORMAT_WITH_FCAPS),
  bit('quota-projid', CA_FORMAT_WITH_QUOTA_PROJID),
  grp('best', CA_FORMAT_WITH_BEST),
  grp('unix', CA_FORMAT_WITH_UNIX),
  grp('fat', CA_FORMAT_WITH_FAT),
  grp('chattr', CA_FORMAT_WITH_CHATTR),
  grp('fat-attrs', CA_FORMAT_WITH_FAT_ATTRS),
  grp('privileged', CA_FORMAT_WITH_PRIVILEGED),
  grp('fuse', CA_FORMAT_WITH_FUSE),
  grp('all', CA_FORMAT_WITH_MASK),
]);

const byName = new Map(FEATURE_FLAG_NAMES.map((n) => [n.name, n.flag]));

/** The bits of one `--with=`/`--without=` name, or undefined for an unknown name. */
export const featureFlagOfName = (name: string): bigint | undefined => byName.get(name);

/** Like featureFlagOfName, but refuses an unknown name with a usage error naming the option. */
export function parseFeatureFlagName(name: string, option: '--with' | '--without'): bigint {
  const flag = byName.get(name);
  if (flag === undefined) {
    throw usageError(`${option}=${name}: unknown feature flag (${option}=help lists them)`);
  }
  return flag;
}

export interface FeatureFlagOptions {
  /** every `--with=` value, in order */
  with: readonly string[];
  /** every `--without=` value, in order */
  without: readonly string[];
  /** --exclude-nodump (default yes) */
  excludeNodump?: boolean;
  /** --exclude-submounts (default no) */
  excludeSubmounts?: boolean;
  /** --exclude-file (default yes) */
  excludeFile?: boolean;
  /** --digest (default sha512-256) */
  digest?: DigestName;
}

/**
 * The flags exactly as casync assembles them from its options, before normalization.
 * casync hands this value to its decoders as the feature-flag mask (see
 * replayFeatureFlags), so list/mtree/stat need it unnormalized.
 */
export function combineFeatureFlags(opts: FeatureFlagOptions, defaultWith: bigint): bigint {
  let withBits = 0n;
  for (const name of opts.with) withBits |= parseFeatureFlagName(name, '--with');
  let withoutBits = 0n;
  for (const name of opts.without) withoutBits |= parseFeatureFlagName(name, '--without');
  let flags = (withBits === 0n ? defaultWith : withBits) & ~withoutBits;
  if (opts.excludeNodump ?? true) flags |= CA_FORMAT_EXCLUDE_NODUMP;
  if (opts.excludeSubmounts ?? false) flags |= CA_FORMAT_EXCLUDE_SUBMOUNTS;
  if (opts.excludeFile ?? true) flags |= CA_FORMAT_EXCLUDE_FILE;
  if ((opts.digest ?? 'sha512-256') === 'sha512-256') flags |= CA_FORMAT_SHA512_256;
  return flags;
}

/**
 * The feature flags `casync make` writes for these options.  `defaultWith` is the
 * set used when no `--with=` is given: CA_FORMAT_SUPPORTED_WITH_MASK for directories
 * and archives, 0 for blobs.
 */
export const featureFlagsFromOptions = (opts: FeatureFlagOptions, defaultWith: bigint): bigint =>
  normalizeFeatureFlags(combineFeatureFlags(opts, defaultWith));

/**
 * The "with" bits of `flags` as casync names them, space-separated ("none" when
 * there are none).  Behaviour bits (exclusions, digest) are not names and are left
 * out, as casync does; unknown bits are refused.
 */
export function formatFeatureFlagNames(flags: bigint): string {
  if (flags & ~CA_FORMAT_FEATURE_FLAGS_MAX) {
    throw new WasyncError('EFORMAT', `cannot name feature flags ${hex64(flags)}: unknown bits`);
  }
  let rest = flags & CA_FORMAT_WITH_MASK;
  const names: string[] = [];
  for (const { name, flag } of FEATURE_FLAG_NAMES) {
    if (rest === 0n) break;
    if ((rest & flag) !== flag) continue;
    names.push(name);
    rest &= ~flag;
  }
  return names.length ? names.join(' ') : 'none';
}

const yesNo = (b: bigint) => (b ? 'yes' : 'no');

/** The lines `casync -v make` logs about its flags once packing starts. */
export function verboseFeatureFlagLines(flags: bigint): string[] {
  return [
    `Using feature flags: ${formatFeatureFlagNames(flags)}`,
    `Excluding files and directories with chattr(1) -d flag: ${yesNo(flags & CA_FORMAT_EXCLUDE_NODUMP)}`,
    `Excluding submounts: ${yesNo(flags & CA_FORMAT_EXCLUDE_SUBMOUNTS)}`,
    `Excluding files and directories listed in .caexclude: ${yesNo(flags & CA_FORMAT_EXCLUDE_FILE)}`,
    `Digest algorithm: ${digestOfFlags(flags)}`,
  ];
}

/** What `casync --with=help` prints: a heading, then one single-bit name a line. */
export function featureFlagsHelp(): string {
  const names = FEATURE_FLAG_NAMES.filter((n) => !n.group).map((n) => n.name);
  return ['Supported --with= and --without= flags:', ...names].join('\n') + '\n';
}
