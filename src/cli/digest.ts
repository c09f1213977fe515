// wasync digest [ARCHIVE|BLOB|ARCHIVE_INDEX|BLOB_INDEX|DIRECTORY]

import { statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { unsupported } from '../errors.ts';
import { toHex } from '../chunk-id.ts';
import { digestOfFlags } from '../format/feature-flags.ts';
import { openIndexStream } from '../engine/index-stream.ts';
import { extractBlob } from '../engine/extract-blob.ts';
import { openBlobInput } from '../platform/node/blob-file.ts';
import { Executors } from '../platform/node/executors.ts';
import { openIndexInput } from '../platform/node/index-input.ts';
import { hasSuffix, stripFileUrl } from './locator.ts';
import { parseDigest, parseWhat, type GlobalOptions } from './options.ts';
import { readStores } from './stores.ts';

export async function digest(inputArg: string | undefined, opts: GlobalOptions) {
  const input = stripFileUrl(inputArg ?? '-');
  let what = parseWhat(opts.what);
  if (!what) {
    if (hasSuffix(input, '.caibx')) what = 'blob-index';
    else if (hasSuffix(input, '.caidx')) what = 'archive-index';
    else if (hasSuffix(input, '.catar')) what = 'archive';
    else what = input !== '-' && statSync(input, { throwIfNoEntry: false })?.isDirectory() ? 'directory' : 'blob';
  }
  let d: Uint8Array;
  if (what === 'blob') d = await digestBlob(input, opts);
  else if (what === 'blob-index') d = await digestBlobIndex(input, opts);
  else throw unsupported(`digests of ${what}s are not supported by this version of wasync`);
  process.stdout.write(`${toHex(d)}\n`);
}

async function digestBlob(path: string, opts: GlobalOptions): Promise<Uint8Array> {
  const input = openBlobInput(path);
  const executors = new Executors(0);
  try {
    return await executors.digest.run<Uint8Array>({
      kind: 'digest',
      input,
      start: 0,
      end: input.size,
      digest: parseDigest(opts.digest),
      final: true,
    });
  } finally {
    input.close();
  }
}

/**
 * The digest of the blob an index describes.  casync 2 always uses SHA-512/256
 * here, even for a SHA-256 index; wasync uses the index's own algorithm (or
 * --digest), so the result equals what `make` printed.
 */
async function digestBlobIndex(path: string, opts: GlobalOptions): Promise<Uint8Array> {
  const indexLoc = path === '-' ? null : path;
  const index = openIndexInput(indexLoc);
  const { header, entries } = await openIndexStream(index.bytes, index.name);
  const hash = createHash(opts.digest ? parseDigest(opts.digest) : digestOfFlags(header.flags));
  const executors = new Executors(index.blobSize ?? Infinity);
  try {
    await extractBlob({
      entries,
      digest: digestOfFlags(header.flags),
      stores: readStores(opts, indexLoc),
      seeds: null,
      seedFiles: [],
      out: null,
      holes: false,
      compareOutput: false,
      zeroIds: new Map(),
      executor: executors.chunks,
      onData: (b) => {
        hash.update(b);
      },
    });
  } finally {
    await executors.close();
  }
  return hash.digest();
}
