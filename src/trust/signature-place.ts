// Where a signature is, beside what it signs: `.minisig` appended to the path
// (for a URL, before its query or ';' arguments, so the server finds it beside
// the index), and the base name the trusted comment must state (a URL's last
// path segment, unescaped).

import { SIG_SUFFIX } from './minisign.ts';

export function signatureUrl(url: string): string {
  const cut = url.search(/[?;#]/);
  return cut < 0 ? url + SIG_SUFFIX : url.slice(0, cut) + SIG_SUFFIX + url.slice(cut);
}

export function urlBaseName(url: string): string {
  const path = url.replace(/[?;#].*$/, '');
  const last = path.slice(path.lastIndexOf('/') + 1);
  try {
    return decodeURIComponent(last);
  } catch {
    return last;
  }
}
