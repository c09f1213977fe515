// The verification page (index.html): where the index comes from (?index=URL,
// the form, or a dropped file), the run, and what automation reads back.
//
// A run fetches and parses the index, then verifies every distinct chunk in Web
// Workers on every core (platform/web/verify-pool.ts) while, for a .caidx, the
// page thread lists the archive's top directory through random access.  When
// the run ends, window.wasyncReport = {status, chunks, bytes, missing, invalid}
// (ids in lowercase hex; `error` too when the run could not be carried out).
// Downloading a file reads only the chunks its payload spans, each verified,
// and sets window.wasyncDownload = {path, bytes, chunks (spanned), fetched (of
// those, from the store rather than from memory)} when the file has been
// handed to the browser.  Tree and verification share one ChunkShare, so no
// chunk is fetched by both, and the tree reuses chunks the workers fetched.
//
// A run can be cancelled (the Cancel button, or Escape): the workers stop and
// the report says error 'cancelled'.  Asked for while one goes on, another run
// is refused with a word beside the buttons.  With an old index (?old=URL, or
// the form), the page also draws what updating from it costs (engine/update-cost.ts,
// the figures `wasync info NEW --seed=OLD` prints) and sets window.wasyncCost.
//
// Query parameters: index, old, store (default: default.castr beside the index),
// key (a minisign public key: the index's .minisig, fetched beside it or
// dropped with it, must be by it, and is checked before any chunk is fetched;
// the report then has signer = {keyId, version}), concurrency (chunk requests
// in flight, default 16), workers (default: cores), cache (MiB of verified
// chunks kept for browsing, default 64; 0 keeps none), report (a URL the
// report is POSTed to as well, see sendReport).

import { readIndex, indexReader, webStores, type LoadedIndex } from '../access.ts';
import { verifyWithWorkers } from '../verify-pool.ts';
import { ArchiveTree, fileBytes, type TreeEntry } from '../archive-tree.ts';
import { ChunkShare } from '../chunk-share.ts';
import type { VerifyReport } from '../../../engine/verify.ts';
import { HttpClient } from '../../../stores/http-client.ts';
import { defaultStoreFor } from '../../../stores/locator.ts';
import { networkError } from '../../../errors.ts';
import { formatBytes } from '../../../format/units.ts';
import { filterTree, resetView, showBusy, showCancelled, showCost, showError, showProgress, showReport, showRunning, showSigner, showStatus, showTree, type RowStatus } from './page-view.ts';
import { ChunkIdSet, UpdateCost, ZERO_ID_LIMIT, type UpdateCostFigures } from '../../../engine/update-cost.ts';
import { IndexParser, type IndexEntry } from '../../../format/index-file.ts';
import { digestBytes } from '../access.ts';
import type { VerifyProgress } from '../verify-pool.ts';
import { parsePublicKey } from '../../../trust/minisign.ts';
import { checkSignature, type Signer } from '../../../trust/signature-check.ts';
import { signatureUrl, urlBaseName } from '../../../trust/signature-place.ts';

interface PageReport extends VerifyReport {
  error?: string;
  /** with a key: who signed the index */
  signer?: { keyId: string; version: number | null };
}

declare global {
  interface Window {
    wasyncReport?: PageReport;
    wasyncDownload?: { path: string; bytes: number; chunks: number; fetched: number };
    wasyncCost?: UpdateCostFigures;
  }
}

type Source = { name: string; url: string } | { name: string; file: File; signature?: File };

const params = new URLSearchParams(location.search);
const numberParam = (name: string) => {
  const v = params.get(name);
  return v && Number(v) > 0 ? Math.floor(Number(v)) : undefined;
};
const WORKER_URL = new URL('./verify-worker.js', import.meta.url);
const DOWNLOAD_WINDOW = 8;
/** entries whose records are fetched at once when listing a directory */
const LISTING_CONCURRENCY = 16;
/** chunks the tree's reader keeps besides the share: the records of neighbouring entries often share one */
const TREE_CHUNKS = 64;
const cacheMiB = params.get('cache');
const CACHE_BYTES = cacheMiB !== null && Number(cacheMiB) >= 0 ? Math.floor(Number(cacheMiB) * (1 << 20)) : undefined;
/** cells of the update-cost strip */
const STRIP_CELLS = 200;
const input = (id: string) => document.getElementById(id) as HTMLInputElement;
/** the run going on: its name, how to end it, how far it got */
let current: { name: string; abort: AbortController; progress: VerifyProgress | null } | null = null;
const CANCELLED = 'cancelled';

async function fetchIndex(url: string): Promise<Uint8Array> {
  const bytes = await new HttpClient().get(url);
  if (!bytes) throw networkError(`${url}: not found (404)`);
  return bytes;
}

