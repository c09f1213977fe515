// mount.wasync SOURCE MOUNTPOINT [-sfnvh] [-t TYPE] [-o OPTIONS] [--foreground]:
// the mount helper, so that /etc/fstab lines and mount(8) work:
//
//   https://host/img.caidx  /mnt  fuse.wasync  ro,store=https://host/s.castr,seed=/dev/sda2,_netdev  0 0
//   mount -t fuse.wasync SOURCE MOUNTPOINT -o store=…
//
// mount(8) runs /sbin/mount.fuse.wasync (a link to this, where one is made)
// or else fuse3's mount.fuse, which runs `wasync SOURCE MOUNTPOINT -o
// OPTIONS` (the type's name, found in the default PATH: mount(8) passes
// none) — main.ts hands that form here.  Either way the helper must return
// once the file system is up, so it starts itself again with --foreground in a
// session of its own (that process serves until unmounted, as `wasync mount`
// does), passes on what it says on standard error until "Mounted:", and exits
// 0; or with the error, 32 as mount(8)'s helpers do.  Its standard error goes
// to the journal when the helper's does ($JOURNAL_STREAM), else nowhere once
// the helper is gone, as libfuse's daemons do.
//
// -o OPTIONS: wasync's own (store=, extra-store=, seed=, cache=, what=,
// concurrency=, rate-limit-bps=, the TLS, trust, encryption and config files,
// verbose; '_' may stand for '-'), and the
// generic ones mount(8), fstab and mount.fuse add, which change nothing on a
// mount that is always read-only, nosuid and nodev (rw, dev, suid, atime
// flags, …) except noexec.  Anything else is refused by name (ignored with a
// warning under -s, as mount(8)'s sloppy mode asks).

import { spawn } from 'node:child_process';
import { existsSync, fstatSync } from 'node:fs';
import { resolve } from 'node:path';
import { WasyncError, usageError } from '../errors.ts';
import { RUNTIME, SINGLE_EXECUTABLE } from '../platform/node/io/runtime.ts';
import { classifyLocator } from '../stores/locator.ts';
import type { GlobalOptions } from './options.ts';
import { packageFile } from './package-root.ts';
import { mount } from './serving.ts';

/** what mount(8) exits with when mounting failed (1: a wrong invocation) */
const MOUNT_FAILURE = 32;
/** The single executable's first argument that makes it the mount helper (src/cli/executable.ts). */
export const AS_MOUNT_HELPER = '--as-mount-helper';
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const USAGE = `Usage: mount.wasync SOURCE MOUNTPOINT [-s] [-f] [-n] [-v] [-o OPTIONS] [--foreground]

Mounts the .caidx, .catar or .caibx SOURCE (a path or an http(s) URL) read-only
on MOUNTPOINT, as \`wasync mount\` does, and returns once it is mounted; umount
ends it.  For /etc/fstab (type fuse.wasync) and \`mount -t fuse.wasync\`.

Options (-o, comma-separated):
  store=PATH|URL        the chunk store (default: default.castr beside SOURCE)
  extra-store=PATH|URL  another store to read chunks from (repeatable)
  seed=PATH             a file, block device or directory to take chunks from (repeatable)
  cache=PATH            a local store that keeps the chunks fetched from remote stores
  what=WHAT             archive, archive-index or blob-index, when the suffix does not say
  concurrency=N, rate-limit-bps=N, verbose, noexec
  ca-cert=FILE, client-cert=FILE, client-key=FILE   TLS of HTTPS, S3 and OCI stores
  trusted-key=FILE|KEY (repeatable), min-version=N  the index must be signed so
  encryption-key-file=FILE, encryption=CIPHER        an encrypted store
  config=FILE           the configuration file (default ~/.config/wasync/config.json)
  rw, ro, dev, suid, exec, atime, noatime, _netdev, nofail, x-…: accepted; the
                        mount is always read-only, nosuid and nodev
  -s  ignore unknown options (with a warning)   -f  check the options only
  --foreground  serve in this process until unmounted`;

/**
 * wasync's options: -o name → the command line's option, whether it repeats,
 * and whether it names a local path (made absolute, as the server runs in /;
 * 'maybe': a key given inline or a file, made absolute when such a file exists).
 */
