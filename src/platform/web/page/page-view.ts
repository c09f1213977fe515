// What the verification page shows: the progress bar and its line of numbers,
// the summary with the missing and corrupt chunk ids, errors, and a .caidx's
// tree, one directory at a time (a <details> lists its directory when opened).
// Only DOM work lives here; page.ts decides what happens.

import type { ChunkVerdict, VerifyReport } from '../../../engine/verify.ts';
import type { VerifyProgress } from '../verify-pool.ts';
import type { ArchiveTree, TreeEntry } from '../archive-tree.ts';
import { formatLsMode } from '../../../inspect/inspect-escape.ts';
import { formatBytes } from '../../../format/units.ts';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

export function resetView(): void {
  for (const id of ['progress-box', 'result', 'missing-box', 'invalid-box', 'error', 'tree-box', 'signer']) $(id).hidden = true;
  for (const id of ['missing', 'invalid', 'tree', 'status', 'summary', 'download-status', 'signer']) $(id).textContent = '';
  $('summary').className = '';
  const bar = $<HTMLProgressElement>('bar');
  bar.value = 0;
  bar.max = 1;
}

export function showStatus(text: string): void {
  $('progress-box').hidden = false;
  $('status').textContent = text;
}

export function showProgress(p: VerifyProgress, startedAt: number): void {
  const bar = $<HTMLProgressElement>('bar');
  bar.max = Math.max(1, p.totalBytes);
  bar.value = p.bytes;
  const secs = (performance.now() - startedAt) / 1000;
  const rate = secs > 0 ? p.bytes / 1e6 / secs : 0;
  const problems = p.missing + p.invalid ? `, ${p.missing} missing, ${p.invalid} corrupt` : '';
  showStatus(`${p.chunks} of ${p.totalChunks} chunks, ${formatBytes(p.bytes)} of ${formatBytes(p.totalBytes)} (${rate.toFixed(1)} MB/s)${problems}`);
}

export function showReport(r: VerifyReport, problems: readonly ChunkVerdict[], where: string, secs: number): void {
  $('result').hidden = false;
  const s = $('summary');
  s.className = r.status;
  s.textContent =
    r.status === 'ok'
      ? `All ${r.chunks} chunks (${formatBytes(r.bytes)}) are present in ${where} and intact (${secs.toFixed(1)} s).`
      : `${r.missing.length} missing and ${r.invalid.length} corrupt of ${r.chunks} chunks (${formatBytes(r.bytes)}) in ${where}.`;
  const missing = problems.filter((p) => p.verdict === 'missing');
  const invalid = problems.filter((p) => p.verdict === 'invalid');
  $('missing-box').hidden = !missing.length;
  $('missing').textContent = missing.map((p) => p.hex).join('\n');
  $('invalid-box').hidden = !invalid.length;
  $('invalid').textContent = invalid.map((p) => `${p.hex}: ${p.why}`).join('\n');
}

export function showSigner(text: string): void {
  $('signer').hidden = false;
  $('signer').textContent = text;
}

export function showError(message: string): void {
  const e = $('error');
  e.hidden = false;
  e.textContent = message;
}

export function showDownloadStatus(text: string): void {
  $('download-status').textContent = text;
}

/** Renders the root's entries; directories list themselves when opened, files offer a download. */
export async function showTree(tree: ArchiveTree, onDownload: (e: TreeEntry) => void): Promise<void> {
  $('tree-box').hidden = false;
  const root = await tree.root();
  $('tree').replaceChildren(await listing(tree, root, onDownload));
}

async function listing(tree: ArchiveTree, dir: TreeEntry, onDownload: (e: TreeEntry) => void): Promise<HTMLUListElement> {
  const ul = document.createElement('ul');
  for (const e of await tree.list(dir)) {
    const li = document.createElement('li');
    li.dataset.path = e.path;
    const line = document.createElement('span');
    const mode = span('mode', formatLsMode(e.mode) ?? e.mode.toString(8));
    const size = span('size', e.size === null ? '' : formatBytes(e.size));
    const name = span('name', e.name + (e.kind === 'directory' ? '/' : '') + (e.target !== null ? ` -> ${e.target}` : ''));
    line.append(mode, size, name);
    if (e.kind === 'directory') {
      const details = document.createElement('details');
      const summary = document.createElement('summary');
      summary.append(line);
      details.append(summary);
      details.addEventListener('toggle', () => {
        if (!details.open || details.dataset.listed) return;
        details.dataset.listed = 'yes';
        listing(tree, e, onDownload).then(
          (sub) => details.append(sub),
          (err: Error) => details.append(span('error', err.message)),
        );
      });
      li.append(details);
    } else {
      li.append(line);
      if (e.kind === 'file') {
        const b = document.createElement('button');
        b.type = 'button';
        b.textContent = 'download';
        b.addEventListener('click', () => onDownload(e));
        li.append(b);
      }
    }
    ul.append(li);
  }
  return ul;
}

function span(cls: string, text: string): HTMLSpanElement {
  const s = document.createElement('span');
  s.className = cls;
  s.textContent = text;
  return s;
}