/** The store URL typed (relative to the page), else default.castr beside a remote index. */
function storeFor(src: Source): string {
  const typed = input('store').value.trim();
  if (typed) return new URL(typed, location.href).href;
  if ('url' in src) return defaultStoreFor(src.url);
  throw new Error(`${src.name} is a local file: give the URL of its chunk store`);
}

async function run(src: Source): Promise<void> {
  if (current) return showBusy(`${current.name} is being verified: cancel it to start another.`);
  const run = (current = { name: src.name, abort: new AbortController(), progress: null as VerifyProgress | null });
  const signal = run.abort.signal;
  resetView();
  showRunning(src.name);
  window.wasyncReport = undefined;
  window.wasyncDownload = undefined;
  window.wasyncCost = undefined;
  try {
    const store = storeFor(src);
    showStatus(`Reading ${src.name}…`);
    const bytes = 'url' in src ? await fetchIndex(src.url) : new Uint8Array(await src.file.arrayBuffer());
    signal.throwIfAborted();
    const signer = await checkSigned(src, bytes);
    const index = readIndex(bytes, src.name);
    const old = input('old').value.trim();
    if (old) await showUpdateCost(index, new URL(old, location.href).href);
    signal.throwIfAborted();
    const source = webStores([store], index.digest);
    const share = index.archive ? new ChunkShare({ source, cacheBytes: CACHE_BYTES }) : undefined;
    if (share) {
      const reader = indexReader(index, (_i, id, size) => share.get(id, size), { readAhead: 0, cacheChunks: TREE_CHUNKS });
      const tree = new ArchiveTree(reader, index.name, { concurrency: LISTING_CONCURRENCY });
      showTree(tree, (e, status) => download(index, share, e, status)).catch((e: Error) => showError(e.message));
    }
    const started = performance.now();
    const { report, problems } = await verifyWithWorkers({
      workerUrl: WORKER_URL,
      stores: [store],
      digest: index.digest,
      chunks: index.chunks,
      workers: numberParam('workers'),
      concurrency: numberParam('concurrency'),
      onProgress: (p) => {
        run.progress = p;
        showProgress(p, started);
      },
      share,
      signal,
    });
    const seconds = (performance.now() - started) / 1000;
    showReport(report, problems, store, seconds);
    window.wasyncReport = signer ? { ...report, signer: { keyId: signer.keyId, version: signer.version } } : report;
    sendReport(window.wasyncReport, seconds);
  } catch (e) {
    if (signal.aborted) {
      showCancelled(run.progress);
      window.wasyncReport = { status: 'failed', chunks: run.progress?.chunks ?? 0, bytes: run.progress?.bytes ?? 0, missing: [], invalid: [], error: CANCELLED };
      sendReport(window.wasyncReport, null);
      return;
    }
    let message = (e as Error).message;
    // What a browser says for a refused connection and for a missing CORS header alike.
    if (/Failed to fetch|NetworkError|Load failed/.test(message)) message += ' (the server is unreachable, or does not allow this page\'s origin: Access-Control-Allow-Origin)';
    showError(message);
    window.wasyncReport = { status: 'failed', chunks: 0, bytes: 0, missing: [], invalid: [], error: message };
    sendReport(window.wasyncReport, null);
  } finally {
    current = null;
    showRunning(null);
  }
}

/** A whole index's entries, a slice of its bytes at a time (never one array of a million entries): the old index's. */
function eachBatch(bytes: Uint8Array, name: string, use: (batch: IndexEntry[]) => void): void {
  const parser = new IndexParser(name);
  for (let o = 0; o < bytes.length; o += 1 << 20) use(parser.push(bytes.subarray(o, o + (1 << 20))));
  parser.end();
}

/** The strip and figures of an update from the `old` index to this one. */
async function showUpdateCost(index: LoadedIndex, old: string): Promise<void> {
  showStatus(`Reading ${old}…`);
  const have = new ChunkIdSet();
  eachBatch(await fetchIndex(old), old, (b) => have.add(b));
  // As extraction: a blob's zero chunks are written, not fetched; a tree's are fetched.
  const h = index.header;
  const zeroId = !index.archive && h.max <= ZERO_ID_LIMIT ? digestBytes(index.digest, new Uint8Array(h.max)) : null;
  const cost = new UpdateCost({ zeroId, have: (id) => have.has(id), strip: { size: index.size, cells: STRIP_CELLS } });
  // The new index's entries from its table, parsed once already.
  const t = index.table;
  for (let from = 0; from < t.count; from += 1 << 16) {
    const to = Math.min(t.count, from + (1 << 16));
    cost.add(Array.from({ length: to - from }, (_, k) => ({ offset: t.start(from + k), size: t.end(from + k) - t.start(from + k), id: t.id(from + k) })));
  }
  const figures = cost.result();
  showCost(figures, cost.strip(), old);
  window.wasyncCost = figures;
}