const OWN: Record<string, { key: keyof GlobalOptions; list?: boolean; path?: true | 'maybe' }> = {
  store: { key: 'store', path: true },
  'extra-store': { key: 'extraStore', list: true, path: true },
  seed: { key: 'seed', list: true, path: true },
  cache: { key: 'cache', path: true },
  what: { key: 'what' },
  concurrency: { key: 'concurrency' },
  'rate-limit-bps': { key: 'rateLimitBps' },
  'ca-cert': { key: 'caCert', path: true },
  'client-cert': { key: 'clientCert', path: true },
  'client-key': { key: 'clientKey', path: true },
  'trusted-key': { key: 'trustedKey', list: true, path: 'maybe' },
  'min-version': { key: 'minVersion' },
  'encryption-key-file': { key: 'encryptionKeyFile', path: true },
  encryption: { key: 'encryption' },
  config: { key: 'config', path: true },
};

/** Generic options that change nothing on a read-only, nosuid, nodev FUSE mount, or that mount(8) acts on itself. */
const NO_EFFECT = new Set([
  'ro', 'rw', 'defaults', 'auto', 'noauto', 'nofail', '_netdev', 'user', 'users', 'nouser', 'owner', 'group',
  'suid', 'nosuid', 'dev', 'nodev', 'exec',
  'atime', 'noatime', 'diratime', 'nodiratime', 'relatime', 'norelatime', 'strictatime', 'nostrictatime', 'lazytime', 'nolazytime',
  'async', 'sync', 'dirsync', 'allow_other', 'default_permissions',
]);

export interface HelperCall {
  source: string;
  mountpoint: string;
  /** the -o options, split at commas */
  options: string[];
  /** -s: unknown options are ignored with a warning */
  sloppy: boolean;
  /** -f: check everything, mount nothing */
  fake: boolean;
  help: boolean;
  foreground: boolean;
}

/** mount(8)'s helper calling convention: SOURCE MOUNTPOINT, then flags, in any order after them. */
export function parseHelperArgs(argv: string[]): HelperCall {
  const call: HelperCall = { source: '', mountpoint: '', options: [], sloppy: false, fake: false, help: false, foreground: false };
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-o' || a === '-t' || a === '-N') {
      const v = argv[++i];
      if (v === undefined) throw usageError(`${a} needs a value`);
      if (a === '-o') call.options.push(...v.split(',').filter(Boolean));
    } else if (a.startsWith('-o') && a.length > 2) call.options.push(...a.slice(2).split(',').filter(Boolean));
    else if (a === '--foreground') call.foreground = true;
    else if (a === '-h' || a === '--help') call.help = true;
    else if (/^-[sfnvwr]+$/.test(a)) {
      // -n (no mtab), -v (verbose), -w and -r (read-write, read-only) change nothing here.
      if (a.includes('s')) call.sloppy = true;
      if (a.includes('f')) call.fake = true;
    } else if (a.startsWith('-') && a !== '-') throw usageError(`${a}: not an option mount.wasync knows (see -h)`);
    else positional.push(a);
  }
  if (call.help) return call;
  if (positional.length !== 2) throw usageError(`a source and a mount point expected, got ${positional.length ? positional.join(' ') : 'nothing'} (see -h)`);
  [call.source, call.mountpoint] = positional;
  return call;
}

/** A local path made absolute (the serving process runs in /); URLs and the like as they are. */
const absolute = (loc: string, cwd: string) => (classifyLocator(loc) === 'path' ? resolve(cwd, loc) : loc);

/** The -o options as `wasync mount`'s, checked: unknown ones refused by name (ignored when sloppy). */
export function helperOptions(call: HelperCall, cwd: string, warn: (m: string) => void): { opts: GlobalOptions; noexec: boolean; options: string[] } {
  const opts: Record<string, unknown> = {};
  let noexec = false;
  const unknown: string[] = [];
  /** the options again, local paths made absolute, unknown ones left out */
  const options: string[] = [];
  for (const option of call.options) {
    const eq = option.indexOf('=');
    const given = eq < 0 ? option : option.slice(0, eq);
    const value = eq < 0 ? undefined : option.slice(eq + 1);
    const name = given.startsWith('_') ? given : given.replace(/_/g, '-');
    const own = OWN[name];
    if (own) {
      if (!value) throw usageError(`-o ${given}: needs a value (${given}=…)`);
      const v = own.path === true || (own.path === 'maybe' && existsSync(resolve(cwd, value))) ? absolute(value, cwd) : value;
      options.push(`${name}=${v}`);
      if (own.list) opts[own.key] = [...((opts[own.key] as string[] | undefined) ?? []), v];
      else opts[own.key] = v;
    } else if (name === 'verbose' || name === 'noexec' || NO_EFFECT.has(name)) {
      if (value !== undefined) throw usageError(`-o ${option}: ${given} takes no value`);
      options.push(name);
      if (name === 'verbose') opts.verbose = true;
      if (name === 'noexec' || name === 'exec') noexec = name === 'noexec';
    } else if (name.startsWith('x-') || name === 'comment') {
      // userspace options for mount(8) and systemd (x-systemd.automount, …)
    } else unknown.push(given);
  }
  if (unknown.length) {
    const what = `-o ${unknown.join(', ')}: not ${unknown.length > 1 ? 'options' : 'an option'} wasync knows`;
    if (!call.sloppy) throw usageError(`${what} (see mount.wasync -h)`);
    warn(`${what}; ignored (-s)`);
  }
  return { opts: opts as GlobalOptions, noexec, options };
}

