// Starting the far side of an ssh locator the way casync does
// (casync-format.md §7.7): `$CASYNC_SSH_PATH (default ssh) HOST
// $CASYNC_REMOTE_PATH (default casync) [--rate-limit-bps=N] pull|push - ARCHIVE
// INDEX WSTORE [RSTORES…]`, each of ARCHIVE, INDEX and WSTORE a path on the
// host with its "host:" prefix stripped, or "-".  So the remote may be casync
// or wasync.  The child's stdin and stdout carry the frames; its stderr is kept
// (the last few KiB) to explain a failure in one line, and copied to ours with
// --verbose.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { WasyncError, networkError, usageError } from '../../../errors.ts';
import type { RateLimiter } from '../../../stores/rate-limiter.ts';
import { FrameChannel } from './frame-channel.ts';

const SSH_LOCATOR = /^((?:[A-Za-z0-9_.-]+@)?[A-Za-z0-9_.-]+):(.+)$/s;

/** `[user@]host:path` → { host: '[user@]host', path }. */
export function splitSshLocator(loc: string): { host: string; path: string } {
  const m = SSH_LOCATOR.exec(loc);
  if (!m) throw usageError(`${loc}: not an ssh location ([user@]host:path)`);
  return { host: m[1], path: m[2] };
}

/** A session with the far side of an ssh locator: the host, and the paths there, or null. */
export interface SessionSpec {
  /** [user@]host */
  host: string;
  archive: string | null;
  index: string | null;
  store: string | null;
  rateLimitBps?: number | null;
  limiter?: RateLimiter | null;
  verbose?: boolean;
}

export interface RemoteArgs {
  verb: 'pull' | 'push';
  archive: string | null;
  index: string | null;
  store: string | null;
  /** further stores to read from */
  extra?: string[];
  rateLimitBps?: number | null;
}

/** The remote command line after the host, as casync builds it. */
export function remoteCommand(a: RemoteArgs, env: NodeJS.ProcessEnv = process.env): string[] {
  return [
    env.CASYNC_REMOTE_PATH || 'casync',
    ...(a.rateLimitBps ? [`--rate-limit-bps=${a.rateLimitBps}`] : []),
    a.verb,
    '-',
    a.archive ?? '-',
    a.index ?? '-',
    a.store ?? '-',
    ...(a.extra ?? []),
  ];
}

const STDERR_KEEP = 4096;

export class SshProcess {
  readonly name: string;
  readonly channel: FrameChannel;
  /** resolves when the child has exited, however it ends */
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  private readonly child: ChildProcessWithoutNullStreams;
  private stderr = '';
  private spawnError: NodeJS.ErrnoException | null = null;
  private readonly ssh: string;

  constructor(host: string, args: RemoteArgs, o: { limiter?: RateLimiter | null; verbose?: boolean } = {}) {
    this.ssh = process.env.CASYNC_SSH_PATH || 'ssh';
    const command = remoteCommand(args);
    this.name = `ssh ${host} (${command.join(' ')})`;
    this.child = spawn(this.ssh, [host, ...command], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.exited = new Promise((resolve) => {
      this.child.on('error', (e) => {
        this.spawnError = e;
        resolve({ code: null, signal: null });
      });
      this.child.on('close', (code, signal) => resolve({ code, signal }));
    });
    this.child.stderr.on('data', (b: Buffer) => {
      if (o.verbose) process.stderr.write(b);
      this.stderr = (this.stderr + b.toString('utf8')).slice(-STDERR_KEEP);
    });
    this.channel = new FrameChannel(this.name, this.child.stdout, this.child.stdin, o.limiter ?? null);
  }

  /**
   * Why the session ended before it was done, once the child has exited: it
   * could not be started, it exited with an error (with the last line it
   * printed), or it ended the stream early.
   */
  async failure(what: string): Promise<WasyncError> {
    const timer = setTimeout(() => this.kill(), 5000);
    const { code, signal } = await this.exited;
    clearTimeout(timer);
    if (this.spawnError) {
      return networkError(`${this.name}: cannot run ${this.ssh}: ${this.spawnError.code ?? this.spawnError.message}`);
    }
    const said = this.lastLine();
    const how = signal ? `was killed by ${signal}` : code ? `exited with status ${code}` : `ended ${what} (status 0)`;
    return networkError(`${this.name}: ${how}${said ? `: ${said}` : ''}`);
  }

  /** Closes our side of the stream and waits for the child, killing it if it lingers. */
  async finish(graceMs = 10_000): Promise<{ code: number | null; signal: string | null }> {
    this.channel.end();
    const timer = setTimeout(() => this.kill(), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
  }

  private lastLine(): string {
    const lines = this.stderr.split('\n').map((l) => l.trim()).filter(Boolean);
    return lines.length ? lines[lines.length - 1] : '';
  }
}

