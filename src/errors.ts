// Every failure wasync reports is one of these.  The message is one line that says
// what failed and where (file, byte offset, chunk id, store); the CLI prints it and
// exits non-zero.  `code` lets callers branch without parsing text.

export type ErrorCode =
  | 'EUSAGE' // a bad option or argument
  | 'EFORMAT' // an index or archive that violates the format
  | 'EUNSUPPORTED' // valid input this build or platform cannot handle
  | 'ECHUNKMISSING' // no store or seed has the chunk
  | 'ECHUNKCORRUPT' // a chunk that does not decompress or match its id
  | 'ENETWORK' // a remote that cannot be reached or answers with an error
  | 'EINPUT' // an input that cannot be read
  | 'EOUTPUT' // an output that cannot be written
  | 'ESIGNATURE'; // an index or archive whose signature is missing, malformed, untrusted or does not match

export class WasyncError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(withoutPasswords(message), options);
    this.name = 'WasyncError';
  }
}

/**
 * `text` with the password of every URL's user info (`scheme://user:password@`)
 * replaced by `***`.  Locators may carry credentials (oci+https://user:pw@host/…),
 * and messages quote locators; so no message of wasync's can print one.
 */
export const withoutPasswords = (text: string) => text.replace(/([a-z][a-z0-9+.-]*:\/\/[^\s:@/]*):[^\s@/]*@/gi, '$1:***@');

export const usageError = (message: string) => new WasyncError('EUSAGE', message);

/** A format violation at a byte offset of a named file. */
export const formatError = (file: string, offset: number, what: string) =>
  new WasyncError('EFORMAT', `${file}: ${what} (at byte ${offset})`);

export const networkError = (message: string, cause?: unknown) => new WasyncError('ENETWORK', message, { cause });

export const unsupported = (message: string) => new WasyncError('EUNSUPPORTED', message);
/** What this platform cannot do (a codec that does not load): passed on, never taken for bad data. */
export const isUnsupported = (e: unknown): e is WasyncError => e instanceof WasyncError && e.code === 'EUNSUPPORTED';

export const signatureError = (message: string) => new WasyncError('ESIGNATURE', message);

/** No seed or store has chunk `id`; `absent`: the stores tried that do not exist. */
export function chunkMissing(id: string, tried: readonly string[], absent: readonly string[] = []): WasyncError {
  const where = tried.join(', ');
  const gone = absent.length === 1 ? `store ${absent[0]} does not exist` : `stores ${absent.join(', ')} do not exist`;
  const why = !tried.length ? 'not found in any store (none given)' : absent.length && absent.join(', ') === where ? gone : `not found in ${where}${absent.length ? `; ${gone}` : ''}`;
  return new WasyncError('ECHUNKMISSING', `chunk ${id} is missing: ${why}`);
}

/** A stored copy that is not its chunk: where it was, and why. */
export class ChunkCorruptError extends WasyncError {
  constructor(
    readonly id: string,
    readonly where: string,
    readonly why: string,
  ) {
    super('ECHUNKCORRUPT', `chunk ${id} in ${where} is corrupt: ${why}`);
  }
}

export const chunkCorrupt = (id: string, where: string, why: string) => new ChunkCorruptError(id, where, why);

/** The shape of a system error as Node, Bun and Deno throw one; spelled out here
 * rather than as NodeJS.ErrnoException so that the core needs no Node types. */
interface ErrnoLike {
  code?: string;
  message?: string;
  syscall?: string;
}

/** Wraps a system error (ENOENT, EACCES, …) with the path it concerns. */
export function ioError(code: 'EINPUT' | 'EOUTPUT', path: string, err: unknown): WasyncError {
  if (err instanceof WasyncError) return err;
  const e = err as ErrnoLike | undefined;
  const what = code === 'EINPUT' ? 'cannot read' : 'cannot write';
  return new WasyncError(code, `${path}: ${what}: ${e?.code ? `${e.code} ` : ''}${describe(e)}`, {
    cause: err,
  });
}

/** A chunk a store could not take (a full file system, no permission), naming both. */
export function storeWriteError(store: string, id: string, err: unknown): WasyncError {
  if (err instanceof WasyncError) return err;
  const e = err as ErrnoLike | undefined;
  return new WasyncError('EOUTPUT', `${store}: cannot write chunk ${id}: ${e?.code ? `${e.code} ` : ''}${describe(e)}`, { cause: err });
}

function describe(e: ErrnoLike | undefined): string {
  if (!e?.message) return String(e);
  // Node's messages repeat the code and path ("ENOENT: no such file…, open 'x'").
  const m = /^[A-Z]+: ([^,]+)/.exec(e.message);
  return m ? m[1] : e.message;
}
