// The directory `wasync serve` is confined to, held open as a descriptor: every
// file read and every upload written is reached from it with openat2(RESOLVE_BENEATH)
// (linux/beneath.ts), so a symlink inside may lead elsewhere inside but never out,
// and no check on a path string can be raced by swapping a component for a link.
//
// An upload is placed in two steps.  place() resolves the part of its path that
// exists, refusing anything that leaves the directory, and creates nothing; the
// body goes to a temporary file (".#….tmp", hidden from GET as a dot file) in the
// deepest directory that exists, so a refused upload leaves nothing behind.  Only
// commit() creates the missing directories, each with mkdirat in a descriptor
// already known to be inside, and renames the file into place.
//
// Without the Linux adapter (not Linux, no koffi) reading falls back to realpath
// and a prefix check, and uploads are unsupported.

import { closeSync, fstatSync, openSync, realpathSync, constants as fsc, type Stats } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { sep } from 'node:path';
import { linuxFs, linuxFsUnavailable, O_CREAT, O_DIRECTORY, O_EXCL, O_RDONLY, O_WRONLY, RENAME_NOREPLACE, type LinuxFs } from '../linux/index.ts';
import { unsupported } from '../../../errors.ts';

/** An upload refused for its path or its content: the status and the one line sent back. */
export class PutRefused extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Where an upload goes: the deepest existing directory and what is still to be made. */
export interface Placement {
  /** descriptor of the deepest directory of the path that exists (owned: release() closes it) */
  fd: number;
  /** directories still to be created under it */
  missing: string[];
  name: string;
  /** the upload's path, for messages */
  path: string;
}

const O_NONBLOCK = 0o4000;

export class ServedDir {
  readonly #linux: LinuxFs | null;
  readonly #fd: number;

  constructor(readonly root: string) {
    this.root = realpathSync(root);
    this.#linux = linuxFs();
    this.#fd = this.#linux ? openSync(this.root, fsc.O_RDONLY | fsc.O_DIRECTORY) : -1;
  }

  /** Uploads need descriptors; says why when they cannot be had. */
  static checkWritable(): void {
    if (!linuxFs()) throw unsupported(`serve --writable needs the Linux adapter: ${linuxFsUnavailable()}`);
  }

  /**
   * A regular file at `rel`, opened for reading, with its stat; null if there is
   * none inside (missing, not a regular file, or reached only by leaving the directory).
   */
  openFile(rel: string): { fd: number; st: Stats } | null {
    let fd: number;
    try {
      // O_NONBLOCK: a FIFO would block the open; it is refused below anyway.
      fd = this.#linux ? this.#linux.openBeneath(this.#fd, rel, O_RDONLY | O_NONBLOCK) : this.#openByPath(rel);
    } catch {
      return null;
    }
    const st = fstatSync(fd);
    if (st.isFile()) return { fd, st };
    closeSync(fd);
    return null;
  }

  #openByPath(rel: string): number {
    const real = realpathSync(`${this.root}/${rel}`);
    if (real !== this.root && !real.startsWith(this.root + sep)) throw new Error('outside');
    return openSync(real, fsc.O_RDONLY | fsc.O_NONBLOCK);
  }

  /** Resolves an upload's directories as far as they exist; creates nothing. */
  place(rel: string): Placement {
    const linux = this.#need();
    const parts = rel.split('/');
    const name = parts.pop()!;
    let fd = linux.openBeneath(this.#fd, '.', O_RDONLY | O_DIRECTORY);
    let i = 0;
    try {
      for (; i < parts.length; i++) {
        let next: number;
        try {
          next = linux.openBeneath(this.#fd, parts.slice(0, i + 1).join('/'), O_RDONLY | O_DIRECTORY);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT' && linux.statAt(fd, parts[i]) === null) break;
          throw refusal(e, rel, parts.slice(0, i + 1).join('/'));
        }
        linux.close(fd);
        fd = next;
      }
    } catch (e) {
      linux.close(fd);
      throw e;
    }
    return { fd, missing: parts.slice(i), name, path: rel };
  }

  /** Whether the upload's file exists already (never through a symlink). */
  exists(p: Placement): boolean {
    return p.missing.length === 0 && this.#need().statAt(p.fd, p.name) !== null;
  }

  /** A new temporary file in the placement's directory, open for writing. */
  createTemp(p: Placement): { fd: number; name: string } {
    const name = `.#${randomBytes(8).toString('hex')}.tmp`;
    return { fd: this.#need().openFileAt(p.fd, name, O_WRONLY | O_CREAT | O_EXCL, 0o644), name };
  }

  /**
   * Makes the missing directories and renames the temporary file into place:
   * replacing what is there, or, with `keep`, leaving it (false).
   */
  commit(p: Placement, temp: string, keep: boolean): boolean {
    const linux = this.#need();
    let dir = p.fd;
    try {
      for (const d of p.missing) {
        try {
          linux.mkdirAt(dir, d, 0o755);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        }
        let next: number;
        try {
          next = linux.openDirAt(dir, d);
        } catch (e) {
          throw refusal(e, p.path, d);
        }
        if (dir !== p.fd) linux.close(dir);
        dir = next;
      }
      if (!keep) {
        linux.renameAt(p.fd, temp, dir, p.name);
        return true;
      }
      try {
        linux.renameAt(p.fd, temp, dir, p.name, RENAME_NOREPLACE);
        return true;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') return false;
        if (code !== 'EINVAL') throw e;
      }
      // A file system without RENAME_NOREPLACE: a hard link is just as exclusive.
      try {
        linux.linkAt(p.fd, temp, dir, p.name);
        return true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
        throw e;
      }
    } finally {
      if (dir !== p.fd) linux.close(dir);
    }
  }

  /** Removes a temporary file that was not committed (or was linked); never throws. */
  discard(p: Placement, temp: string): void {
    try {
      this.#need().unlinkAt(p.fd, temp, false);
    } catch {}
  }

  release(p: Placement): void {
    this.#need().close(p.fd);
  }

  close(): void {
    if (this.#fd >= 0) closeSync(this.#fd);
  }

  #need(): LinuxFs {
    if (!this.#linux) throw unsupported(`serve --writable needs the Linux adapter: ${linuxFsUnavailable()}`);
    return this.#linux;
  }
}

/** Why a directory of an upload's path cannot be used. */
function refusal(e: unknown, path: string, where: string): Error {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'EXDEV' || code === 'ELOOP') return new PutRefused(403, `${path}: ${where} leads outside the served directory`);
  if (code === 'ENOTDIR' || code === 'ENOENT') return new PutRefused(409, `${path}: ${where} is not a directory`);
  return e as Error;
}
