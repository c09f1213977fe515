// Outputs are written under a temporary name in the target's directory and
// renamed over the target only once complete, so an interrupted or failed run
// never leaves a partial file under the final name and never damages what was
// there.  Temporary files still open are removed on failure, and, where the
// process wants it (the command line: exitOnSignals), on SIGINT and SIGTERM.

import { closeSync, fchmodSync, openSync, renameSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ioError } from '../../../errors.ts';

const live = new Set<AtomicFile>();
let handlersInstalled = false;
let onSignals = false;

/**
 * From now on, SIGINT, SIGTERM and SIGHUP remove the temporary files still
 * open and end the process (once one has been created: a command that makes
 * none, such as mount, keeps its own handling of signals).  A library leaves
 * the process's signals to its caller.
 */
export function exitOnSignals(): void {
  onSignals = true;
}

function installSignalHandlers() {
  if (handlersInstalled) return;
  handlersInstalled = true;
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    process.on(signal, () => {
      for (const f of live) f.abort();
      process.exit(code);
    });
  }
}

export class AtomicFile {
  readonly tmpPath: string;
  readonly fd: number;
  private open = true;

  /** Creates the temporary file beside `path`, with permission bits `mode` (umask applies). */
  constructor(readonly path: string, mode = 0o666) {
    if (onSignals) installSignalHandlers();
    this.tmpPath = join(dirname(path), `.#${basename(path)}.${randomBytes(8).toString('hex')}`);
    try {
      this.fd = openSync(this.tmpPath, 'wx', mode);
    } catch (e) {
      throw ioError('EOUTPUT', path, e);
    }
    live.add(this);
  }

  /** Sets exact permission bits (to keep those of a file being replaced). */
  chmod(mode: number) {
    fchmodSync(this.fd, mode);
  }

  commit() {
    closeSync(this.fd);
    this.open = false;
    try {
      renameSync(this.tmpPath, this.path);
    } catch (e) {
      this.abort();
      throw ioError('EOUTPUT', this.path, e);
    } finally {
      live.delete(this);
    }
  }

  abort() {
    if (this.open) {
      this.open = false;
      try {
        closeSync(this.fd);
      } catch {}
    }
    try {
      unlinkSync(this.tmpPath);
    } catch {}
    live.delete(this);
  }
}
