// The verification page as a user meets it, in headless Chromium: opened from
// file:// (a message saying how to serve it), an error that replaces the
// progress it ends, a run that says it is running and refuses a second one, a
// cancel that stops every request, the tree's filter, directory sizes, a
// download's feedback on its own row, the keyboard alone, the text's contrast,
// and what an update between two ext4 images costs, against `wasync info`.
// Each state is photographed into test-artifacts/web-page/ ($WASYNC_TEST_ARTIFACTS).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { casync, haveCasync, ok, rand, requires, ROOT, tempDir, wasyncAsync } from './helpers.ts';
import { faultyServer, type FaultyServer } from './http-fixtures.ts';
import { chromium, haveChromium } from './web-fixtures.ts';

const dir = tempDir('wasync-web-page-');
const p = (...n: string[]) => join(dir, ...n);
const ARTIFACTS = join(process.env.WASYNC_TEST_ARTIFACTS ?? join(ROOT, 'test-artifacts'), 'web-page');
mkdirSync(ARTIFACTS, { recursive: true });
const shot = (page: Page, name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

// The page and the stores from one server that can be slowed down.
symlinkSync(join(ROOT, 'dist', 'web'), p('_web'));
let latency = 0;
// Started here, not in a test: its after() hook would close it when that test ends.
const server = faultyServer(dir, { get latencyMs() { return latency; } });
const serve = (): Promise<FaultyServer> => server;

const ready = (t: Parameters<typeof requires>[0]) =>
  requires(t, haveChromium, 'chromium (apt-get install chromium)') && requires(t, haveCasync, 'casync');
const haveMkfs = spawnSync('mkfs.ext4', ['-V']).status === 0;

const report = (page: Page) =>
  page.waitForFunction(() => (window as { wasyncReport?: unknown }).wasyncReport, null, { timeout: 120_000 }).then((h) => h.jsonValue() as Promise<{ status: string; error?: string; chunks: number }>);

test('opened from file://, the page says how to serve it', async (t) => {
  if (!requires(t, haveChromium, 'chromium')) return;
  const page = await (await chromium()).newPage();
  await page.goto(`file://${join(ROOT, 'dist', 'web', 'index.html')}`);
  assert.ok(await page.isVisible('#file-note'));
  assert.match((await page.textContent('#file-note')) ?? '', /wasync serve DIR.*_web/s);
  await shot(page, 'file-url');
  await page.close();
});

test('an error replaces the progress it ends', async (t) => {
  if (!ready(t)) return;
  const { url } = await serve();
  const page = await (await chromium()).newPage();
  await page.goto(`${url}/_web/?index=/nothing-here.caibx`);
  const r = await report(page);
  assert.equal(r.status, 'failed');
  assert.ok(await page.isVisible('#error'));
  assert.equal(await page.isVisible('#progress-box'), false, 'the stale "Reading …" line stays on screen');
  assert.equal(await page.textContent('#start'), 'Verify');
  await shot(page, 'error');
  await page.close();
});

test('a run says it is running, refuses a second one, and Cancel stops it and its requests', async (t) => {
  if (!ready(t)) return;
  writeFileSync(p('slow.img'), rand('slow', 4_000_000));
  ok(casync(['make', `--store=${p('slow.castr')}`, p('slow.caibx'), p('slow.img')]), 'casync make');
  const srv = await serve();
  const page = await (await chromium()).newPage();
  latency = 150;
  try {
    await page.goto(`${srv.url}/_web/?index=/slow.caibx&store=/slow.castr&workers=1&concurrency=2`);
    await page.waitForFunction(() => /^[1-9]\d* of/.test(document.getElementById('status')?.textContent ?? ''));
    assert.equal(await page.textContent('#start'), 'Verifying…');
    assert.ok(await page.isDisabled('#start'));
    await page.setInputFiles('#file', p('slow.caibx'));
    assert.match((await page.textContent('#busy')) ?? '', /slow\.caibx is being verified: cancel it to start another/);
    await shot(page, 'running');
    await page.click('#cancel');
    const r = await report(page);
    assert.equal(r.status, 'failed');
    assert.equal(r.error, 'cancelled');
    assert.match((await page.textContent('#summary')) ?? '', /^Cancelled after \d+ of \d+ chunks/);
    assert.equal(await page.isVisible('#progress-box'), false);
    assert.equal(await page.textContent('#start'), 'Verify');
    assert.equal(await page.isVisible('#cancel'), false);
    await shot(page, 'cancelled');
    // The workers are gone: no request arrives after those already on their way.
    await new Promise((r) => setTimeout(r, 1000));
    const after = srv.total();
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(srv.total(), after, 'requests went on after Cancel');
  } finally {
    latency = 0;
  }
  await page.close();
});

test('the tree: directory sizes, a filter, a download reported on its row, all by keyboard; text contrast ≥ 4.5:1', async (t) => {
  if (!ready(t)) return;
  const tree = p('tree');
  mkdirSync(join(tree, 'docs', 'deep'), { recursive: true });
  for (let i = 0; i < 120; i++) writeFileSync(join(tree, `entry-${String(i).padStart(3, '0')}.txt`), `entry ${i}\n`);
  const nested = rand('nested', 700_000);
  writeFileSync(join(tree, 'docs', 'deep', 'nested.bin'), nested);
  writeFileSync(join(tree, 'docs', 'readme.txt'), 'read me\n');
  ok(casync(['make', `--store=${p('tree.castr')}`, p('tree.caidx'), tree]), 'casync make');
  const { url } = await serve();
  const context = await (await chromium()).newContext({ acceptDownloads: true });
  const page = await context.newPage();
  await page.goto(`${url}/_web/?index=/tree.caidx&store=/tree.castr`);
  assert.equal((await report(page)).status, 'ok');
  await page.waitForSelector('li[data-path="entry-119.txt"]');

  // Directories have a size (their bytes in the archive), so the columns line up.
  const docsSize = (await page.textContent('li[data-path="docs"] .size')) ?? '';
  assert.match(docsSize, /^\d/);

  // The filter, typed.
  await page.focus('#filter');
  await page.keyboard.type('entry-11');
  const visible = await page.$$eval('#tree > ul > li:not([hidden])', (lis) => lis.map((li) => (li as HTMLElement).dataset.path));
  assert.deepEqual(visible, Array.from({ length: 10 }, (_, i) => `entry-11${i}.txt`));
  assert.equal(await page.textContent('#tree-count'), '10 shown');
  await shot(page, 'filtered');

  // By keyboard: open docs and docs/deep, then download nested.bin.
  await page.fill('#filter', '');
  await page.focus('li[data-path="docs"] > details > summary');
  await page.keyboard.press('Enter');
  await page.waitForSelector('li[data-path="docs/deep"] > details > summary');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => (document.activeElement?.closest('li') as HTMLElement | null)?.dataset.path), 'docs/deep');
  await page.keyboard.press('Enter');
  await page.waitForSelector('li[data-path="docs/deep/nested.bin"] button');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'download nested.bin');
  const [download] = await Promise.all([page.waitForEvent('download'), page.keyboard.press('Enter')]);
  assert.ok(readFileSync(await download.path()).equals(nested));
  await page.waitForFunction(() => /^saved: /.test(document.querySelector('li[data-path="docs/deep/nested.bin"] .row-status')?.textContent ?? ''));
  // The filter keeps a directory whose listed entry matches.
  await page.fill('#filter', 'nested');
  assert.deepEqual(await page.$$eval('#tree li:not([hidden])', (lis) => lis.map((li) => (li as HTMLElement).dataset.path)), ['docs', 'docs/deep', 'docs/deep/nested.bin']);
  await shot(page, 'downloaded');

  // Every visible text against its background (all backgrounds here are white or near it).
  // A string, not a function: the test's transpiler would name its inner functions with a helper the page lacks.
  const worst = (await page.evaluate(`(() => {
    const lum = (c) => {
      const [r, g, b] = (c.match(/[\\d.]+/g) || []).slice(0, 3).map(Number).map((v) => {
        const s = v / 255;
        return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
      });
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    let min = { ratio: 21, text: '' };
    for (const el of Array.from(document.querySelectorAll('body *'))) {
      if (!el.offsetParent || !Array.from(el.childNodes).some((n) => n.nodeType === 3 && n.textContent.trim())) continue;
      const ratio = 1.05 / (lum(getComputedStyle(el).color) + 0.05);
      if (ratio < min.ratio) min = { ratio, text: el.textContent.trim().slice(0, 40) };
    }
    return min;
  })()`)) as { ratio: number; text: string };
  assert.ok(worst.ratio >= 4.5, `contrast ${worst.ratio.toFixed(2)}:1 for "${worst.text}"`);
  await context.close();
});

