// wasync verify INDEX, wasync gc INDEX… and wasync pack STORE [INDEX…]: what they
// found or did, as the summary and the lines casync prints; verify exits 1 when a
// chunk is missing or corrupt, also when --repair removed the corrupt ones (the
// index still lacks them; desync's `verify -r` exits 0 there).

import { WasyncError } from '../errors.ts';
import { formatBytes } from '../format/units.ts';
import { gc as gcOp } from '../platform/node/operations/gc.ts';
import { verify as verifyOp } from '../platform/node/operations/verify.ts';
import { pack as packOp } from '../platform/node/operations/pack.ts';
import { stripFileUrl } from '../stores/locator.ts';
import { network, oneStore, storeChoice, trust, type GlobalOptions } from './options.ts';
import { progressReporter } from './progress.ts';
import { serviceNotifier } from './service.ts';

const out = (line: string) => process.stdout.write(`${line}\n`);

export async function verify(index: string, opts: GlobalOptions) {
  const progress = serviceNotifier().progress(progressReporter(opts.progress, 'verify'), 'verify');
  let r;
  try {
    r = await verifyOp({
      index,
      ...storeChoice(opts),
      ...network(opts),
      ...trust(opts, index),
      repair: opts.repair,
      onRemove: (c) => process.stderr.write(`chunk ${c.id} is corrupt: removed from store ${c.store}\n`),
      onWarning: (m) => process.stderr.write(`wasync: ${m}\n`),
      onProgress: progress.onProgress,
    });
  } finally {
    progress.stop(true);
  }
  if (r.signer) out(`Signed by key ${r.signer.keyId}${r.signer.version === null ? '' : `, version ${r.signer.version}`}.`);
  out(`Chunks: ${r.chunks} (${formatBytes(r.bytes)}), checked in ${r.stores}`);
  if (r.missing.length) {
    out(`Missing chunks (${r.missing.length}):`);
    for (const id of r.missing) out(`  ${id}`);
  }
  if (r.corrupt.length) {
    out(`Corrupt chunks (${r.corrupt.length}):`);
    for (const c of r.corrupt) out(`  ${c.id}: ${c.why}`);
  }
  if (!r.ok) {
    const gone = r.absent.length ? ` (${r.absent.length === 1 ? `store ${r.absent[0]} does not exist` : `stores ${r.absent.join(', ')} do not exist`})` : '';
    const removed = opts.repair ? `; ${new Set(r.removed.map((c) => c.id)).size} corrupt removed, the next verify reports them missing` : '';
    throw new WasyncError('ECHUNKCORRUPT', `${stripFileUrl(index)}: ${r.missing.length} missing and ${r.corrupt.length} corrupt of ${r.chunks} chunks${gone}${removed}`);
  }
  out('All chunks present and intact.');
}

export async function gc(indexes: string[], opts: GlobalOptions) {
  const r = await gcOp({
    indexes,
    ...oneStore(opts),
    dryRun: opts.dryRun,
    ...network(opts),
    onRemove: (id) => {
      if (opts.verbose) out(`${opts.dryRun ? 'Would remove' : 'Removing'} chunk ${id}.cacnk.`);
    },
    onWarning: (m) => process.stderr.write(`wasync: ${m}\n`),
    onStart: (s) => {
      if (opts.verbose) out(`Chunk store usage: ${s.references} references, ${s.used} chunks`);
    },
  });
  if (opts.dryRun) out(`Would remove ${r.removed} chunks, ${r.chunks - r.removed} chunks remaining.`);
  else if (opts.verbose) out(`Removed ${r.removed} chunks, ${r.directories} directories, ${r.chunks - r.removed} chunks remaining.`);
  if (r.packEntries || r.packs) out(`${opts.dryRun ? 'Would drop' : 'Dropped'} ${r.packEntries} chunks from the pack index and ${opts.dryRun ? 'remove' : 'removed'} ${r.packs} packs.`);
}

export async function pack(store: string | undefined, indexes: string[], opts: GlobalOptions) {
  const r = await packOp({ store: store ?? oneStore(opts).store as string | undefined, indexes, ...network(opts) });
  out(`Packed ${r.chunks} chunks (${formatBytes(r.bytes)}) into ${r.packs.length} new packs; the pack index names ${r.total} chunks.`);
}
