// wasync mkdev [--store=…] [--extra-store=…] [--listen=unix:PATH|tcp:HOST:PORT] BLOB_INDEX|BLOB [NODE]
//
// Serves the blob an index describes as a read-only NBD export, every byte from
// a chunk verified against its id (local or HTTP index and stores, through the
// shared random-access reader, the chunks fetched and checked on the worker
// pool).  With --listen it serves any NBD client and prints
// the export's NBD URI on stdout; without, it attaches a kernel /dev/nbdN as casync
// does (NODE: that device, or a symlink to create to it) and prints
// "Attached: NODE".  Either way it runs until SIGINT or SIGTERM, then shuts down
// cleanly (the device disconnected, the symlink and the Unix socket removed).
// A missing or corrupt chunk fails only the request that needed it (NBD_EIO, one
// line on stderr).  As in casync, --seed files are used before the stores, and
// a BLOB that is a plain local file (no .caibx suffix) is served as is.

import { basename } from 'node:path';
import { WasyncError, unsupported, usageError } from '../errors.ts';
import { classifyLocator, hasSuffix } from '../stores/locator.ts';
import type { ReadAt } from '../engine/random-access.ts';
import { FileReadAt } from '../platform/node/io/random-access.ts';
import { NbdServer, nbdUri, parseListenAddress, type ListenAddress } from '../platform/node/nbd/server.ts';
import { attachKernelNbd, kernelNbdDevices } from '../platform/node/nbd/kernel-device.ts';
import type { NbdExport } from '../protocol/nbd-session.ts';
import { parseWhat, type GlobalOptions } from './options.ts';
import { RemoteContext } from './remote.ts';
import { openIndexReader } from './index-reader.ts';
import { Log } from './log.ts';

export interface MkdevCliOptions extends GlobalOptions {
  listen?: string;
}

/** Decoded chunks kept for all connections: requests in flight at once touch many chunks. */
const CACHE_CHUNKS = 256;
const READ_AHEAD = 4;

export async function mkdev(input: string | undefined, node: string | undefined, opts: MkdevCliOptions): Promise<void> {
  if (input === undefined || input === '-') throw usageError('mkdev needs a blob index (.caibx) or a blob file; it cannot serve standard input');
  if (opts.what === undefined && (hasSuffix(input, '.caidx') || hasSuffix(input, '.catar'))) {
    throw usageError(`${input}: mkdev serves blobs (a .caibx or a blob file), not archives`);
  }
  const what = parseWhat(opts.what) ?? (hasSuffix(input, '.caibx') ? 'blob-index' : 'blob');
  if (what !== 'blob' && what !== 'blob-index') throw usageError('"mkdev" may only be combined with --what=blob and --what=blob-index');
  const address = opts.listen === undefined ? null : parseListenAddress(opts.listen);
  if (address && node !== undefined) throw usageError(`${node}: a device node makes no sense with --listen (nothing is attached)`);
  // Fail before reading anything when the kernel cannot take the device.
  let devices: string[] = [];
  if (!address) {
    const found = await kernelNbdDevices();
    if ('why' in found) {
      throw unsupported(`${found.why}; serve the blob to an NBD client instead with --listen=unix:PATH or --listen=tcp:HOST:PORT (nbdfuse, qemu, nbd-client)`);
    }
    devices = found.devices;
  }

  const { reader, description, close } = await openSource(input, what, opts);
  try {
    const name = exportName(input);
    const size = address ? reader.size : Math.ceil(reader.size / 512) * 512;
    if (!address && size === 0) throw usageError(`${input}: the blob is empty; the kernel cannot attach an empty device`);
    const exp: NbdExport = { name, description, size, reader };
    const log = (line: string) => process.stderr.write(`wasync: ${line}\n`);
    const server = new NbdServer({ export: exp, log, debug: opts.verbose ? log : undefined });
    if (address) await listenUntilSignal(server, address, name);
    else await attachUntilSignal(server, size, devices, node, log);
  } finally {
    await close();
  }
}

async function openSource(
  input: string,
  what: 'blob' | 'blob-index',
  opts: MkdevCliOptions,
): Promise<{ reader: ReadAt; description: string; close(): Promise<void> }> {
  if (what === 'blob') {
    if (classifyLocator(input) !== 'path') throw unsupported(`${input}: a remote blob cannot be served; give its .caibx index`);
    const file = await FileReadAt.open(input);
    return { reader: file, description: `${input} (${file.size} bytes, served by wasync)`, close: () => file.close() };
  }
  const remote = new RemoteContext(opts);
  const { reader, close } = await openIndexReader(input, opts, remote, new Log(!!opts.verbose), {
    cacheChunks: () => CACHE_CHUNKS,
    readAhead: READ_AHEAD,
    treeSeeds: false,
  });
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

/** Resolves on the first SIGINT or SIGTERM, or when `also` settles. */
function untilSignal<T>(also?: Promise<T>): Promise<T | 'signal'> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve('signal');
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    also?.then((v) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(v);
    });
  });
}

async function listenUntilSignal(server: NbdServer, address: ListenAddress, name: string): Promise<void> {
  const bound = await server.listen(address);
  process.stdout.write(`Listening on ${nbdUri(bound, name)}\n`);
  await untilSignal();
  await server.close();
}

async function attachUntilSignal(
  server: NbdServer,
  size: number,
  devices: string[],
  node: string | undefined,
  log: (line: string) => void,
): Promise<void> {
  const attached = await attachKernelNbd({
    size,
    devices,
    node,
    serve: (socket, device) => server.attach(socket, { transmissionOnly: true, peer: device }),
  });
  process.stdout.write(`Attached: ${attached.link ?? attached.device}\n`);
  const why = await untilSignal(attached.released);
  try {
    await attached.detach();
  } finally {
    await server.close();
  }
  if (why !== 'signal') {
    if (why !== null) throw new WasyncError('EOUTPUT', why);
    log(`${attached.device} was disconnected`);
  }
}