test('what an update between two ext4 images costs: the strip and the figures of wasync info', async (t) => {
  if (!ready(t) || !requires(t, haveMkfs, 'mkfs.ext4 (apt-get install e2fsprogs)')) return;
  const tree = p('fs');
  mkdirSync(join(tree, 'lib'), { recursive: true });
  for (let i = 0; i < 12; i++) writeFileSync(join(tree, 'lib', `part${i}.bin`), rand(`fs-${i}`, 600_000));
  const mkfs = (img: string) => {
    const r = spawnSync('mkfs.ext4', ['-q', '-F', '-d', tree, '-E', 'root_owner=0:0', '-U', '6d0ad3a2-1fb4-4c1a-9e22-7cc27a1a8c4e', img, '32M'], { encoding: 'utf8' });
    assert.equal(r.status, 0, `mkfs.ext4: ${r.stderr}`);
  };
  mkfs(p('v1.img'));
  // Version 2: one file changed, one added.
  writeFileSync(join(tree, 'lib', 'part3.bin'), rand('fs-3-v2', 600_000));
  writeFileSync(join(tree, 'lib', 'new.bin'), rand('fs-new', 900_000));
  mkfs(p('v2.img'));
  for (const v of ['v1', 'v2']) ok(casync(['make', `--store=${p('fs.castr')}`, p(`${v}.caibx`), p(`${v}.img`)]), 'casync make');
  const { url } = await serve();

  // Not spawnSync: the server answering it runs in this process.
  const info = JSON.parse(ok(await wasyncAsync(['info', '--json', `--seed=${p('v1.caibx')}`, `--store=${url}/fs.castr`, p('v2.caibx')])).stdout);
  const page = await (await chromium()).newPage();
  await page.goto(`${url}/_web/?index=/v2.caibx&old=/v1.caibx&store=/fs.castr`);
  assert.equal((await report(page)).status, 'ok');
  const cost = await page.evaluate(() => (window as unknown as { wasyncCost: { size: number; covered: Record<string, number>; download: number; downloadSize: number } }).wasyncCost);
  assert.equal(cost.size, info.size);
  assert.equal(cost.covered.shared, info['at-hand-size']);
  assert.equal(cost.covered.zero, info['zero-size']);
  assert.equal(cost.download, info['new-chunks']);
  assert.equal(cost.downloadSize, info['new-size']);
  assert.equal(cost.covered.shared + cost.covered.zero + cost.covered.new, cost.size);
  // A slightly different tree: most of the image is shared or zeros, a little is new.
  assert.ok(cost.covered.zero > cost.size / 4, `zeros ${cost.covered.zero} of ${cost.size}`);
  assert.ok(cost.downloadSize > 600_000 && cost.downloadSize < cost.size / 4, `download ${cost.downloadSize}`);
  assert.equal(await page.$$eval('#cost-strip > span', (s) => s.length), 200);
  assert.ok((await page.$$eval('#cost-strip > span.new', (s) => s.length)) > 0);
  assert.match((await page.textContent('#cost-summary')) ?? '', new RegExp(`^Against ${url}/v1\\.caibx: ${info['new-chunks']} distinct new chunks`));
  await shot(page, 'update-cost');
  await page.close();
});
