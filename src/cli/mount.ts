// wasync mount [ARCHIVE|ARCHIVE_INDEX|BLOB_INDEX] MOUNTPOINT: serves the tree of
// an archive (or a blob as one file) read-only over FUSE, in the foreground,
// until it is unmounted (umount, or SIGINT/SIGTERM, which unmount it).
//
// Order of events: a dead mount left on the mount point by a server that died
// (ENOTCONN) is detached; the input is opened (and seeds chunked) before
// anything is mounted, so a bad input leaves no mount behind; /dev/fuse is
// opened and its reader threads started; mount(8) attaches it, while this
// thread already answers the kernel (FUSE_INIT comes during mount(2)); then
// "Mounted: MOUNTPOINT" is printed, as casync does.  A signal runs umount(8)
// (lazily if busy); the kernel then ends the connection and the command
// returns 0.  If the kernel ends it first (someone ran umount), likewise.

import { realpath, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { unsupported, usageError, WasyncError } from '../errors.ts';
import { CA_FORMAT_WITH_SUBVOLUME, CA_FORMAT_WITH_SUBVOLUME_RO, CA_FORMAT_WITH_USER_NAMES } from '../format/feature-flags.ts';
import { formatFeatureFlagNames } from '../format/feature-flag-names.ts';
import { FuseDevice } from '../platform/node/fuse/fuse-device.ts';
import { cleanStaleMount, fuseMount, fuseUnmount } from '../platform/node/fuse/fuse-mount.ts';
import { FuseSession } from '../platform/node/fuse/fuse-session.ts';
import { opcodeName } from '../platform/node/fuse/fuse-protocol.ts';
import { classifyLocator, hasSuffix, stripFileUrl } from '../stores/locator.ts';
import { Log } from './log.ts';
import { openMountSource, type MountWhat } from './mount-source.ts';
import { parseWhat, type GlobalOptions } from './options.ts';
import { RemoteContext } from './remote.ts';

/** What ENTRY metadata a mount cannot show (names are shown as numeric ids). */
const NOT_SHOWN = CA_FORMAT_WITH_USER_NAMES | CA_FORMAT_WITH_SUBVOLUME | CA_FORMAT_WITH_SUBVOLUME_RO;
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function operation(input: string, opts: GlobalOptions): MountWhat {
  const what = parseWhat(opts.what);
  if (what && !['archive', 'archive-index', 'blob-index'].includes(what)) {
    throw usageError('"mount" may only be combined with --what=archive, --what=archive-index or --what=blob-index');
  }
  if (what) return what as MountWhat;
  if (hasSuffix(input, '.catar')) return 'archive';
  if (hasSuffix(input, '.caidx')) return 'archive-index';
  if (hasSuffix(input, '.caibx')) return 'blob-index';
  throw usageError(`${input}: the input has no valid suffix (.catar, .caidx or .caibx); name it with --what=`);
}

export async function mount(inputArg: string | undefined, mountArg: string | undefined, opts: GlobalOptions): Promise<void> {
  if (inputArg === undefined || mountArg === undefined) throw usageError('an archive path/URL expected, followed by a mount path');
  const input = stripFileUrl(inputArg);
  if (input === '-') throw usageError('mount reads its input at offsets: standard input cannot be mounted');
  if (classifyLocator(input) === 'ssh') throw unsupported(`${input}: mount reads local and HTTP archives and indexes, not ssh ones`);
  const what = operation(input, opts);
  const log = new Log(!!opts.verbose);

  let mountpoint = resolve(mountArg);
  if (await cleanStaleMount(mountpoint)) log.warn(`${mountpoint}: removed a dead FUSE mount left there`);
  let isFile: boolean;
  try {
    mountpoint = await realpath(mountpoint);
    const st = await stat(mountpoint);
    if (!st.isDirectory() && !st.isFile()) throw usageError(`${mountpoint}: the mount point is neither a directory nor a regular file`);
    isFile = st.isFile();
  } catch (e) {
    if (e instanceof WasyncError) throw e;
    throw new WasyncError('EOUTPUT', `${mountpoint}: cannot use as mount point: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }

  const remote = new RemoteContext(opts);
  const source = await openMountSource(input, what, isFile, opts, remote, log).catch(async (e) => {
    await remote.close();
    throw e;
  });
  let dev: FuseDevice | null = null;
  /** mounted, and not (yet) known to be unmounted */
  let attached = false;
  try {
    dev = FuseDevice.open();
    const d = dev;
    const session = new FuseSession(d, source.fs, { log: (line) => process.stderr.write(`wasync: ${line}\n`) });
    let ended!: (problem: string | null) => void;
    const end = new Promise<string | null>((r) => (ended = r));
    d.start((req) => session.handle(req), (problem) => ended(problem));

    // Handlers first: a signal that came before them would kill the process and
    // leave a dead mount.  One that comes before the mount is up unmounts it then.
    let mounted = false;
    let pending: NodeJS.Signals | null = null;
    let unmounting: Promise<void> | null = null;
    const unmount = (signal: NodeJS.Signals) => {
      unmounting ??= fuseUnmount(mountpoint).then(
        (how) => {
          log.info(`${signal}: ${how === 'unmounted' ? 'unmounted' : 'busy, detached'} ${mountpoint}`);
          // A detached mount with open files ends only when /dev/fuse is closed.
          if (how === 'detached') ended(null);
        },
        (e) => {
          log.warn((e as Error).message);
          unmounting = null;
        },
      );
    };
    const onSignal = (signal: NodeJS.Signals) => (mounted ? unmount(signal) : (pending = signal));
    for (const s of SIGNALS) process.on(s, onSignal);
    try {
      await fuseMount(d.fd, { source: input, mountpoint, rootMode: source.rootMode });
      const first = await Promise.race([session.initialized.then(() => 'ready'), end.then(() => 'ended')]);
      if (first === 'ended') {
        const problem = await end;
        throw new WasyncError('EOUTPUT', `${mountpoint}: the kernel ended the connection before it was set up${problem ? `: ${problem}` : ''}`);
      }
      mounted = attached = true;
      process.stdout.write(`Mounted: ${mountpoint}\n`);
      const hidden = (source.featureFlags ?? 0n) & NOT_SHOWN;
      if (hidden) log.info(`Not shown in the mounted file system: ${formatFeatureFlagNames(hidden)}`);
      if (pending) unmount(pending);
      const problem = await end;
      if (problem !== null) throw new WasyncError('EINPUT', `/dev/fuse: ${problem}`);
      attached = false;
      log.info(`FUSE requests: ${[...session.counts].sort((a, b) => b[1] - a[1]).map(([op, n]) => `${opcodeName(op)} ${n}`).join(', ')}`);
    } finally {
      for (const s of SIGNALS) process.off(s, onSignal);
    }
  } finally {
    await dev?.stop();
    dev?.close();
    // Failed while mounted: the connection is dead now (closed), so detach it.
    if (attached) await fuseUnmount(mountpoint).catch((e) => log.warn((e as Error).message));
    await source.close();
    await remote.close();
  }
}
