// One FUSE connection: the open /dev/fuse descriptor, reader threads that take
// requests off it, and the writes of the replies.
//
// Why threads: a read of /dev/fuse blocks until the kernel has a request, and a
// blocking read on this thread would stall the event loop (which serves every
// request) and, in libuv's pool, starve file and DNS work.  So each reader is a
// worker thread of a few lines that loops read → postMessage, transferring the
// request's bytes.  Replies are written from this thread: writing to /dev/fuse
// never blocks (the kernel copies the reply into the waiting request).
//
// Why non-blocking with poll(2): a thread blocked in read(2) cannot be stopped,
// and Node waits for its workers when the process exits, so a connection whose
// mount was only detached (files still open) would hang the exit.  The
// descriptor is opened O_NONBLOCK; a reader that finds nothing polls for at most
// 200 ms and then looks at a shared stop flag.  poll(2) comes from libc through
// koffi (Node has no poll), loaded in the worker by absolute path.

import { closeSync, constants, openSync, writevSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { WasyncError } from '../../../errors.ts';
import { FUSE_MIN_READ_BUFFER, outHeader } from './fuse-protocol.ts';
import { nativeAddons } from '../native-addons.ts';

/** Requests never exceed this: names ≤ 4 KiB, nothing is ever written to this file system. */
const READ_BUFFER = Math.max(FUSE_MIN_READ_BUFFER, 132 * 1024);

const READER_SOURCE = `
const { readSync } = require('node:fs');
const { parentPort, workerData } = require('node:worker_threads');
const koffi = require(workerData.koffi);
let lib;
try { lib = koffi.load('libc.so.6'); } catch { lib = koffi.load(null); }
const poll = lib.func('int poll(void *fds, unsigned long nfds, int timeout)');
const stop = new Int32Array(workerData.stop);
const fd = workerData.fd;
const pfd = Buffer.alloc(8);
pfd.writeInt32LE(fd, 0);
pfd.writeInt16LE(1, 4); // POLLIN
const buf = Buffer.allocUnsafe(workerData.size);
while (!Atomics.load(stop, 0)) {
  let n;
  try {
    n = readSync(fd, buf, 0, buf.length, null);
  } catch (e) {
    if (e.code === 'EAGAIN') { pfd.writeInt16LE(0, 6); poll(pfd, 1, 200); continue; }
    // EINTR: a signal; ENOENT: the request was interrupted before it was read.
    if (e.code === 'EINTR' || e.code === 'ENOENT') continue;
    parentPort.postMessage({ end: e.code === 'ENODEV' || e.code === 'ECONNABORTED' ? null : String(e.message) });
    break;
  }
  const copy = new ArrayBuffer(n);
  new Uint8Array(copy).set(buf.subarray(0, n));
  parentPort.postMessage(copy, [copy]);
}
`;

const ENOENT = -2;
const ENODEV = -19;

export class FuseDevice {
  private workers: Worker[] = [];
  private readonly stopFlag = new Int32Array(new SharedArrayBuffer(4));
  private ended = false;
  private closed = false;

  private constructor(readonly fd: number) {}

  /** Opens /dev/fuse for a new connection (needs the fuse module and, for mounting, root). */
  static open(): FuseDevice {
    try {
      return new FuseDevice(openSync('/dev/fuse', constants.O_RDWR | constants.O_NONBLOCK));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? '';
      throw new WasyncError('EUNSUPPORTED', `/dev/fuse: cannot open: ${code} ${(e as Error).message.replace(/^\w+: /, '')}${code === 'ENOENT' ? ' (load the fuse kernel module)' : ''}`);
    }
  }

  /**
   * Starts `threads` readers.  `onRequest` gets each request's bytes; `onEnd`
   * is called once when the connection ends: null when the kernel closed it
   * (unmounted), else why reading failed.
   */
  start(onRequest: (request: Buffer) => void, onEnd: (problem: string | null) => void, threads = 1): void {
    const koffi = nativeAddons.koffiPath();
    for (let i = 0; i < threads; i++) {
      const w = new Worker(READER_SOURCE, {
        eval: true,
        workerData: { fd: this.fd, size: READ_BUFFER, stop: this.stopFlag.buffer, koffi },
      });
      w.on('message', (m: ArrayBuffer | { end: string | null }) => {
        if (m instanceof ArrayBuffer) onRequest(Buffer.from(m));
        else if (!this.ended) {
          this.ended = true;
          onEnd(m.end);
        }
      });
      w.on('error', (e) => {
        if (!this.ended) {
          this.ended = true;
          onEnd(`reader thread failed: ${e.message}`);
        }
      });
      this.workers.push(w);
    }
  }

  /**
   * Sends a reply (error 0 with body pieces, or a positive errno).  A request
   * that no longer exists (interrupted, or the connection is gone) is not an error.
   */
  reply(unique: bigint, error: number, body: readonly Uint8Array[] = []): void {
    if (this.closed) return;
    const length = error ? 0 : body.reduce((n, b) => n + b.length, 0);
    try {
      writevSync(this.fd, error ? [outHeader(unique, 0, error)] : [outHeader(unique, length), ...body]);
    } catch (e) {
      const n = (e as NodeJS.ErrnoException).errno;
      if (n === ENOENT || n === ENODEV) return;
      throw e;
    }
  }

  /** Stops the readers (within one poll period) and waits for them. */
  async stop(): Promise<void> {
    Atomics.store(this.stopFlag, 0, 1);
    await Promise.all(this.workers.map((w) => new Promise<void>((r) => (w.threadId < 0 ? r() : w.once('exit', () => r())))));
    this.workers = [];
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}
