// Telling a service manager how a command is doing, with sd_notify(3)'s
// messages on the datagram socket $NOTIFY_SOCKET names (a systemd unit of
// Type=notify, or anything listening there).  What casync 2 sends, byte for
// byte and at the same moments: "READY=1" once make, extract, list, mtree,
// stat and digest are under way and once mount's file system is live, and
// "READY=1\nDEVICE=/dev/nbdN\n" once mkdev's device is attached (with
// --listen, DEVICE= is the NBD URI).  Beyond casync, each in a datagram of its
// own so that casync's stay as they are:
//   STATUS=   progress (verb, bytes done of the total, rate, where the chunks
//             came from) at most once a second; what mount and mkdev serve;
//             the error line on failure, with ERRNO=
//   STOPPING=1 when SIGINT or SIGTERM stops mount, mkdev or serve
//   EXTEND_TIMEOUT_USEC= while a seed is chunked, so that a long one does not
//             run into the unit's start timeout (mount, mkdev) or its runtime limit
// Without $NOTIFY_SOCKET nothing here costs anything; the sending itself is
// the platform's (linux/sd-notify.ts).

import { WasyncError } from '../errors.ts';
import { formatBytes } from '../format/units.ts';
import type { OperationNotice, ProgressReport } from '../platform/node/operations/common.ts';
import { openNotifySocket, type NotifySocket } from '../platform/node/linux/sd-notify.ts';
import { notifySocket } from './options.ts';

const STATUS_EVERY_MS = 1000;
/** how long a seed may go without progress before the service manager may give up on it */
const SEED_GRACE_USEC = 30_000_000;

/** The errno a failure maps to: the system error behind it, else one per wasync code. */
const CODE_ERRNO: Record<string, number> = {
  EUSAGE: 22, // EINVAL
  EFORMAT: 74, // EBADMSG
  EUNSUPPORTED: 95, // EOPNOTSUPP
  ECHUNKMISSING: 2, // ENOENT, as casync's stores answer
  ECHUNKCORRUPT: 74, // EBADMSG
  ENETWORK: 5, // EIO
  EINPUT: 5,
  EOUTPUT: 5,
};

export function errnoOf(e: unknown): number {
  for (let c = e as { errno?: unknown; cause?: unknown } | undefined, depth = 0; c && depth < 8; c = c.cause as typeof c, depth++) {
    if (typeof c.errno === 'number' && c.errno !== 0) return Math.abs(c.errno);
  }
  return e instanceof WasyncError ? (CODE_ERRNO[e.code] ?? 5) : 5;
}

/** One line for STATUS=: no newline may reach the socket's KEY=VALUE framing. */
const oneLine = (s: string) => s.replace(/\s*\n\s*/g, '; ');

export class ServiceNotifier {
  private seedSentAt = 0;

  constructor(private readonly socket: NotifySocket | null) {}

  get active(): boolean {
    return this.socket !== null;
  }

  send(text: string) {
    this.socket?.send(text);
  }

  status(line: string) {
    this.send(`STATUS=${oneLine(line)}`);
  }

  /** An operation's notify callback. */
  notice = (n: OperationNotice) => {
    if (!this.socket) return;
    if (n.state === 'ready') {
      this.send(n.device === undefined ? 'READY=1' : `READY=1\nDEVICE=${n.device}\n`);
      return;
    }
    const now = Date.now();
    const end = n.total !== null && n.done >= n.total;
    if (now - this.seedSentAt < STATUS_EVERY_MS && !end) return;
    this.seedSentAt = now;
    const amount = `${formatBytes(n.done)}${n.total !== null ? ` of ${formatBytes(n.total)}` : ''}`;
    this.send(`EXTEND_TIMEOUT_USEC=${SEED_GRACE_USEC}\nSTATUS=${oneLine(`chunking seed ${n.seed}: ${amount}`)}`);
  };

  /**
   * Tees a progress reporter (progress.ts) into STATUS= lines: the latest
   * report, sampled once a second, and a last line when it stops.
   */
  progress<R extends { onProgress(p: ProgressReport): void; stop(ok: boolean): void }>(reporter: R, verb: string): R {
    if (!this.socket) return reporter;
    const start = Date.now();
    let last: ProgressReport | null = null;
    let sent: ProgressReport | null = null;
    const emit = () => {
      if (!last || last === sent) return;
      sent = last;
      this.status(progressLine(verb, last, (Date.now() - start) / 1000));
    };
    const timer = setInterval(emit, STATUS_EVERY_MS);
    timer.unref();
    return {
      ...reporter,
      onProgress: (p: ProgressReport) => {
        reporter.onProgress(p);
        last = p;
      },
      stop: (ok: boolean) => {
        clearInterval(timer);
        reporter.stop(ok);
        if (ok && last) this.status(`${progressLine(verb, last, (Date.now() - start) / 1000)}, done`);
      },
    };
  }

  /** SIGINT or SIGTERM asked a server (mount, mkdev, serve) to stop. */
  stopping(verb: string, signal: string) {
    this.send(`STOPPING=1\nSTATUS=${verb}: stopping on ${signal}`);
  }

  /** The command failed: its error line and the errno behind it. */
  failed(message: string, e: unknown) {
    this.send(`STATUS=${oneLine(message)}\nERRNO=${errnoOf(e)}`);
  }

  /** Waits (briefly) for messages the receiver could not take yet; before the process exits. */
  async flush() {
    await this.socket?.flush(1000);
  }
}

/** "extract: 12.0M of 64.0M (18%), 35.2M/s, from seed 40%, store 60%" */
export function progressLine(verb: string, p: ProgressReport, seconds: number): string {
  const rate = seconds > 0 ? p.done / seconds : 0;
  const pct = p.total ? ` (${Math.min(100, Math.floor((p.done * 100) / p.total))}%)` : '';
  const parts = [`${verb}: ${formatBytes(p.done)}${p.total !== null ? ` of ${formatBytes(p.total)}` : ''}${pct}`, `${formatBytes(Math.round(rate))}/s`];
  const s = p.sources;
  if (s && p.done > 0) {
    const shares = (
      [
        ['seed', s.fromSeedBytes + s.unchangedBytes],
        ['cache', s.fromCacheBytes],
        ['store', s.fromStoreBytes],
        ['network', s.fromRemoteBytes],
        ['zero', s.zeroBytes],
      ] as const
    )
      .filter(([, b]) => b > 0)
      .map(([n, b]) => `${n} ${Math.round((b * 100) / p.done)}%`);
    if (shares.length) parts.push(`from ${shares.join(', ')}`);
  }
  return parts.join(', ');
}

let service: ServiceNotifier | undefined;

/** The process's notifier, opened on first use from $NOTIFY_SOCKET (inactive without it). */
export function serviceNotifier(): ServiceNotifier {
  if (service) return service;
  const address = notifySocket();
  let socket: NotifySocket | null = null;
  if (address !== undefined) {
    const warn = (m: string) => process.stderr.write(`wasync: warning: ${m}; the service manager is not told\n`);
    try {
      socket = openNotifySocket(address, { onError: warn });
    } catch (e) {
      warn((e as Error).message);
    }
  }
  return (service = new ServiceNotifier(socket));
}
