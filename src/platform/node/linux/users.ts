// User and group names through NSS (getpwuid_r, getgrgid_r, getpwnam_r,
// getgrnam_r), so LDAP, systemd-userdb and the like answer as they do for ls(1).
// A walker asks for the same few owners over and over, and an NSS lookup can
// parse /etc/passwd or go over the network each time, so answers (including "no
// such user") are cached for the life of the process.
//
// The reentrant calls write the strings into a caller buffer and return pointers
// into it; the name is found by subtracting the buffer's address.  glibc returns
// ERANGE when the buffer is too small, and the buffer doubles until it fits.

import { argError, type Libc } from './libc.ts';
import { CStrings } from './c-strings.ts';

const ERANGE = 34;
/** Past this, a group (with all its members) is not worth more memory. */
const BUF_MAX = 16 << 20;

/** NSS lookups, cached; null when there is no such user or group. */
export interface UserOps {
  userName(uid: number): string | null;
  groupName(gid: number): string | null;
  userId(name: string): number | null;
  groupId(name: string): number | null;
}

export function userOps(libc: Libc): UserOps {
  const c = new CStrings(1);
  // struct passwd is 48 bytes and struct group 32; the name pointer comes first,
  // then (after one more pointer) the 32-bit id.
  const record = Buffer.allocUnsafeSlow(4096);
  const result = Buffer.allocUnsafeSlow(4096);
  let strings = Buffer.allocUnsafeSlow(16384);
  const ID = 16;

  const names = { user: new Map<number, string | null>(), group: new Map<number, string | null>() };
  const ids = { user: new Map<string, number | null>(), group: new Map<string, number | null>() };

  /** Runs one lookup; true when an entry was found (its record is in `record`). */
  function lookup(call: (buf: Buffer) => number, what: string): boolean {
    for (;;) {
      result.writeBigUInt64LE(0n, 0);
      const r = call(strings);
      if (r === ERANGE) {
        if (strings.length >= BUF_MAX) throw argError('ENAMETOOLONG', `${what}: entry larger than ${BUF_MAX} bytes`);
        strings = Buffer.allocUnsafeSlow(strings.length * 2);
        continue;
      }
      // Not found is r = 0 with a null result, or ENOENT/ESRCH/… depending on the
      // NSS module; casync treats every failure alike, as "no name".
      return r === 0 && result.readBigUInt64LE(0) !== 0n;
    }
  }

  /** The NUL-terminated string a returned pointer designates inside `strings`. */
  function stringAt(pointerOffset: number): string | null {
    const ptr = record.readBigUInt64LE(pointerOffset);
    const off = Number(ptr - libc.address(strings));
    if (!(off >= 0 && off < strings.length)) return null;
    const end = strings.indexOf(0, off);
    return strings.toString('utf8', off, end < 0 ? strings.length : end);
  }

  function byId(kind: 'user' | 'group', id: number): string | null {
    const cache = names[kind];
    const hit = cache.get(id);
    if (hit !== undefined) return hit;
    let name: string | null = null;
    // (uid_t)-1 is "no user" to the kernel and never a valid owner.
    if (Number.isInteger(id) && id >= 0 && id < 0xffffffff) {
      const found =
        kind === 'user'
          ? lookup((b) => libc.getpwuid_r(id, record, b, b.length, result), `getpwuid_r(${id})`)
          : lookup((b) => libc.getgrgid_r(id, record, b, b.length, result), `getgrgid_r(${id})`);
      if (found) name = stringAt(0);
    }
    cache.set(id, name);
    return name;
  }

  function byName(kind: 'user' | 'group', name: string): number | null {
    const cache = ids[kind];
    const hit = cache.get(name);
    if (hit !== undefined) return hit;
    let id: number | null = null;
    if (name !== '' && !name.includes('\0') && Buffer.byteLength(name) < 4096) {
      const n = c.path(0, name, kind === 'user' ? 'getpwnam_r' : 'getgrnam_r');
      const found =
        kind === 'user'
          ? lookup((b) => libc.getpwnam_r(n, record, b, b.length, result), `getpwnam_r(${name})`)
          : lookup((b) => libc.getgrnam_r(n, record, b, b.length, result), `getgrnam_r(${name})`);
      if (found) id = record.readUInt32LE(ID);
    }
    cache.set(name, id);
    return id;
  }

  return {
    userName: (uid) => byId('user', uid),
    groupName: (gid) => byId('group', gid),
    userId: (name) => byName('user', name),
    groupId: (name) => byName('group', name),
  };
}
