// The verbs that serve until stopped: mount, mkdev and serve run until SIGINT
// or SIGTERM (which abort their signal: unmount, detach, close), printing what
// casync prints once they are up; pull and push speak CA_PROTOCOL on standard
// input and output for an ssh client, so nothing else may go to standard output.

import { formatFeatureFlagNames } from '../format/feature-flag-names.ts';
import { mkdev as mkdevOp } from '../platform/node/operations/mkdev.ts';
import { mount as mountOp } from '../platform/node/operations/mount.ts';
import { pull, push } from '../platform/node/operations/pull-push.ts';
import type { MadeWhat } from '../platform/node/operations/resolve.ts';
import { serve as serveOp } from '../platform/node/operations/serve.ts';
import { Log } from './log.ts';
import { network, storeChoice, trust, type GlobalOptions } from './options.ts';
import { packageFile } from './package-root.ts';

/**
 * An AbortSignal that SIGINT and SIGTERM (and `extra`) abort.  The handlers are
 * in place before anything starts, so a signal never kills the process half-way
 * (which could leave a dead mount behind).
 */
function onStop<T>(run: (signal: AbortSignal) => Promise<T>, extra: NodeJS.Signals[] = []): Promise<T> {
  const ac = new AbortController();
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', ...extra];
  const stop = (signal: NodeJS.Signals) => ac.abort(signal);
  for (const s of signals) process.on(s, stop);
  return run(ac.signal).finally(() => {
    for (const s of signals) process.off(s, stop);
  });
}

const served = (opts: GlobalOptions, log: Log) => ({ ...storeChoice(opts), ...network(opts), ...trust(opts), seeds: opts.seed, onWarning: log.warn, onLog: log.line });

export async function mount(input: string | undefined, mountpoint: string | undefined, opts: GlobalOptions) {
  const log = new Log(!!opts.verbose);
  const r = await onStop(
    (signal) =>
      mountOp({
        ...served(opts, log),
        input: input ?? '',
        mountpoint: mountpoint ?? '',
        what: opts.what as MadeWhat | undefined,
        signal,
        onMounted: (m) => {
          process.stdout.write(`Mounted: ${m.mountpoint}\n`);
          if (m.notShown) log.info(`Not shown in the mounted file system: ${formatFeatureFlagNames(m.notShown)}`);
        },
      }),
    ['SIGHUP'],
  );
  if (r.ended !== 'by the kernel') log.info(`${r.ended === 'unmounted' ? 'unmounted' : 'busy, detached'} ${r.mountpoint}`);
  log.info(`FUSE requests: ${r.requests.map(([op, n]) => `${op} ${n}`).join(', ')}`);
}

export async function mkdev(input: string | undefined, node: string | undefined, opts: GlobalOptions) {
  const log = new Log(!!opts.verbose);
  await onStop((signal) =>
    mkdevOp({
      ...served(opts, log),
      input: input ?? '-',
      node,
      what: opts.what as 'blob' | 'blob-index' | undefined,
      listen: opts.listen,
      debug: !!opts.verbose,
      signal,
      onReady: (r) => process.stdout.write(r.uri ? `Listening on ${r.uri}\n` : `Attached: ${r.device}\n`),
    }),
  );
}

export async function serve(dir: string, opts: GlobalOptions) {
  await onStop((signal) =>
    serveOp({
      dir,
      listen: opts.listen,
      writable: opts.writable,
      token: network(opts).token,
      chunkSize: opts.chunkSize,
      webRoot: packageFile('dist/web'),
      signal,
      onListening: (url) => process.stderr.write(`Serving ${dir} on ${url}${opts.writable ? ' (writable)' : ''}\n`),
      onLog: opts.verbose ? (line) => process.stderr.write(`${line}\n`) : undefined,
    }),
  );
}

export async function pullPush(verb: 'pull' | 'push', args: string[], opts: GlobalOptions) {
  const o = { args, input: process.stdin, output: process.stdout, rateLimitBps: network(opts).rateLimitBps };
  await (verb === 'pull' ? pull(o) : push(o));
}
