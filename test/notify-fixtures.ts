// A service manager's notification socket for the sd_notify tests: a real
// AF_UNIX SOCK_DGRAM socket bound by a python3 child (at a path, or at an
// "@name" in the abstract namespace), which prints every datagram it receives
// as a JSON line with its arrival time.  sync() sends a marker datagram of
// its own and waits for it: whatever a finished command sent arrived before it.

import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after } from 'node:test';
import { openNotifySocket } from '../src/platform/node/linux/sd-notify.ts';
import { tempDir } from './helpers.ts';

export const havePython = spawnSync('python3', ['--version']).status === 0;

const LISTENER = `
import json, socket, sys, time
addr = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind('\\0' + addr[1:] if addr.startswith('@') else addr)
print(json.dumps({'listening': addr}), flush=True)
while True:
    data = s.recv(65536)
    print(json.dumps({'ms': time.monotonic_ns() / 1e6, 'text': data.decode()}), flush=True)
`;

export interface Datagram {
  /** arrival, CLOCK_MONOTONIC in ms */
  ms: number;
  text: string;
}

export interface Listener {
  /** what $NOTIFY_SOCKET is set to */
  address: string;
  env: { NOTIFY_SOCKET: string };
  /** everything received so far, markers left out */
  all(): Datagram[];
  /** the texts received since the last take(), after sync() */
  take(): Promise<string[]>;
  /** resolves with the first datagram (from now on, or already received since the last take) that matches */
  waitFor(match: (text: string) => boolean, ms?: number): Promise<Datagram>;
  /** waits until every datagram sent before it has been received */
  sync(): Promise<void>;
  close(): void;
}

export async function notifyListener(kind: 'path' | 'abstract'): Promise<Listener> {
  const address = kind === 'path' ? join(tempDir('wasync-notify-'), 'notify') : `@wasync-test-${process.pid}-${randomBytes(6).toString('hex')}`;
  const child = spawn('python3', ['-c', LISTENER, address], { stdio: ['ignore', 'pipe', 'pipe'] });
  const received: Datagram[] = [];
  let taken = 0;
  let waiters: { match(t: string): boolean; resolve(d: Datagram): void }[] = [];
  let buffer = '';
  let err = '';
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const ready = new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the notify listener exited (${code}): ${err}`)));
    child.stdout.on('data', (b: Buffer) => {
      buffer += b.toString();
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = JSON.parse(buffer.slice(0, nl)) as Datagram & { listening?: string };
        buffer = buffer.slice(nl + 1);
        if (line.listening) resolve();
        else {
          received.push(line);
          waiters = waiters.filter((w) => !(w.match(line.text) && (w.resolve(line), true)));
        }
      }
    });
  });
  await ready;
  const sender = openNotifySocket(address);
  let marks = 0;
  const isMark = (t: string) => t.startsWith('X-TEST-MARK=');
  const close = () => {
    sender.close();
    child.kill();
  };
  after(close);
  const l: Listener = {
    address,
    env: { NOTIFY_SOCKET: address },
    all: () => received.filter((d) => !isMark(d.text)),
    async take() {
      await l.sync();
      const texts = received.slice(taken).map((d) => d.text).filter((t) => !isMark(t));
      taken = received.length;
      return texts;
    },
    waitFor(match, ms = 30_000) {
      const seen = received.slice(taken).find((d) => match(d.text));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no datagram matched within ${ms} ms; got ${JSON.stringify(l.all().map((d) => d.text))}`)), ms);
        waiters.push({ match, resolve: (d) => (clearTimeout(timer), resolve(d)) });
      });
    },
    async sync() {
      const mark = `X-TEST-MARK=${++marks}`;
      const got = l.waitFor((t) => t === mark, 10_000);
      sender.send(mark);
      await got;
    },
    close,
  };
  return l;
}

/** The messages casync 2 also sends: READY=1, with DEVICE= for mkdev. */
export const casyncMessages = (texts: string[]) => texts.filter((t) => /^(READY|DEVICE)=/m.test(t));
