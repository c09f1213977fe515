// What the verification page shows: the progress bar and its line of numbers,
// the summary with the missing and corrupt chunk ids, errors (which replace the
// progress they end), whether a run is going on, what an update costs, and a
// .caidx's tree, one directory at a time (a <details> lists its directory when
// opened), with a filter and, on each file's row, how its download goes.
// Only DOM work lives here; page.ts decides what happens.

import type { ChunkVerdict, VerifyReport } from '../../../engine/verify.ts';
import type { VerifyProgress } from '../verify-pool.ts';
import type { ArchiveTree, TreeEntry } from '../archive-tree.ts';
import { formatLsMode } from '../../../inspect/inspect-escape.ts';
import { formatBytes } from '../../../format/units.ts';
import { CHUNK_CLASSES, type ChunkClass, type UpdateCostFigures } from '../../../engine/update-cost.ts';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

export function resetView(): void {
  for (const id of ['progress-box', 'result', 'missing-box', 'invalid-box', 'error', 'tree-box', 'signer', 'cost-box']) $(id).hidden = true;
  for (const id of ['missing', 'invalid', 'tree', 'status', 'summary', 'signer', 'busy', 'cost-strip', 'cost-legend', 'cost-summary', 'tree-count']) $(id).textContent = '';
  $<HTMLInputElement>('filter').value = '';
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

/** While a run goes on: Verify says so and is off, Cancel is on offer. */
export function showRunning(name: string | null): void {
  const start = $<HTMLButtonElement>('start');
  start.disabled = name !== null;
  start.textContent = name === null ? 'Verify' : 'Verifying…';
  $('cancel').hidden = name === null;
  $('busy').textContent = '';
}

/** Said beside the buttons when a run is asked for while another goes on. */
export function showBusy(text: string): void {
  $('busy').textContent = text;
}

export function showCancelled(p: VerifyProgress | null): void {
  $('progress-box').hidden = true;
  $('result').hidden = false;
  const s = $('summary');
  s.className = 'cancelled';
  s.textContent = p ? `Cancelled after ${p.chunks} of ${p.totalChunks} chunks (${formatBytes(p.bytes)} of ${formatBytes(p.totalBytes)}) were checked.` : 'Cancelled.';
}

export function showReport(r: VerifyReport, problems: readonly ChunkVerdict[], where: string, secs: number): void {
  $('progress-box').hidden = true;
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

/** An error ends what was in progress: the bar and its line go. */
export function showError(message: string): void {
  $('progress-box').hidden = true;
  const e = $('error');
  e.hidden = false;
  e.textContent = message;
}

/** Says how a row's download goes, on that row. */
export type RowStatus = (text: string, failed?: boolean) => void;

const CLASS_NAMES: Record<ChunkClass, string> = { shared: 'already there', zero: 'zeros (not fetched)', new: 'new: downloaded' };

/** The image as a strip of cells by what most of each slice is, and the figures. */
export function showCost(f: UpdateCostFigures, strip: readonly (ChunkClass | null)[], old: string): void {
  $('cost-box').hidden = false;
  const cells = strip.map((c) => {
    const cell = document.createElement('span');
    if (c) cell.className = c;
    return cell;
  });
  $('cost-strip').replaceChildren(...cells);
  const pct = (n: number) => (f.size ? ((100 * n) / f.size).toFixed(1) : '0.0');
  $('cost-strip').setAttribute('aria-label', CHUNK_CLASSES.map((c) => `${pct(f.covered[c])}% ${CLASS_NAMES[c]}`).join(', '));
  $('cost-legend').replaceChildren(
    ...CHUNK_CLASSES.map((c) => {
      const item = document.createElement('span');
      item.dataset.class = c;
      item.append(span(`key ${c}`, ''), `${CLASS_NAMES[c]}: ${formatBytes(f.covered[c])} (${pct(f.covered[c])}%, ${f.entries[c]} chunks)`);
      return item;
    }),
  );
  $('cost-summary').textContent = `Against ${old}: ${f.download} distinct new chunks, ${formatBytes(f.downloadSize)} before compression, to download for ${formatBytes(f.size)}.`;
}

/** Hides rows whose name does not hold `text`, keeping directories with a listed row that does. */
export function filterTree(text: string): void {
  const want = text.trim().toLowerCase();
  let shown = 0;
  const visit = (ul: Element): boolean => {
    let any = false;
    for (const li of Array.from(ul.querySelectorAll<HTMLLIElement>(':scope > li'))) {
      const sub = li.querySelector(':scope > details > ul');
      const below = sub ? visit(sub) : false;
      const name = li.querySelector('.name')?.textContent?.toLowerCase() ?? '';
      const match = !want || name.includes(want) || below;
      li.hidden = !match;
      if (match) shown++;
      any ||= match;
    }
    return any;
  };
  const top = $('tree').querySelector(':scope > ul');
  if (top) visit(top);
  $('tree-count').textContent = want ? `${shown} shown` : '';
}

/** Renders the root's entries; directories list themselves when opened, files offer a download. */
export async function showTree(tree: ArchiveTree, onDownload: (e: TreeEntry, status: RowStatus) => void): Promise<void> {
  $('tree-box').hidden = false;
  const root = await tree.root();
  $('tree').replaceChildren(await listing(tree, root, onDownload));
  filterTree($<HTMLInputElement>('filter').value);
}

async function listing(tree: ArchiveTree, dir: TreeEntry, onDownload: (e: TreeEntry, status: RowStatus) => void): Promise<HTMLUListElement> {
  const ul = document.createElement('ul');
  for (const e of await tree.list(dir)) {
    const li = document.createElement('li');
    li.dataset.path = e.path;
    const line = document.createElement('span');
    const mode = span('mode', formatLsMode(e.mode) ?? e.mode.toString(8));
    // A directory's size is its span in the archive: its files with their metadata.
    const size = span('size', e.size !== null ? formatBytes(e.size) : e.kind === 'directory' ? formatBytes(e.location.end - e.location.entryOffset) : '');
    if (e.kind === 'directory') size.title = 'bytes in the archive, metadata included';
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
          (sub) => {
            details.append(sub);
            filterTree($<HTMLInputElement>('filter').value);
          },
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
        b.setAttribute('aria-label', `download ${e.name}`);
        const status = span('row-status', '');
        status.setAttribute('role', 'status');
        b.addEventListener('click', () =>
          onDownload(e, (text, failed = false) => {
            status.textContent = text;
            status.classList.toggle('failed', failed);
          }),
        );
        li.append(b, status);
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
