// wasync list|mtree|stat [ARCHIVE|ARCHIVE_INDEX|DIRECTORY] [PATH] and
// wasync digest [ARCHIVE|ARCHIVE_INDEX|DIRECTORY|FILE|BLOCKDEV|BLOB_INDEX] [PATH]:
// casync's inspection verbs, their text on standard output as it is made.

import { digest as digestOp } from '../platform/node/operations/digest.ts';
import { inspectText, type InspectVerb } from '../platform/node/operations/inspect.ts';
import type { TreeWhat, What } from '../platform/node/operations/resolve.ts';
import { writeStdout } from '../platform/node/io/stdout.ts';
import { features, network, parseDigest, parseYesNo, storeChoice, trust, type GlobalOptions } from './options.ts';
import { serviceNotifier } from './service.ts';

/**
 * Standard output in large pieces.  A failed write (a closed pipe) is thrown by
 * the next add(), which ends the walk instead of decoding on for nobody.  Once
 * a few pieces wait to be written, add() hands back a promise that the walk
 * waits for: a slow reader holds the decoding back instead of the text piling
 * up in memory.
 */
const PIECE = 1 << 16;
const QUEUED_MAX = 4;

class Out {
  private text = '';
  private failed: unknown = null;
  private writing: Promise<void> = Promise.resolve();
  private queued = 0;

  constructor() {
    // Write errors arrive through the callbacks; without a listener the stream's
    // 'error' event would end the process with a stack trace.
    if (process.stdout.listenerCount('error') === 0) process.stdout.on('error', () => {});
  }

  add = (s: string): void | Promise<void> => {
    if (this.failed) throw this.failed;
    this.text += s;
    if (this.text.length < PIECE) return;
    this.write();
    if (this.queued >= QUEUED_MAX) return this.writing;
  };

  async flush(): Promise<void> {
    this.write();
    await this.writing;
    if (this.failed) throw this.failed;
  }

  private write() {
    const t = this.text;
    this.text = '';
    if (!t) return;
    this.queued++;
    this.writing = this.writing
      .then(() => writeStdout(Buffer.from(t, 'utf8')))
      .catch((e) => {
        this.failed ??= e;
      })
      .finally(() => this.queued--);
  }
}

/** Without an input casync reads the current directory, unless --what names something else. */
const inputOf = (arg: string | undefined, what: string | undefined) => arg ?? (what === undefined || what === 'directory' ? '.' : '-');

const treeOptions = (opts: GlobalOptions, input: string) => ({
  input,
  ...storeChoice(opts),
  ...network(opts),
  ...trust(opts, input),
  features: features(opts),
  digest: parseDigest(opts.digest),
  notify: serviceNotifier().notice,
});

export async function inspect(verb: InspectVerb, inputArg: string | undefined, path: string | undefined, opts: GlobalOptions) {
  const out = new Out();
  try {
    await inspectText(
      verb,
      { ...treeOptions(opts, inputOf(inputArg, opts.what)), what: opts.what as TreeWhat | undefined, path, recursive: parseYesNo('recursive', opts.recursive, true) },
      out.add,
    );
    await out.flush();
  } catch (e) {
    // What was printed before the failure still goes out, as with casync.
    await out.flush().catch(() => {});
    throw e;
  }
}

export async function digest(inputArg: string | undefined, path: string | undefined, opts: GlobalOptions) {
  const d = await digestOp({ ...treeOptions(opts, inputOf(inputArg, opts.what)), what: opts.what as What | undefined, path });
  process.stdout.write(`${d}\n`);
}