/**
 * The report POSTed to ?report=URL, for a harness that drives a browser with
 * nothing attached (bench/web.ts): {report, seconds from the index read to the
 * last verdict, href}.  A plain-text POST, which needs no CORS preflight.
 */
function sendReport(report: PageReport, seconds: number | null): void {
  const to = params.get('report');
  if (to) void fetch(new URL(to, location.href), { method: 'POST', mode: 'no-cors', body: JSON.stringify({ report, seconds, href: location.href }) }).catch(() => {});
}

/** With a public key given: the index's signature checked before anything else is fetched (null without a key). */
async function checkSigned(src: Source, bytes: Uint8Array): Promise<Signer | null> {
  const text = input('key').value.trim();
  if (!text) return null;
  const key = parsePublicKey(text, 'the public key');
  let signature: string | null;
  let signatureName: string;
  if ('url' in src) {
    signatureName = signatureUrl(src.url);
    const b = await new HttpClient().get(signatureName);
    signature = b && new TextDecoder().decode(b);
  } else {
    signatureName = `${src.name}.minisig`;
    signature = src.signature ? await src.signature.text() : null;
  }
  const baseName = 'url' in src ? urlBaseName(src.url) : src.name;
  const signer = await checkSignature({ bytes, name: src.name, baseName, signature, signatureName }, { keys: [key] });
  showSigner(`Signed by ${signer.keyId}${signer.version === null ? '' : `, version ${signer.version}`}.`);
  return signer;
}

/** Reads only the chunks the file spans (a reader of its own, no read-ahead), then saves it. */
async function download(index: LoadedIndex, share: ChunkShare, e: TreeEntry, status: RowStatus): Promise<void> {
  const count = { fetched: 0 };
  const reader = indexReader(index, (_i, id, size) => share.get(id, size, count), { readAhead: 0, cacheChunks: DOWNLOAD_WINDOW + 1 });
  const parts: Uint8Array[] = [];
  let got = 0;
  try {
    for await (const piece of fileBytes(reader, e, DOWNLOAD_WINDOW)) {
      parts.push(piece);
      got += piece.length;
      status(`${formatBytes(got)} of ${formatBytes(e.size ?? 0)}…`);
    }
  } catch (err) {
    status((err as Error).message, true);
    return;
  }
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob(parts as BlobPart[], { type: 'application/octet-stream' }));
  a.download = e.name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
  status(`saved: ${formatBytes(got)} from ${reader.fetched} chunks (${count.fetched} fetched now), each checked against its id`);
  window.wasyncDownload = { path: e.path, bytes: got, chunks: reader.fetched, fetched: count.fetched };
}

function setUp(): void {
  const workers = numberParam('workers') ?? (navigator.hardwareConcurrency || 2);
  (document.getElementById('cores') as HTMLElement).textContent = `in ${workers} Web Worker${workers === 1 ? '' : 's'}`;
  input('index').value = params.get('index') ?? '';
  input('store').value = params.get('store') ?? '';
  input('key').value = params.get('key') ?? '';
  input('old').value = params.get('old') ?? '';
  const cancel = () => current?.abort.abort(new Error(CANCELLED));
  document.getElementById('cancel')!.addEventListener('click', cancel);
  document.addEventListener('keydown', (ev) => {
    // Escape in a text field is the field's (a search box clears itself).
    if (ev.key === 'Escape' && !(ev.target instanceof HTMLInputElement)) cancel();
  });
  input('filter').addEventListener('input', () => filterTree(input('filter').value));
  document.getElementById('form')!.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = input('index').value.trim();
    if (!text) return showError('give the URL of an index (.caibx or .caidx), or drop one below');
    const url = new URL(text, location.href).href;
    void run({ name: url, url });
  });
  // An index, and its .minisig when dropped or chosen with it.
  const local = (files: FileList | null | undefined) => {
    const all = files ? Array.from(files) : [];
    const file = all.find((f) => !f.name.endsWith('.minisig'));
    if (file) void run({ name: file.name, file, signature: all.find((f) => f.name === `${file.name}.minisig`) });
  };
  input('file').addEventListener('change', () => local(input('file').files));
  const drop = document.getElementById('drop')!;
  drop.addEventListener('dragover', (ev) => {
    ev.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (ev) => {
    ev.preventDefault();
    drop.classList.remove('over');
    local(ev.dataTransfer?.files);
  });
  const index = params.get('index');
  if (index) {
    const url = new URL(index, location.href).href;
    void run({ name: url, url });
  }
}

setUp();
