// mkdev(): serves the blob an index describes as a read-only NBD export, every
// byte from a chunk verified against its id (local or HTTP index and stores,
// through the shared random-access reader, the chunks fetched and checked on
// the worker pool).  With `listen` it serves any NBD client (onReady gets the
// export's NBD URI); without, it attaches a kernel /dev/nbdN as casync does
// (`node`: that device, or a symlink to create to it).  Either way it runs
// until the signal is aborted, then shuts down cleanly (the device
// disconnected, the symlink and the Unix socket removed).  A missing or corrupt
// chunk fails only the request that needed it (NBD_EIO, one log line).  As in
// casync, seeds are used before the stores, and a blob that is a plain local
// file (no .caibx suffix) is served as is.

import { basename } from 'node:path';
import { WasyncError, unsupported, usageError } from '../../../errors.ts';
import type { ReadAt } from '../../../engine/random-access.ts';
import type { NbdExport } from '../../../protocol/nbd-session.ts';
import { classifyLocator, stripFileUrl } from '../../../stores/locator.ts';
import { FileReadAt } from '../io/random-access.ts';
import { attachKernelNbd, kernelNbdDevices } from '../nbd/kernel-device.ts';
import { NbdServer, nbdUri, parseListenAddress } from '../nbd/server.ts';
import { openIndexReader, type IndexServeOptions } from './mount-source.ts';
import { checkSignedFile, trustPolicy } from '../trust/signed-input.ts';
import { httpClient } from '../storage/node-fetch.ts';
import { resolveMkdev } from './resolve.ts';

export interface MkdevOptions extends IndexServeOptions {
  /** a .caibx (a path or URL), or a blob file served as it is */
  input: string;
  what?: 'blob' | 'blob-index';
  /** the kernel device: /dev/nbdN to use, or a symlink to create to the one attached */
  node?: string;
  /** serve NBD clients on unix:PATH or tcp:HOST:PORT instead of attaching a kernel device */
  listen?: string;
  /** stops serving (the device is detached, sockets and symlinks removed) when aborted */
  signal?: AbortSignal;
  /** the export is up: the device attached (`node`: the symlink to it, else the device), or the NBD URI clients connect to */
  onReady?(r: { device?: string; node?: string; uri?: string }): void;
  /** a request that failed (an I/O error answered), and why; with `debug`, every request */
  onLog?(line: string): void;
  debug?: boolean;
}

/** Decoded chunks kept for all connections: requests in flight at once touch many chunks. */
const CACHE_CHUNKS = 256;
const READ_AHEAD = 4;

export async function mkdev(o: MkdevOptions): Promise<void> {
  const input = o?.input === undefined ? undefined : stripFileUrl(o.input);
  if (input === undefined || input === '-') throw usageError('mkdev needs a blob index (.caibx) or a blob file; it cannot serve standard input');
  const what = resolveMkdev(o.what, input);
  const address = o.listen === undefined ? null : parseListenAddress(o.listen);
  if (address && o.node !== undefined) throw usageError(`${o.node}: a device node makes no sense with --listen (nothing is attached)`);
  // Fail before reading anything when the kernel cannot take the device.
  let devices: string[] = [];
  if (!address) {
    const found = await kernelNbdDevices();
    if ('why' in found) {
      throw unsupported(`${found.why}; serve the blob to an NBD client instead with --listen=unix:PATH or --listen=tcp:HOST:PORT (nbdfuse, qemu, nbd-client)`);
    }
    devices = found.devices;
  }

  const { reader, description, close } = await openSource(input, what, o);
  try {
    const name = exportName(input);
    const size = address ? reader.size : Math.ceil(reader.size / 512) * 512;
    if (!address && size === 0) throw usageError(`${input}: the blob is empty; the kernel cannot attach an empty device`);
    const exp: NbdExport = { name, description, size, reader };
    const log = (line: string) => o.onLog?.(line);
    const server = new NbdServer({ export: exp, log, debug: o.debug ? log : undefined });
    if (address) {
      const bound = await server.listen(address);
      const uri = nbdUri(bound, name);
      o.notify?.({ state: 'ready', device: uri });
      o.onReady?.({ uri });
      await aborted(o.signal);
      await server.close();
      return;
    }
    const attached = await attachKernelNbd({
      size,
      devices,
      node: o.node,
      serve: (socket, device) => server.attach(socket, { transmissionOnly: true, peer: device }),
    });
    // casync's DEVICE= is the device itself, even when a symlink to it was asked for.
    o.notify?.({ state: 'ready', device: attached.device });
    o.onReady?.({ device: attached.device, node: attached.link ?? attached.device });
    const why = await Promise.race([aborted(o.signal).then(() => 'signal' as const), attached.released]);
    try {
      await attached.detach();
    } finally {
      await server.close();
    }
    if (why !== 'signal') {
      if (why !== null) throw new WasyncError('EOUTPUT', why);
      log(`${attached.device} was disconnected`);
    }
  } finally {
    await close();
  }
}

async function openSource(input: string, what: 'blob' | 'blob-index', o: MkdevOptions): Promise<{ reader: ReadAt; description: string; close(): Promise<void> }> {
  if (what === 'blob') {
    if (classifyLocator(input) !== 'path') throw unsupported(`${input}: a remote blob cannot be served; give its .caibx index`);
    await checkSignedFile(input, trustPolicy(o), httpClient());
    const file = await FileReadAt.open(input);
    return { reader: file, description: `${input} (${file.size} bytes, served by wasync)`, close: () => file.close() };
  }
  const { reader, close } = await openIndexReader(input, o, { cacheChunks: () => CACHE_CHUNKS, readAhead: READ_AHEAD, treeSeeds: false });
  return { reader, description: `${input} (${reader.size} bytes in ${reader.table.count} chunks, served by wasync)`, close };
}

/** The index's file name without its suffix ("image" for …/image.caibx?x=y). */
export function exportName(input: string): string {
  const path = classifyLocator(input) === 'url' ? safeDecode(new URL(input).pathname) : input;
  const name = basename(path).replace(/\.caibx$/, '');
  return name || 'wasync';
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Resolves once `signal` is aborted (never without one). */
function aborted(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    signal?.addEventListener('abort', () => resolve(), { once: true });
  });
}
