// The trusted comment of a wasync signature: minisign's own fields
// ("timestamp:T\tfile:NAME\thashed", what `minisign -S` writes) with the
// file's size, SHA-256 and a version number between them, tab-separated
// key:value pairs as minisign's are.  A comment minisign wrote has no size,
// digest or version; checking uses what is there (signature-check.ts).

export interface CommentFields {
  timestamp: number;
  file: string;
  size: number;
  sha256: string;
  version: number;
}

export function wasyncComment(c: CommentFields): string {
  return `timestamp:${c.timestamp}\tfile:${c.file}\tsize:${c.size}\tsha256:${c.sha256}\tversion:${c.version}\thashed`;
}

/** The key:value fields of a trusted comment (a field without a colon is a flag, such as "hashed"). */
export function commentFields(comment: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const part of comment.split('\t')) {
    const colon = part.indexOf(':');
    if (colon > 0) m.set(part.slice(0, colon), part.slice(colon + 1));
    else if (part) m.set(part, '');
  }
  return m;
}

/** A name a trusted comment can carry: no tab, no control character (minisign refuses those). */
export const commentSafe = (name: string) => !/[\x00-\x1f\x7f]/.test(name);
