// Files that ship beside the code (package.json, dist/web/) are found from the
// package's root, the first directory upwards holding a package.json: the CLI
// runs from dist/src/cli (tsc's output, the library), from dist/cli (the bundle
// bin/wasync.js loads) or from src/cli (tests, under tsx).  The single
// executable has no package directory: its build (scripts/build-exe.mjs)
// defines WASYNC_VERSION, and packageFile() is null there.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

declare const WASYNC_VERSION: string | undefined;

let root: { url: URL; version: string } | null | undefined;

function find() {
  if (root !== undefined) return root;
  if (typeof WASYNC_VERSION === 'string') return (root = null);
  for (let url = new URL('.', import.meta.url); url.pathname !== '/'; url = new URL('..', url)) {
    try {
      const { version } = JSON.parse(readFileSync(new URL('package.json', url), 'utf8'));
      return (root = { url, version: String(version) });
    } catch {}
  }
  return (root = null);
}

export const packageVersion = () => (typeof WASYNC_VERSION === 'string' ? WASYNC_VERSION : (find()?.version ?? 'unknown'));

/** The file system path of `path` relative to the package root; null outside a package. */
export const packageFile = (path: string) => {
  const r = find();
  return r && fileURLToPath(new URL(path, r.url));
};
