// mount(): serves the tree of an archive (or a blob as one file) read-only over
// FUSE until it is unmounted (umount, or the caller's signal, which unmounts).
//
// Order of events: a dead mount left on the mount point by a server that died
// (ENOTCONN) is detached; the input is opened (and seeds chunked) before
// anything is mounted, so a bad input leaves no mount behind; /dev/fuse is
// opened and its reader threads started; mount(8) attaches it, while this
// thread already answers the kernel (FUSE_INIT comes during mount(2)); then
// onMounted is called.  Aborting the signal runs umount(8) (lazily if busy),
// even when it comes before the mount is up; the kernel then ends the
// connection and mount() resolves.  If the kernel ends it first (someone ran
// umount), likewise.

import { realpath, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { WasyncError, unsupported, usageError } from '../../../errors.ts';
import { CA_FORMAT_WITH_SUBVOLUME, CA_FORMAT_WITH_SUBVOLUME_RO, CA_FORMAT_WITH_USER_NAMES } from '../../../format/feature-flags.ts';
import { classifyLocator, stripFileUrl } from '../../../stores/locator.ts';
import { FuseDevice } from '../fuse/fuse-device.ts';
import { cleanStaleMount, fuseMount, fuseUnmount } from '../fuse/fuse-mount.ts';
import { opcodeName } from '../fuse/fuse-protocol.ts';
import { FuseSession } from '../fuse/fuse-session.ts';
import { openMountSource, type IndexServeOptions } from './mount-source.ts';
import { resolveMount, type MadeWhat } from './resolve.ts';

/** What ENTRY metadata a mount cannot show (names are shown as numeric ids). */
const NOT_SHOWN = CA_FORMAT_WITH_USER_NAMES | CA_FORMAT_WITH_SUBVOLUME | CA_FORMAT_WITH_SUBVOLUME_RO;

export interface MountOptions extends IndexServeOptions {
  /** a .catar, .caidx or .caibx: a path or an http(s) URL */
  input: string;
  /** a directory (or, for a blob, a regular file) */
  mountpoint: string;
  what?: MadeWhat;
  /** mount it noexec (it is always read-only, nosuid and nodev) */
  noexec?: boolean;
  /** unmounts when aborted */
  signal?: AbortSignal;
  /** a request that failed (an I/O error answered), and why */
  onLog?(line: string): void;
  /** the file system is up */
  onMounted?(m: { mountpoint: string; featureFlags: bigint | null; notShown: bigint }): void;
}

export interface MountResult {
  mountpoint: string;
  /** how it ended when the signal asked: unmounted, or detached because it was busy */
  ended: 'unmounted' | 'detached' | 'by the kernel';
  /** FUSE requests answered, by opcode name */
  requests: [string, number][];
}

export async function mount(o: MountOptions): Promise<MountResult> {
  if (!o?.input || !o.mountpoint) throw usageError('an archive path/URL expected, followed by a mount path');
  const input = stripFileUrl(o.input);
  if (input === '-') throw usageError('mount reads its input at offsets: standard input cannot be mounted');
  if (classifyLocator(input) === 'ssh') throw unsupported(`${input}: mount reads local and HTTP archives and indexes, not ssh ones`);
  const what = resolveMount(o.what, input);

  let mountpoint = resolve(o.mountpoint);
  if (await cleanStaleMount(mountpoint)) o.onWarning?.(`${mountpoint}: removed a dead FUSE mount left there`);
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

  const source = await openMountSource(input, what, isFile, o);
  let dev: FuseDevice | null = null;
  /** mounted, and not (yet) known to be unmounted */
  let attached = false;
  let ended: MountResult['ended'] = 'by the kernel';
  try {
    dev = FuseDevice.open();
    const d = dev;
    const session = new FuseSession(d, source.fs, { log: (line) => o.onLog?.(line) });
    let end!: (problem: string | null) => void;
    const over = new Promise<string | null>((r) => (end = r));

    let mounted = false;
    let unmounting: Promise<void> | null = null;
    const unmount = () => {
      unmounting ??= fuseUnmount(mountpoint).then(
        (how) => {
          ended = how;
          // A detached mount with open files ends only when /dev/fuse is closed.
          if (how === 'detached') end(null);
        },
        (e) => {
          o.onWarning?.((e as Error).message);
          unmounting = null;
        },
      );
    };
    const onAbort = () => {
      if (mounted) unmount();
    };
    o.signal?.addEventListener('abort', onAbort);
    try {
      await fuseMount(d.fd, { source: input, mountpoint, rootMode: source.rootMode, noexec: o.noexec });
      // Read only once mounted: /dev/fuse answers a read before the mount with EPERM.
      d.start((req) => session.handle(req), (problem) => end(problem));
      const first = await Promise.race([session.initialized.then(() => 'ready'), over.then(() => 'ended')]);
      if (first === 'ended') {
        const problem = await over;
        throw new WasyncError('EOUTPUT', `${mountpoint}: the kernel ended the connection before it was set up${problem ? `: ${problem}` : ''}`);
      }
      mounted = attached = true;
      o.notify?.({ state: 'ready' });
      o.onMounted?.({ mountpoint, featureFlags: source.featureFlags, notShown: (source.featureFlags ?? 0n) & NOT_SHOWN });
      // A signal that came before the mount was up unmounts it now.
      if (o.signal?.aborted) unmount();
      const problem = await over;
      if (problem !== null) throw new WasyncError('EINPUT', `/dev/fuse: ${problem}`);
      attached = false;
      return { mountpoint, ended, requests: [...session.counts].sort((a, b) => b[1] - a[1]).map(([op, n]) => [opcodeName(op), n]) };
    } finally {
      o.signal?.removeEventListener('abort', onAbort);
    }
  } finally {
    await dev?.stop();
    dev?.close();
    // Failed while mounted: the connection is dead now (closed), so detach it.
    if (attached) await fuseUnmount(mountpoint).catch((e) => o.onWarning?.((e as Error).message));
    await source.close();
  }
}
