// wasync keygen and wasync sign INDEX|ARCHIVE…: minisign key pairs and
// signatures.  A password is read as minisign reads one: from the terminal
// without echo, or, when standard input is not a terminal, its next line
// (so `printf 'pw\npw\n' | wasync keygen` works as it does with minisign).

import { usageError } from '../errors.ts';
import { keygen as keygenOp, sign as signOp } from '../platform/node/operations/sign.ts';

export interface SignOptions {
  key?: string;
  publicKey?: string;
  withoutPassword?: boolean;
  force?: boolean;
  version?: string;
}

export async function keygen(opts: SignOptions) {
  const secretKey = opts.key ?? 'wasync.key';
  const publicKey = opts.publicKey ?? (secretKey.endsWith('.key') ? `${secretKey.slice(0, -4)}.pub` : `${secretKey}.pub`);
  let password: string | null = null;
  if (!opts.withoutPassword) {
    const input = new PasswordInput();
    password = await input.read('Password: ');
    const again = await input.read('Password (one more time): ');
    if (password !== again) throw usageError("the passwords don't match");
    if (!password) throw usageError('an empty password; use --without-password for a key without one');
  }
  const r = await keygenOp({ secretKey, publicKey, password, force: opts.force });
  process.stdout.write(`The secret key was saved as ${secretKey} - Keep it secret!\nThe public key was saved as ${publicKey} - That one can be public.\nKey id: ${r.keyId}\n\nIndexes signed with it are checked with:\nwasync --trusted-key=${r.publicKey} extract <index> <output>\n`);
}

export async function sign(files: string[], opts: SignOptions) {
  if (!opts.key) throw usageError('sign: --key=SECRET (a minisign secret key file) is required');
  let version: number | undefined;
  if (opts.version !== undefined) {
    version = /^\d+$/.test(opts.version) ? Number(opts.version) : NaN;
    if (!Number.isSafeInteger(version)) throw usageError(`--version=${opts.version}: expected a whole number`);
  }
  const input = new PasswordInput();
  let password: string | null = null;
  const ask = async () => (password ??= await input.read('Password: '));
  for (const file of files) {
    const r = await signOp({ key: opts.key, input: file, version, password: ask });
    process.stdout.write(`${r.signature}: signed by key ${r.keyId}, version ${r.version}\n`);
  }
}

/** Lines of a password: typed at the terminal without echo, or read from a pipe. */
class PasswordInput {
  private lines: string[] | null = null;

  async read(prompt: string): Promise<string> {
    if (process.stdin.isTTY) return readHidden(prompt);
    if (!this.lines) {
      let text = '';
      for await (const piece of process.stdin) text += (piece as Buffer).toString('utf8');
      this.lines = text.split(/\r?\n/);
    }
    if (!this.lines.length || (this.lines.length === 1 && this.lines[0] === '')) throw usageError('a password is needed, and standard input has no more lines');
    return this.lines.shift()!;
  }
}

function readHidden(prompt: string): Promise<string> {
  process.stderr.write(prompt);
  const stdin = process.stdin;
  stdin.setRawMode(true);
  stdin.resume();
  return new Promise((resolve, reject) => {
    let s = '';
    const done = (e?: Error) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (e) reject(e);
      else resolve(s);
    };
    const onData = (b: Buffer) => {
      for (const ch of b.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(usageError('interrupted'));
        if (ch === '\u007f' || ch === '\b') s = s.slice(0, -1);
        else s += ch;
      }
    };
    stdin.on('data', onData);
  });
}