export async function mountHelper(argv: string[]): Promise<number> {
  const warn = (m: string) => process.stderr.write(`wasync: warning: ${m}\n`);
  let call: HelperCall;
  let parsed: ReturnType<typeof helperOptions>;
  try {
    call = parseHelperArgs(argv);
    if (call.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    parsed = helperOptions(call, process.cwd(), warn);
  } catch (e) {
    if (!(e instanceof WasyncError)) throw e;
    process.stderr.write(`wasync: ${e.message}\n`);
    return 1;
  }
  if (call.fake) return 0;
  if (call.foreground) {
    try {
      await mount(call.source, call.mountpoint, parsed.opts, { noexec: parsed.noexec });
      return 0;
    } catch (e) {
      process.stderr.write(`wasync: ${e instanceof WasyncError ? e.message : `internal error: ${(e as Error)?.stack ?? String(e)}`}\n`);
      return MOUNT_FAILURE;
    }
  }
  return background(call, parsed.options);
}

/** Whether standard error is the journal stream systemd named ($JOURNAL_STREAM=DEV:INODE). */
function stderrIsJournal(): boolean {
  const j = /^(\d+):(\d+)$/.exec(process.env.JOURNAL_STREAM ?? '');
  if (!j) return false;
  try {
    const st = fstatSync(2);
    return String(st.dev) === j[1] && String(st.ino) === j[2];
  } catch {
    return false;
  }
}

/** The helper's own command line: the runtime and bin/mount.wasync.js, or the single executable. */
function helperCommand(): string[] {
  if (SINGLE_EXECUTABLE) return [process.execPath, AS_MOUNT_HELPER];
  const script = packageFile('bin/mount.wasync.js');
  if (!script) throw new WasyncError('EUNSUPPORTED', 'mount.wasync: cannot find bin/mount.wasync.js beside the code');
  return RUNTIME === 'deno' ? [process.execPath, 'run', '-A', script] : [process.execPath, ...process.execArgv, script];
}

/** Runs this helper again with --foreground in a session of its own, until it has mounted or failed. */
function background(call: HelperCall, options: string[]): Promise<number> {
  const command = helperCommand();
  const args = [...command, '--foreground', absolute(call.source, process.cwd()), resolve(call.mountpoint), ...(options.length ? ['-o', options.join(',')] : [])];
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: process.env.PATH || DEFAULT_PATH };
  // The service manager of whoever ran mount(8) is not this file system's.
  delete env.NOTIFY_SOCKET;
  const journal = stderrIsJournal();
  const child = spawn(args[0], args.slice(1), {
    cwd: '/',
    env,
    detached: true,
    stdio: ['ignore', 'pipe', journal ? 'inherit' : 'pipe'],
  });
  child.stderr?.on('data', (b: Buffer) => process.stderr.write(b));
  return new Promise((done) => {
    let out = '';
    let settled = false;
    const stop = () => child.kill('SIGTERM');
    const finish = (code: number) => {
      if (settled) return;
      settled = true;
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      child.stdout!.destroy();
      child.stderr?.destroy();
      child.unref();
      done(code);
    };
    // Interrupted before the mount is up: the server stops (and unmounts) too.
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      if (/^Mounted: /m.test(out)) finish(0);
    });
    child.on('error', (e) => {
      process.stderr.write(`wasync: cannot start ${command.join(' ')}: ${e.message}\n`);
      finish(MOUNT_FAILURE);
    });
    child.on('exit', (code, signal) => {
      if (code === 0 && !signal) process.stderr.write(`wasync: ${call.mountpoint}: the server ended before mounting\n`);
      finish(code === 1 ? 1 : MOUNT_FAILURE);
    });
  });
}
