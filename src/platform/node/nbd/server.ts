// NBD over Node sockets: a listener on a Unix socket or TCP port that gives every
// connection its own NbdSession (protocol/nbd-session.ts) over one shared export, and
// the wiring of any connected socket (the kernel's socketpair end, too) to a
// session.  All connections share the export's reader, hence its cache of
// verified chunks, which is what makes NBD_FLAG_CAN_MULTI_CONN honest.
//
// The listener is created with allowHalfOpen: a client that shuts down its
// sending side still gets the replies to the reads it has sent.  Shutting down
// stops accepting, lets every session answer its open reads, then disconnects;
// the Unix socket file is removed.  The address is printed as an NBD URI
// (nbd+unix:///NAME?socket=PATH, nbd://HOST:PORT/NAME), which nbdinfo, nbdcopy,
// nbdfuse and qemu take as is.

import { createServer, type Server, type Socket } from 'node:net';
import { lstatSync, unlinkSync } from 'node:fs';
import { resolve } from 'node:path';
import { usageError } from '../../../errors.ts';
import { NbdSession, type NbdExport } from '../../../protocol/nbd-session.ts';

export type ListenAddress = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

/** unix:PATH or tcp:HOST:PORT (tcp:[V6]:PORT; an empty host is 127.0.0.1; port 0 picks one). */
export function parseListenAddress(v: string): ListenAddress {
  if (v.startsWith('unix:') && v.length > 5) return { kind: 'unix', path: resolve(v.slice(5)) };
  const m = /^tcp:(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(v);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw usageError(`--listen=${v}: expected unix:PATH or tcp:HOST:PORT`);
  return { kind: 'tcp', host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

/** The NBD URI of an export at an address. */
export function nbdUri(address: ListenAddress, name: string): string {
  const exportPath = encodeURIComponent(name);
  if (address.kind === 'unix') return `nbd+unix:///${exportPath}?socket=${address.path}`;
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return `nbd://${host}:${address.port}/${exportPath}`;
}

export interface NbdServerOptions {
  export: NbdExport;
  /** failed requests and protocol violations, one line each */
  log(line: string): void;
  /** connections opened and closed (--verbose) */
  debug?: (line: string) => void;
  maxInFlight?: number;
}

export class NbdServer {
  private readonly sessions = new Set<NbdSession>();
  private listener: Server | null = null;
  private address: ListenAddress | null = null;
  private serial = 0;

  constructor(private readonly o: NbdServerOptions) {}

  /** Serves a connected socket (a client's, or the kernel's end of a socketpair). */
  attach(socket: Socket, how: { transmissionOnly?: boolean; peer?: string } = {}): NbdSession {
    const peer = how.peer ?? `connection ${++this.serial}`;
    const session = new NbdSession({
      export: this.o.export,
      log: this.o.log,
      maxInFlight: this.o.maxInFlight,
      transmissionOnly: how.transmissionOnly,
      peer,
      transport: {
        write(parts) {
          if (socket.destroyed || !socket.writable) return true;
          socket.cork();
          let ok = true;
          for (const p of parts) ok = socket.write(p);
          socket.uncork();
          return ok;
        },
        // Closed once flushed: a peer that keeps its side open must not hold up a shutdown.
        end: () => socket.end(() => socket.destroy()),
        destroy: () => socket.destroy(),
        pause: () => socket.pause(),
        resume: () => socket.resume(),
      },
    });
    this.sessions.add(session);
    this.o.debug?.(`${peer}: opened`);
    socket.on('data', (b: Buffer) => session.push(b));
    socket.on('drain', () => session.drained());
    socket.on('end', () => session.inputEnded());
    // A peer that resets the connection is not an error of ours; 'close' follows.
    socket.on('error', (e) => this.o.debug?.(`${peer}: ${e.message}`));
    socket.on('close', () => {
      this.sessions.delete(session);
      session.transportClosed();
      this.o.debug?.(`${peer}: closed`);
    });
    return session;
  }

  /** Listens; resolves with the address actually bound (the port picked for port 0). */
  async listen(address: ListenAddress): Promise<ListenAddress> {
    const server = createServer({ allowHalfOpen: true }, (socket) => {
      if (address.kind === 'tcp') socket.setNoDelay(true);
      this.attach(socket, { peer: `connection ${++this.serial}${socket.remoteAddress ? ` from ${socket.remoteAddress}` : ''}` });
    });
    await new Promise<void>((ok, fail) => {
      server.once('error', (e: NodeJS.ErrnoException) => {
        const what = address.kind === 'unix' ? `unix:${address.path}` : `tcp:${address.host}:${address.port}`;
        const why =
          e.code !== 'EADDRINUSE' ? e.message : address.kind === 'unix' ? 'the file exists (remove it if no server uses it)' : 'the port is in use';
        fail(usageError(`--listen=${what}: ${why}`));
      });
      if (address.kind === 'unix') server.listen(address.path, () => ok());
      else server.listen(address.port, address.host, () => ok());
    });
    this.listener = server;
    const bound = server.address();
    this.address = address.kind === 'tcp' && typeof bound === 'object' && bound ? { ...address, port: bound.port } : address;
    return this.address;
  }

  /** Stops listening, lets every session answer its open reads, disconnects them. */
  async close(graceMs = 5000): Promise<void> {
    const listener = this.listener;
    this.listener = null;
    const stopped = listener ? new Promise<void>((r) => listener.close(() => r())) : Promise.resolve();
    const sessions = [...this.sessions];
    const timer = setTimeout(() => {
      for (const s of sessions) s.forceClose();
    }, graceMs);
    await Promise.all(sessions.map((s) => s.shutdown()));
    clearTimeout(timer);
    await stopped;
    // Node unlinks a Unix socket it listened on when closing; make sure of it.
    if (this.address?.kind === 'unix') {
      try {
        if (lstatSync(this.address.path).isSocket()) unlinkSync(this.address.path);
      } catch {
        // already gone
      }
    }
  }
}
