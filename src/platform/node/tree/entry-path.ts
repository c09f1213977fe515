// An entry's path as the tree encoder walks it (encode-tree.ts): a chain of
// names, whole only while short, so that a tree 10,000 directories deep does
// not hold 10,000 paths of up to 20,000 bytes; past LONG_PATH bytes an entry is
// reached through its open parent directory as /proc/self/fd/N/NAME.  And the
// lstat, open and read that reach an entry so, their errors naming its path.

import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { ioError } from '../../../errors.ts';
import { lstatTree, type TreeStat } from '../io/fd-io.ts';

export const O_DIR = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW | constants.O_NOCTTY;
export const O_FILE = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NOCTTY | constants.O_NONBLOCK;
/** Paths this long or longer are reached through their directory (PATH_MAX is 4096). */
export const LONG_PATH = 2048;
const SLASH = Buffer.from('/');

/** An entry's path: its parent's and its name; its bytes kept only while short. */
export class EntryPath {
  readonly length: number;
  /** levels below the root */
  readonly depth: number;
  private readonly flat: Buffer | null;

  constructor(
    private readonly parent: EntryPath | null,
    readonly name: Buffer,
  ) {
    this.length = parent ? parent.length + 1 + name.length : name.length;
    this.depth = parent ? parent.depth + 1 : 0;
    if (!parent) this.flat = name;
    else if (this.length < LONG_PATH) {
      const b = Buffer.allocUnsafe(this.length);
      b.set(parent.flat!, 0);
      b[parent.length] = 0x2f;
      b.set(name, parent.length + 1);
      this.flat = b;
    } else this.flat = null;
  }

  bytes(): Buffer {
    if (this.flat) return this.flat;
    const names: Buffer[] = [];
    let p: EntryPath | null = this;
    for (; p && !p.flat; p = p.parent) names.push(p.name, SLASH);
    if (p) names.push(p.flat!);
    return Buffer.concat(names.reverse());
  }

  toString(): string {
    return this.bytes().toString();
  }

  /** How a system call reaches it: by its path, or (long) as `name` in the open directory `dirfd`, or as `dirfd` itself. */
  reach(dirfd: number, name: Buffer | null): Buffer {
    if (this.flat && this.length < LONG_PATH) return this.flat;
    const dir = Buffer.from(`/proc/self/fd/${dirfd}`);
    return name ? Buffer.concat([dir, SLASH, name]) : dir;
  }
}

/** `name` in `dirfd`, or `at` (see reach()); `path`: what messages call it. */
export function stat(dirfd: number, name: Buffer, at: Buffer, path: EntryPath): TreeStat | undefined {
  try {
    return lstatTree(dirfd, name, at);
  } catch (e) {
    throw ioError('EINPUT', path.toString(), e);
  }
}

export function open(at: Buffer, path: EntryPath, flags: number): number {
  try {
    return openSync(at, flags);
  } catch (e) {
    throw ioError('EINPUT', path.toString(), e);
  }
}

export function readWhole(at: Buffer, path: EntryPath): Buffer {
  const fd = open(at, path, O_FILE);
  try {
    const size = fstatSync(fd).size;
    const b = Buffer.alloc(size);
    let done = 0;
    while (done < size) {
      const r = readSync(fd, b, done, size - done, done);
      if (r === 0) break;
      done += r;
    }
    return b.subarray(0, done);
  } finally {
    closeSync(fd);
  }
}
