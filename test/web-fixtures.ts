// Driving the verification page in Debian's headless Chromium through
// playwright-core (which downloads no browser: it is pointed at /usr/bin/chromium),
// against `wasync serve` on loopback, whose --verbose log tells which chunks the
// page asked for.  Also: the `node:` imports a browser bundle would reach.

import { existsSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { after } from 'node:test';
import { build, type Plugin } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { ROOT, storeChunks } from './helpers.ts';
import type { Served } from './http-fixtures.ts';

export const CHROMIUM = '/usr/bin/chromium';
export const haveChromium = existsSync(CHROMIUM);

let browser: Promise<Browser> | null = null;
// At the top level: an after() inside a test would close it after that test.
after(async () => {
  await (await browser?.catch(() => null))?.close();
});

/** One headless Chromium for the test file, started on first use, closed after the file. */
export function chromium(): Promise<Browser> {
  browser ??= (async () => {
    const { chromium: launcher } = await import('playwright-core');
    // As root, Chromium refuses to start with its sandbox on.
    return launcher.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  })();
  return browser;
}

export interface PageReport {
  status: 'ok' | 'failed';
  chunks: number;
  bytes: number;
  missing: string[];
  invalid: string[];
  error?: string;
}

/** Opens the page served at `base` on ?index=…[&store=…][&other parameters] and waits for its report. */
export async function verifyInPage(page: Page, base: string, index: string, store?: string, more: Record<string, string> = {}): Promise<PageReport> {
  const q = new URLSearchParams({ index, ...more });
  if (store) q.set('store', store);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const res = await page.goto(`${base}/_web/?${q}`);
  if (!res?.ok()) throw new Error(`${base}/_web/: ${res?.status()} ${await res?.text()} (npm run build makes dist/web)`);
  await page.waitForFunction(() => (window as { wasyncReport?: unknown }).wasyncReport, null, { timeout: 120_000 });
  if (errors.length) throw new Error(`the page threw: ${errors.join('; ')}`);
  return page.evaluate(() => (window as unknown as { wasyncReport: PageReport }).wasyncReport);
}

/**
 * Makes a store's chunk files look modified a day from now.  The server sends
 * their mtime as Last-Modified, from which a browser would otherwise deem them
 * fresh for a while and answer a repeated request from its cache, out of the
 * server log's sight; this way each request reaches the server and is counted.
 */
export function uncacheable(store: string): void {
  const later = new Date(Date.now() + 86_400_000);
  for (const f of storeChunks(store)) utimesSync(join(store, f.slice(0, 4), f), later, later);
}

/** Chunk ids requested from a `wasync serve -v` since its log had `from` characters. */
export function chunkRequests(served: Served, from = 0): string[] {
  return [...served.stderr().slice(from).matchAll(/^GET \S*\/([0-9a-f]{64})\.cacnk \d+$/gm)].map((m) => m[1]);
}

/**
 * The `node:` modules reachable from `entries` when bundled for a browser, as
 * "importer → module".  A bare builtin (`fs`) fails the build itself, since
 * platform=browser cannot resolve one.
 */
export async function nodeImports(entries: string[] | { contents: string }): Promise<string[]> {
  const found: string[] = [];
  const record: Plugin = {
    name: 'record-node-imports',
    setup(b) {
      b.onResolve({ filter: /^node:/ }, (a) => {
        found.push(`${a.importer.replace(`${ROOT}/`, '')} → ${a.path}`);
        return { path: a.path, external: true };
      });
    },
  };
  await build({
    absWorkingDir: ROOT,
    ...(Array.isArray(entries) ? { entryPoints: entries } : { stdin: { contents: entries.contents, resolveDir: ROOT, loader: 'ts' } }),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    write: false,
    outdir: '/nonexistent',
    logLevel: 'silent',
    plugins: [record],
  });
  return found;
}
