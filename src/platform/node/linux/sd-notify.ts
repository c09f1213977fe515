// sd_notify(3) without libsystemd: datagrams to the Unix socket a service
// manager names in $NOTIFY_SOCKET, an absolute path or "@name" in the abstract
// namespace, as casync's send_notify() sends them.  Node, Bun and Deno have no
// Unix datagram sockets (node:dgram is UDP only; Deno's needs --unstable-net, a
// bound path of its own and has no abstract names), so the two calls go
// through the libc table (koffi on all three).  Measured here: 20-60 µs a
// message against 8-16 ms for a child systemd-notify, which would also send
// with the wrong pid (systemd then drops it unless NotifyAccess=all).
//
// One socket serves the whole process.  Nothing blocks: a datagram the
// receiver's queue cannot take now (EAGAIN) waits in a short queue and is sent
// again on a timer, in order; a socket nobody listens on drops the messages,
// as casync does, and says so once through onError.

import { usageError, unsupported } from '../../../errors.ts';
import { errnoCode, libcUnavailable, loadLibc, type Libc } from './libc.ts';
import { koffiBackend } from './libc-koffi.ts';

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
const EAGAIN = 11;
/** sizeof(struct sockaddr_un): the family, then 108 bytes of path */
const SUN_PATH = 108;
const RETRY_MS = 10;
const QUEUE_LIMIT = 64;

export interface NotifySocket {
  /** as $NOTIFY_SOCKET spelled it */
  readonly address: string;
  /** Sends one message ("READY=1", "STATUS=…\nERRNO=5") without blocking; queued if the receiver is full. */
  send(text: string): void;
  /** Resolves once nothing is queued, or after `ms`, whichever is first. */
  flush(ms?: number): Promise<void>;
  close(): void;
}

export interface NotifySocketOptions {
  /** a send failed for another reason than a full queue (said once per errno) */
  onError?(message: string): void;
  /** the C library table (default: koffi's) */
  libc?: Libc;
}

/** struct sockaddr_un for a path or an "@abstract" name, and its length as casync computes it. */
export function notifyAddress(address: string): { addr: Uint8Array; length: number } {
  const abstract = address.startsWith('@');
  if (address.length < 2 || (!abstract && !address.startsWith('/'))) {
    throw usageError(`$NOTIFY_SOCKET=${address}: neither an absolute path nor an @abstract socket name`);
  }
  const name = new TextEncoder().encode(abstract ? address.slice(1) : address);
  // A path keeps its terminating NUL inside sun_path; an abstract name starts with one.
  if (name.length + 1 > SUN_PATH) throw usageError(`$NOTIFY_SOCKET=${address}: longer than a Unix socket address can be (${SUN_PATH - 1} bytes)`);
  const addr = new Uint8Array(2 + SUN_PATH);
  addr[0] = AF_UNIX; // sa_family_t, little-endian (libc.ts accepts no other ABI)
  addr.set(name, abstract ? 3 : 2);
  return { addr, length: 2 + name.length + 1 };
}

export function openNotifySocket(address: string, o: NotifySocketOptions = {}): NotifySocket {
  const { addr, length } = notifyAddress(address);
  const libc = o.libc ?? loadLibc([koffiBackend]);
  if (!libc) throw unsupported(`$NOTIFY_SOCKET=${address}: cannot send datagrams: ${libcUnavailable()}`);
  const fd = libc.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    const errno = libc.errno();
    throw unsupported(`$NOTIFY_SOCKET=${address}: socket(AF_UNIX, SOCK_DGRAM): ${errnoCode(errno)} ${libc.strerror(errno)}`);
  }
  const queue: Uint8Array[] = [];
  const said = new Set<number>();
  let timer: ReturnType<typeof setTimeout> | null = null;
  let closed = false;
  const waiters: (() => void)[] = [];

  /** true when sent or dropped for good, false when the receiver is full */
  const attempt = (bytes: Uint8Array): boolean => {
    if (libc.sendto(fd, bytes, bytes.length, MSG_DONTWAIT | MSG_NOSIGNAL, addr, length) >= 0) return true;
    const errno = libc.errno();
    if (errno === EAGAIN) return false;
    if (!said.has(errno)) {
      said.add(errno);
      o.onError?.(`$NOTIFY_SOCKET=${address}: ${errnoCode(errno)} ${libc.strerror(errno)}`);
    }
    return true;
  };
  const schedule = () => {
    timer = setTimeout(drain, RETRY_MS);
    // A message still queued must not keep the process alive; flush() waits for it.
    (timer as { unref?(): void }).unref?.();
  };
  const drain = () => {
    timer = null;
    while (queue.length && attempt(queue[0])) queue.shift();
    if (queue.length && !closed) schedule();
    else while (waiters.length) waiters.shift()!();
  };

  return {
    address,
    send(text) {
      if (closed) return;
      const bytes = new TextEncoder().encode(text);
      if (queue.length === 0 && attempt(bytes)) return;
      if (queue.length >= QUEUE_LIMIT) queue.shift();
      queue.push(bytes);
      if (!timer) schedule();
    },
    flush(ms = 1000) {
      if (!queue.length) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const giveUp = setTimeout(resolve, ms);
        waiters.push(() => {
          clearTimeout(giveUp);
          resolve();
        });
      });
    },
    close() {
      if (closed) return;
      closed = true;
      if (timer) clearTimeout(timer);
      queue.length = 0;
      while (waiters.length) waiters.shift()!();
      libc.close(fd);
    },
  };
}
