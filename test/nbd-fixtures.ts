// Fixtures for the NBD tests: `wasync mkdev --listen=…` as a child process that
// is stopped (SIGINT) after the test file, and a raw NBD client that speaks the
// protocol byte by byte, so that the tests can check what libnbd and qemu never
// send (simple replies, writes, unknown options and commands, NBD_OPT_ABORT).

import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { after } from 'node:test';
import { WASYNC } from './helpers.ts';

export interface Mkdev {
  /** the NBD URI it printed */
  uri: string;
  child: ChildProcess;
  stderr(): string;
  /** SIGINT, then the exit code */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `wasync mkdev … --listen=LISTEN INDEX` and waits for the URI it prints. */
export function startMkdev(index: string, listen: string, extra: string[] = []): Promise<Mkdev> {
  const child = spawn(process.execPath, [WASYNC, 'mkdev', ...extra, `--listen=${listen}`, index], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const stop = async (signal: NodeJS.Signals = 'SIGINT') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  after(() => stop());
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /^Listening on (\S+)$/m.exec(out);
      if (m) resolve({ uri: m[1], child, stderr: () => err, stop });
    });
    void exited.then((code) => reject(new Error(`wasync mkdev exited (${code}): ${err}`)));
  });
}

/** Reads exact byte counts from a socket. */
export class RawNbd {
  private buf = Buffer.alloc(0);
  private waiter: (() => void) | null = null;
  ended = false;

  constructor(readonly socket: Socket) {
    socket.on('data', (b: Buffer) => {
      this.buf = Buffer.concat([this.buf, b]);
      this.waiter?.();
    });
    socket.on('close', () => {
      this.ended = true;
      this.waiter?.();
    });
    socket.on('error', () => {});
  }

  static open(path: string): Promise<RawNbd> {
    return new Promise((resolve, reject) => {
      const s = connect(path, () => resolve(new RawNbd(s)));
      s.once('error', reject);
    });
  }

  async read(n: number): Promise<Buffer> {
    while (this.buf.length < n) {
      if (this.ended) throw new Error(`connection closed with ${this.buf.length} of ${n} bytes`);
      await new Promise<void>((r) => (this.waiter = r));
      this.waiter = null;
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** Waits for the server to close; true if it did without sending anything more. */
  async closedQuietly(): Promise<boolean> {
    while (!this.ended) {
      await new Promise<void>((r) => (this.waiter = r));
      this.waiter = null;
    }
    return this.buf.length === 0;
  }

  write(...parts: Buffer[]): void {
    this.socket.write(Buffer.concat(parts));
  }

  /** Reads the greeting and answers with client flags; returns the handshake flags. */
  async handshake(clientFlags: number): Promise<number> {
    const g = await this.read(18);
    if (g.toString('latin1', 0, 16) !== 'NBDMAGICIHAVEOPT') throw new Error(`bad greeting ${g.toString('hex')}`);
    const u32 = Buffer.alloc(4);
    u32.writeUInt32BE(clientFlags);
    this.write(u32);
    return g.readUInt16BE(16);
  }

  option(option: number, data: Buffer = Buffer.alloc(0)): void {
    const h = Buffer.alloc(16);
    h.write('IHAVEOPT', 0, 'latin1');
    h.writeUInt32BE(option, 8);
    h.writeUInt32BE(data.length, 12);
    this.write(h, data);
  }

  async optionReply(): Promise<{ option: number; type: number; data: Buffer }> {
    const h = await this.read(20);
    if (h.readBigUInt64BE(0) !== 0x3e889045565a9n) throw new Error(`bad option reply magic ${h.toString('hex')}`);
    const data = await this.read(h.readUInt32BE(16));
    return { option: h.readUInt32BE(8), type: h.readUInt32BE(12), data };
  }

  request(type: number, cookie: bigint, offset: number, length: number, flags = 0, payload?: Buffer): void {
    const r = Buffer.alloc(28);
    r.writeUInt32BE(0x25609513, 0);
    r.writeUInt16BE(flags, 4);
    r.writeUInt16BE(type, 6);
    r.writeBigUInt64BE(cookie, 8);
    r.writeBigUInt64BE(BigInt(offset), 16);
    r.writeUInt32BE(length, 24);
    this.write(r, ...(payload ? [payload] : []));
  }

  /** A simple reply header: error and cookie. */
  async simpleReply(): Promise<{ error: number; cookie: bigint }> {
    const h = await this.read(16);
    if (h.readUInt32BE(0) !== 0x67446698) throw new Error(`bad simple reply magic ${h.toString('hex')}`);
    return { error: h.readUInt32BE(4), cookie: h.readBigUInt64BE(8) };
  }

  /** A structured reply chunk. */
  async structuredReply(): Promise<{ flags: number; type: number; cookie: bigint; payload: Buffer }> {
    const h = await this.read(20);
    if (h.readUInt32BE(0) !== 0x668e33ef) throw new Error(`bad structured reply magic ${h.toString('hex')}`);
    const payload = await this.read(h.readUInt32BE(16));
    return { flags: h.readUInt16BE(4), type: h.readUInt16BE(6), cookie: h.readBigUInt64BE(8), payload };
  }
}

/** NBD_OPT_GO / NBD_OPT_INFO data. */
export function infoRequest(name: string, infos: number[] = []): Buffer {
  const n = Buffer.from(name);
  const b = Buffer.alloc(4 + n.length + 2 + 2 * infos.length);
  b.writeUInt32BE(n.length, 0);
  n.copy(b, 4);
  b.writeUInt16BE(infos.length, 4 + n.length);
  infos.forEach((t, i) => b.writeUInt16BE(t, 6 + n.length + 2 * i));
  return b;
}
