// Test-side trees for the catar encoder: a tree is a node plus its content or
// children; encodeTree() drives CatarEncoder over it the way the real walker
// does, and scanTree() builds one from a directory on disk with lstat, readdir
// and readlink (names from /etc/passwd and /etc/group), taking extended
// attributes, ACLs, chattr flags and capabilities from what the test set itself.

import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { CatarEncoder } from '../src/format/catar-encoder.ts';
import { type CatarNode, S_IFBLK, S_IFCHR, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from '../src/format/catar-node.ts';

export interface Tree {
  node: CatarNode;
  /** regular files */
  content?: Uint8Array;
  /** directories: children in strcmp order */
  children?: [string | Uint8Array, Tree][];
}

export const bytes = (s: string | Uint8Array) => (typeof s === 'string' ? new TextEncoder().encode(s) : s);

/** A node with no metadata beyond mode, owner and mtime. */
export function plain(mode: number, mtimeNs = 0n, more: Partial<CatarNode> = {}): CatarNode {
  return {
    mode, uid: 0, gid: 0, mtimeNs, flags: 0n, userName: null, groupName: null,
    xattrs: [], acl: null, selinux: null, fcaps: null, projid: 0, ...more,
  };
}

export const file = (mode: number, content: string | Uint8Array, mtimeNs = 0n, more: Partial<CatarNode> = {}): Tree => {
  const c = bytes(content);
  return { node: plain(S_IFREG | mode, mtimeNs, { size: c.length, ...more }), content: c };
};

export const dir = (mode: number, children: [string, Tree][], mtimeNs = 0n, more: Partial<CatarNode> = {}): Tree => ({
  node: plain(S_IFDIR | mode, mtimeNs, more),
  children,
});

/** The archive CatarEncoder writes for `tree` under `flags`. */
export function encodeTree(flags: bigint, tree: Tree, enc = new CatarEncoder(flags)): Buffer {
  const parts: Uint8Array[] = [];
  const walk = (t: Tree) => {
    parts.push(enc.node(t.node));
    if (t.content) {
      parts.push(t.content);
      enc.payloadDone(t.content.length);
    }
    if (t.children) {
      for (const [name, child] of t.children) {
        parts.push(enc.filename(bytes(name)));
        walk(child);
      }
      parts.push(enc.endDirectory());
    }
  };
  walk(tree);
  const out = Buffer.concat(parts);
  if (out.length !== enc.offset) throw new Error(`offset ${enc.offset} != ${out.length} bytes written`);
  return out;
}

function idNames(file: string): Map<number, string> {
  const m = new Map<number, string>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const f = line.split(':');
    if (f.length >= 3 && !m.has(Number(f[2]))) m.set(Number(f[2]), f[0]);
  }
  return m;
}

const users = idNames('/etc/passwd');
const groups = idNames('/etc/group');

/** Metadata the test set on a path (relative to the tree root, '' for the root). */
export type Extras = Record<string, Partial<CatarNode>>;

/** The tree of directory `root` as a walker would see it under `flags`. */
export function scanTree(root: string, flags: bigint, extras: Extras = {}, rel = ''): Tree {
  const path = rel ? join(root, rel) : root;
  const st = lstatSync(path, { bigint: true });
  const mode = Number(st.mode);
  const uid = Number(st.uid);
  const gid = Number(st.gid);
  const rdev = st.rdev;
  const node = plain(mode, st.mtimeNs, {
    uid,
    gid,
    userName: users.get(uid) ?? null,
    groupName: groups.get(gid) ?? null,
    ...extras[rel],
  });
  const type = mode & S_IFMT;
  if (type === S_IFREG) {
    const content = readFileSync(path);
    return { node: { ...node, size: content.length }, content };
  }
  if (type === S_IFLNK) return { node: { ...node, target: readlinkSync(path, { encoding: 'buffer' }) } };
  if (type === S_IFBLK || type === S_IFCHR) {
    const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
    const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
    return { node: { ...node, rdev: { major, minor } } };
  }
  if (type !== S_IFDIR) return { node };
  const names = readdirSync(path, { encoding: 'buffer' }).sort(Buffer.compare);
  const children: [Uint8Array, Tree][] = [];
  for (const name of names) {
    const childRel = rel ? `${rel}/${name.toString()}` : name.toString();
    if (!CatarEncoder.archives(flags, Number(lstatSync(join(root, childRel)).mode))) continue;
    children.push([name, scanTree(root, flags, extras, childRel)]);
  }
  return { node, children };
}
