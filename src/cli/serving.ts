// The verbs that serve until stopped: mount, mkdev and serve run until SIGINT
// or SIGTERM (which abort their signal: unmount, detach, close), printing what
// casync prints once they are up and telling the service manager (READY=1
// once up, STOPPING=1 when stopped: service.ts); pull and push speak CA_PROTOCOL on standard
// input and output for an ssh client, so nothing else may go to standard output.

import { formatFeatureFlagNames } from '../format/feature-flag-names.ts';
import { mkdev as mkdevOp } from '../platform/node/operations/mkdev.ts';
import { mount as mountOp } from '../platform/node/operations/mount.ts';
import { pull, push } from '../platform/node/operations/pull-push.ts';
import type { MadeWhat } from '../platform/node/operations/resolve.ts';
import { serve as serveOp } from '../platform/node/operations/serve.ts';
import { Log } from './log.ts';
import { network, serverTls, storeChoice, trust, type GlobalOptions } from './options.ts';
import { packageFile } from './package-root.ts';
import { serviceNotifier } from './service.ts';

/**
 * An AbortSignal that SIGINT and SIGTERM (and `extra`) abort.  The handlers are
 * in place before anything starts, so a signal never kills the process half-way
 * (which could leave a dead mount behind).
 */
function onStop<T>(verb: string, run: (signal: AbortSignal) => Promise<T>, extra: NodeJS.Signals[] = []): Promise<T> {
  const ac = new AbortController();
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', ...extra];
  // A server outlives whoever read its output (mount.wasync, which returns
  // once the file system is up; a closed pipe): a failed write must not end it.
  for (const s of [process.stdout, process.stderr]) if (s.listenerCount('error') === 0) s.on('error', () => {});
  const stop = (signal: NodeJS.Signals) => {
    if (!ac.signal.aborted) serviceNotifier().stopping(verb, signal);
    ac.abort(signal);
  };
  for (const s of signals) process.on(s, stop);
  return run(ac.signal).finally(() => {
    for (const s of signals) process.off(s, stop);
  });
}

const served = (opts: GlobalOptions, log: Log, input: string) => ({
  ...storeChoice(opts),
  ...network(opts),
  ...trust(opts, input),
  seeds: opts.seed,
  onWarning: log.warn,
  onLog: log.line,
  notify: serviceNotifier().notice,
});

export async function mount(input: string | undefined, mountpoint: string | undefined, opts: GlobalOptions, extra: { noexec?: boolean } = {}) {
  const log = new Log(!!opts.verbose);
  const r = await onStop(
    'mount',
    (signal) =>
      mountOp({
        ...served(opts, log, input ?? ''),
        input: input ?? '',
        mountpoint: mountpoint ?? '',
        what: opts.what as MadeWhat | undefined,
        noexec: extra.noexec,
        signal,
        onMounted: (m) => {
          process.stdout.write(`Mounted: ${m.mountpoint}\n`);
          serviceNotifier().status(`Mounted ${input} on ${m.mountpoint}`);
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
  await onStop('mkdev', (signal) =>
    mkdevOp({
      ...served(opts, log, input ?? '-'),
      input: input ?? '-',
      node,
      what: opts.what as 'blob' | 'blob-index' | undefined,
      listen: opts.listen,
      debug: !!opts.verbose,
      signal,
      onReady: (r) => {
        const line = r.uri ? `Listening on ${r.uri}` : `Attached: ${r.node}`;
        process.stdout.write(`${line}\n`);
        serviceNotifier().status(line);
      },
    }),
  );
}

export async function serve(dir: string | undefined, opts: GlobalOptions) {
  const log = new Log(!!opts.verbose);
  await onStop('serve', (signal) =>
    serveOp({
      ...network(opts),
      dir,
      upstream: opts.upstream,
      cache: opts.cache,
      encryption: storeChoice(opts).encryption,
      https: serverTls(opts),
      listen: opts.listen,
      writable: opts.writable,
      chunkSize: opts.chunkSize,
      webRoot: packageFile('dist/web'),
      signal,
      onListening: (url) => {
        const what = [dir, ...(opts.upstream ?? []).map((u) => `upstream ${u}`)].filter(Boolean).join(', ');
        const line = `Serving ${what} on ${url}${opts.writable ? ' (writable)' : ''}${opts.clientCa ? ' (client certificates required)' : ''}`;
        process.stderr.write(`${line}\n`);
        // Not a casync verb: READY=1 for Type=notify units all the same.
        serviceNotifier().send('READY=1');
        serviceNotifier().status(line);
      },
      onLog: opts.verbose ? (line) => process.stderr.write(`${line}\n`) : undefined,
      // A corrupt or failing upstream store is said whatever -v says.
      onWarning: log.line,
    }),
  );
}

export async function pullPush(verb: 'pull' | 'push', args: string[], opts: GlobalOptions) {
  const o = { args, input: process.stdin, output: process.stdout, rateLimitBps: network(opts).rateLimitBps };
  await (verb === 'pull' ? pull(o) : push(o));
}
