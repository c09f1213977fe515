// The verification page in headless Chromium, against casync-made indexes and
// stores served by `wasync serve` on loopback: a blob index in each of casync's
// compressions and both digests, a tree index (listed, and one file downloaded
// byte-exact while only the chunks its payload spans are requested), a tree with
// a directory of hundreds of entries (listed while verification runs without any
// chunk fetched twice; listed alone fetching each chunk of its entries' records
// at most once and no file's contents), a store with a missing and two corrupt
// chunks reported by id, an index that is not there; the browser's check of
// chunks lent by a pack store until the next task, in each compression; and the
// browser entry's import graph, which must reach no `node:` module.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { parseIndex } from '../src/format/index-file.ts';
import { chunkPathBase, toHex } from '../src/chunk/chunk-id.ts';
import { casync, haveCasync, ok, rand, requires, sha512_256, tempDir } from './helpers.ts';
import { decompressChunk } from '../src/platform/web/codecs.ts';
import { webCheck } from '../src/platform/web/access.ts';
import { encodePackIndex, PACK_HEADER_SIZE, type PackEntry } from '../src/format/pack-index.ts';
import { PackStore, type PackFiles, type Range } from '../src/stores/pack-store.ts';
import { CheckedStore } from '../src/stores/checked-store.ts';
import { MemoryStore } from '../src/stores/memory-store.ts';
import { verifyChunk } from '../src/engine/verify.ts';
import { startServe } from './http-fixtures.ts';
import { chromium, chunkRequests, haveChromium, nodeImports, uncacheable, verifyInPage } from './web-fixtures.ts';

const dir = tempDir('wasync-web-');
const p = (...n: string[]) => join(dir, ...n);
const distinctIds = (index: string) => [...new Set(parseIndex(readFileSync(index), index).entries.map((e) => toHex(e.id)))];

// Started here, not in a test, so that it serves every test of the file (its
// after() hook belongs to whoever starts it); -v logs each request.
const served = startServe(dir, ['-v']);
served.catch(() => {}); // a test that needs it reports the failure
const server = () => served;

const ready = (t: Parameters<typeof requires>[0]) =>
  requires(t, haveChromium, 'chromium (apt-get install chromium)') && requires(t, haveCasync, 'casync');

test('the browser entry and the page reach no node: import', async () => {
  assert.deepEqual(await nodeImports(['src/browser.ts', 'src/platform/web/page/page.ts', 'src/platform/web/verify-worker.ts']), []);
  // The check itself sees one: Node's codecs import node:zlib.
  const bad = await nodeImports({ contents: "export * from './src/platform/node/storage/chunk-codec.ts';" });
  assert.ok(bad.some((s) => s.endsWith('→ node:zlib')), bad.join('\n'));
});

test("the browser codecs decode casync's zstd (no content size), gzip and xz chunks and refuse broken ones", async (t) => {
  if (!requires(t, haveCasync, 'casync')) return;
  const data = Buffer.concat([rand('codec', 200_000), Buffer.from('casync chunk text '.repeat(10_000))]);
  writeFileSync(p('codec.img'), data);
  for (const compression of ['zstd', 'gzip', 'xz']) {
    const store = p(`codec-${compression}.castr`);
    ok(casync(['make', `--compression=${compression}`, `--store=${store}`, p(`codec-${compression}.caibx`), p('codec.img')]), 'casync make');
    for (const e of parseIndex(readFileSync(p(`codec-${compression}.caibx`)), 'x').entries) {
      const stored = readFileSync(join(store, `${chunkPathBase(toHex(e.id))}.cacnk`));
      const out = await decompressChunk(stored, e.size);
      assert.equal(sha512_256(out!), toHex(e.id), `${compression} chunk ${toHex(e.id)}`);
    }
  }
  const e = parseIndex(readFileSync(p('codec-zstd.caibx')), 'x').entries[0];
  const frame = readFileSync(join(p('codec-zstd.castr'), `${chunkPathBase(toHex(e.id))}.cacnk`));
  assert.equal(frame[4] & 0xe0, 0, 'casync writes zstd frames without a content size');
  await assert.rejects(decompressChunk(frame, e.size - 1), /not a zstd frame of at most/);
  await assert.rejects(decompressChunk(frame.subarray(0, frame.length - 9), e.size), /not a zstd frame/);
  const x = parseIndex(readFileSync(p('codec-xz.caibx')), 'x').entries[0];
  const xz = readFileSync(join(p('codec-xz.castr'), `${chunkPathBase(toHex(x.id))}.cacnk`));
  xz[xz.length >> 1] ^= 1;
  await assert.rejects(decompressChunk(xz, x.size), /^Error: xz: corrupt data \(XZ_DATA_ERROR\)$/);
  assert.equal(await decompressChunk(rand('none', 100), 100), null);
});

test('chunks a pack store lends until the next task are judged right in every compression, their memory overwritten after', async (t) => {
  if (!requires(t, haveCasync, 'casync')) return;
  for (const [compression, digest] of [['zstd', 'sha512-256'], ['gzip', 'sha256'], ['xz', 'sha512-256']] as const) {
    const name = `lent-${compression}`;
    writeFileSync(p(`${name}.img`), Buffer.concat([rand(name, 300_000), Buffer.from('lent chunk text '.repeat(20_000))]));
    ok(casync(['make', `--compression=${compression}`, `--digest=${digest}`, `--store=${p(`${name}.castr`)}`, p(`${name}.caibx`), p(`${name}.img`)]), 'casync make');
    const entries = parseIndex(readFileSync(p(`${name}.caibx`)), 'x').entries;
    // One pack of every chunk's stored bytes, and a PackFiles that lends one buffer and scribbles over it a task later.
    const stored = [...new Map(entries.map((e) => [toHex(e.id), e])).values()].map((e) => ({ e, bytes: readFileSync(join(p(`${name}.castr`), `${chunkPathBase(toHex(e.id))}.cacnk`)) }));
    const packEntries: PackEntry[] = [];
    let at = PACK_HEADER_SIZE;
    for (const { e, bytes } of stored) {
      packEntries.push({ id: e.id, pack: 1, offset: at, size: bytes.length });
      at += bytes.length;
    }
    const pack = new Uint8Array(at);
    stored.forEach(({ bytes }, i) => pack.set(bytes, packEntries[i].offset));
    const buffer = new Uint8Array(at);
    let lent = 0;
    const files: PackFiles = {
      base: 'lent',
      index: async () => encodePackIndex([{ number: 1, size: at }], [...packEntries].sort((a, b) => Buffer.compare(a.id, b.id))),
      read: () => Promise.reject(new Error('read() while lend() is there')),
      async lend(_pack: number, ranges: readonly Range[], use: (bytes: Uint8Array[]) => void) {
        lent++;
        for (const r of ranges) buffer.set(pack.subarray(r.start, r.end), r.start);
        use(ranges.map((r) => buffer.subarray(r.start, r.end)));
        await new Promise((r) => setTimeout(r, 0));
        buffer.fill(0xa5);
      },
    };
    const source = new CheckedStore(new PackStore(new MemoryStore(), files, { lent: true, maxRequestBytes: 64 << 10 }), webCheck(digest));
    const verdicts = await Promise.all(stored.map(({ e }) => verifyChunk(source, e.id, e.size)));
    assert.deepEqual(verdicts.filter((v) => v.verdict !== 'ok'), [], compression);
    assert.ok(lent > 1, `${compression}: read in ${lent} lends`);
  }
});

for (const [compression, digest] of [
  ['zstd', 'sha512-256'],
  ['gzip', 'sha256'],
  ['xz', 'sha512-256'],
] as const) {
  test(`a casync-made blob index (${compression}, ${digest}) verifies in the page`, async (t) => {
    if (!ready(t)) return;
    const name = `blob-${compression}`;
    // Random data and text, so chunks both compress and do not.
    const blob = Buffer.concat([rand(name, 700_000), Buffer.from('casync chunk text '.repeat(40_000))]);
    writeFileSync(p(`${name}.img`), blob);
    ok(casync(['make', `--compression=${compression}`, `--digest=${digest}`, `--store=${p(`${name}.castr`)}`, p(`${name}.caibx`), p(`${name}.img`)]), 'casync make');
    const ids = distinctIds(p(`${name}.caibx`));
    const { url } = await server();
    const page = await (await chromium()).newPage();
    const report = await verifyInPage(page, url, `/${name}.caibx`, `/${name}.castr`);
    assert.deepEqual(report, { status: 'ok', chunks: ids.length, bytes: report.bytes, missing: [], invalid: [] });
    const sizes = new Map(parseIndex(readFileSync(p(`${name}.caibx`)), 'x').entries.map((e) => [toHex(e.id), e.size]));
    assert.equal(report.bytes, [...sizes.values()].reduce((a, b) => a + b, 0));
    assert.match(await page.textContent('#summary') ?? '', new RegExp(`All ${ids.length} chunks .* are present`));
    await page.close();
  });
}

test('a local index given to the page as a file: verified against the store URL typed in', async (t) => {
  if (!ready(t)) return;
  writeFileSync(p('local.img'), rand('local', 600_000));
  ok(casync(['make', `--store=${p('local.castr')}`, p('local.caibx'), p('local.img')]), 'casync make');
  const { url } = await server();
  const page = await (await chromium()).newPage();
  await page.goto(`${url}/_web/`);
  await page.fill('#store', `${url}/local.castr`);
  await page.setInputFiles('#file', p('local.caibx'));
  await page.waitForFunction(() => (window as { wasyncReport?: unknown }).wasyncReport);
  const report = await page.evaluate(() => (window as unknown as { wasyncReport: unknown }).wasyncReport);
  assert.deepEqual(report, { status: 'ok', chunks: distinctIds(p('local.caibx')).length, bytes: 600_000, missing: [], invalid: [] });
  await page.close();
});

test('a store with a missing chunk and two corrupt ones: the page names each by id', async (t) => {
  if (!ready(t)) return;
  writeFileSync(p('bad.img'), rand('bad', 1_500_000));
  ok(casync(['make', `--store=${p('bad.castr')}`, p('bad.caibx'), p('bad.img')]), 'casync make');
  const ids = distinctIds(p('bad.caibx'));
  const chunk = (id: string) => p('bad.castr', `${chunkPathBase(id)}.cacnk`);
  const [gone, flipped, other] = [ids[2], ids[5], ids[9]];
  rmSync(chunk(gone));
  const b = readFileSync(chunk(flipped));
  b[b.length >> 1] ^= 0x55;
  writeFileSync(chunk(flipped), b);
  // A well-formed chunk in another compression, but of other bytes than its id says.
  writeFileSync(chunk(other), gzipSync(rand('other', 1000)));
  const { url } = await server();
  const page = await (await chromium()).newPage();
  const report = await verifyInPage(page, url, '/bad.caibx', '/bad.castr');
  assert.deepEqual(report, { status: 'failed', chunks: ids.length, bytes: 1_500_000, missing: [gone], invalid: [flipped, other] });
  assert.equal((await page.textContent('#missing'))?.trim(), gone);
  const invalid = (await page.textContent('#invalid')) ?? '';
  assert.match(invalid, new RegExp(`${flipped}: \\S+${flipped}\\.cacnk: (does not decompress|its sha512-256 digest does not match)`));
  assert.match(invalid, new RegExp(`${other}: \\S+${other}\\.cacnk: holds 1000 bytes, the index says \\d+`));
  await page.close();
});

test('a casync-made tree index: verified, listed, and one file downloaded byte-exact from only its chunks', async (t) => {
  if (!ready(t)) return;
  const tree = p('tree');
  mkdirSync(join(tree, 'docs', 'deep'), { recursive: true });
  writeFileSync(join(tree, 'big.bin'), rand('big', 1_200_000));
  writeFileSync(join(tree, 'docs', 'a.txt'), 'hello\n');
  const nested = rand('nested', 900_000);
  writeFileSync(join(tree, 'docs', 'deep', 'nested.bin'), nested);
  writeFileSync(join(tree, 'z.bin'), rand('z', 800_000));
  symlinkSync('docs/a.txt', join(tree, 'link'));
  ok(casync(['make', `--store=${p('tree.castr')}`, p('tree.caidx'), tree]), 'casync make .caidx');
  ok(casync(['make', p('tree.catar'), tree]), 'casync make .catar');

  // The chunks the file's payload spans, found independently of the page: its bytes in the archive.
  const catar = readFileSync(p('tree.catar'));
  const index = parseIndex(readFileSync(p('tree.caidx')), 'tree.caidx');
  assert.equal(index.size, catar.length, 'the .caidx describes the .catar casync made of the same tree');
  const at = catar.indexOf(nested);
  assert.ok(at > 0);
  const spanned = new Set(index.entries.filter((e) => e.offset < at + nested.length && e.offset + e.size > at).map((e) => toHex(e.id)));
  assert.ok(spanned.size > 3 && spanned.size < index.entries.length / 2, `${spanned.size} of ${index.entries.length} chunks`);

  const srv = await server();
  const context = await (await chromium()).newContext({ acceptDownloads: true });
  const page = await context.newPage();
  // cache=0: verified chunks are not kept, so the download must fetch what it reads.
  const report = await verifyInPage(page, srv.url, '/tree.caidx', '/tree.castr', { cache: '0' });
  assert.equal(report.status, 'ok');
  assert.equal(report.chunks, distinctIds(p('tree.caidx')).length);

  // The top directory is listed at once, a subdirectory when opened.
  await page.waitForSelector('li[data-path="z.bin"]');
  const top = await page.$$eval('#tree > ul > li', (lis) => lis.map((li) => (li as HTMLElement).dataset.path));
  assert.deepEqual(top, ['big.bin', 'docs', 'link', 'z.bin']);
  assert.match((await page.textContent('li[data-path="link"]')) ?? '', /^lrwxrwxrwx.*link -> docs\/a\.txt/);
  await page.click('li[data-path="docs"] > details > summary');
  await page.click('li[data-path="docs/deep"] > details > summary');
  await page.waitForSelector('li[data-path="docs/deep/nested.bin"] button');

  const logFrom = srv.stderr().length;
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('li[data-path="docs/deep/nested.bin"] button')]);
  assert.equal(download.suggestedFilename(), 'nested.bin');
  assert.ok(readFileSync(await download.path()).equals(nested), 'the downloaded file differs from the original');
  const stats = await page.evaluate(() => (window as unknown as { wasyncDownload: { chunks: number; bytes: number } }).wasyncDownload);
  assert.deepEqual(stats, { path: 'docs/deep/nested.bin', bytes: nested.length, chunks: spanned.size, fetched: spanned.size });
  // The server logs a request when it has sent the answer; wait for the log to show them all.
  let asked = chunkRequests(srv, logFrom);
  for (let i = 0; i < 100 && asked.length < spanned.size; i++) {
    await new Promise((r) => setTimeout(r, 50));
    asked = chunkRequests(srv, logFrom);
  }
  assert.deepEqual(new Set(asked), spanned);
  assert.equal(asked.length, spanned.size, 'each spanned chunk fetched once');
  await context.close();
});

/** Waits until the server's log has stopped growing (it logs a request once answered). */
async function settledLog(srv: { stderr(): string }): Promise<void> {
  for (let last = -1; last !== srv.stderr().length; ) {
    last = srv.stderr().length;
    await new Promise((r) => setTimeout(r, 300));
  }
}

test('a directory of hundreds of entries: listed alongside verification and alone, no chunk fetched twice', async (t) => {
  if (!ready(t)) return;
  // 'many' holds small files, subdirectories and a few files of several chunks each.
  const tree = p('wide');
  const many = join(tree, 'many');
  mkdirSync(many, { recursive: true });
  writeFileSync(join(tree, 'top.txt'), 'top\n');
  for (let i = 0; i < 300; i++) writeFileSync(join(many, `f${String(i).padStart(3, '0')}.txt`), `file ${i}\n`.repeat(1 + (i % 40)));
  for (let i = 0; i < 150; i++) {
    mkdirSync(join(many, `d${String(i).padStart(3, '0')}`));
    writeFileSync(join(many, `d${String(i).padStart(3, '0')}`, 'inner.txt'), `inner ${i}\n`);
  }
  const bigs = Array.from({ length: 16 }, (_, i) => rand(`wide-big-${i}`, 260_000));
  bigs.forEach((b, i) => writeFileSync(join(many, `big${String(i).padStart(2, '0')}.bin`), b));
  const entries = 300 + 150 + bigs.length;
  ok(casync(['make', `--store=${p('wide.castr')}`, p('wide.caidx'), tree]), 'casync make .caidx');
  ok(casync(['make', p('wide.catar'), tree]), 'casync make .catar');
  uncacheable(p('wide.castr'));
  const index = parseIndex(readFileSync(p('wide.caidx')), 'wide.caidx');
  const all = new Set(index.entries.map((e) => toHex(e.id)));

  // The chunks that hold nothing but a big file's contents, past what a listing reads of its node.
  const catar = readFileSync(p('wide.catar'));
  const contents = new Set<string>();
  for (const b of bigs) {
    const at = catar.indexOf(b);
    assert.ok(at > 0);
    for (const e of index.entries) if (e.offset >= at + 4096 && e.offset + e.size <= at + b.length) contents.add(toHex(e.id));
  }
  assert.ok(contents.size >= bigs.length, `${contents.size} chunks of file contents only`);

  const srv = await server();
  const listed = (page: import('playwright-core').Page) =>
    page.waitForFunction((n) => document.querySelectorAll('li[data-path^="many/"]').length === n, entries, { timeout: 120_000 });

  // Listed while the workers verify: between them, every chunk is fetched exactly once.
  let page = await (await chromium()).newPage();
  let from = srv.stderr().length;
  const opened = page.waitForSelector('li[data-path="many"]').then(() => page.click('li[data-path="many"] > details > summary'));
  const report = await verifyInPage(page, srv.url, '/wide.caidx', '/wide.castr');
  await opened;
  assert.equal(report.status, 'ok');
  assert.equal(report.chunks, all.size);
  await listed(page);
  await settledLog(srv);
  let asked = chunkRequests(srv, from);
  assert.deepEqual(new Set(asked), all, 'every chunk verified');
  assert.equal(asked.length, all.size, 'no chunk fetched twice by the listing and the verification together');
  await page.close();

  // Listed alone, with no chunk kept from verification: each chunk at most once, no file's contents.
  page = await (await chromium()).newPage();
  await verifyInPage(page, srv.url, '/wide.caidx', '/wide.castr', { cache: '0' });
  await page.waitForSelector('li[data-path="many"]');
  await settledLog(srv);
  from = srv.stderr().length;
  await page.click('li[data-path="many"] > details > summary');
  await listed(page);
  await settledLog(srv);
  asked = chunkRequests(srv, from);
  assert.ok(asked.length > 0 && asked.every((id) => all.has(id)), `${asked.length} chunks requested`);
  assert.equal(new Set(asked).size, asked.length, 'no chunk fetched twice by the listing');
  assert.deepEqual(asked.filter((id) => contents.has(id)), [], 'the listing fetched file contents');
  const names = await page.$$eval('li[data-path="many"] > details > ul > li', (lis) => lis.map((li) => (li as HTMLElement).dataset.path));
  assert.equal(names.length, entries);
  assert.equal(names[0], 'many/big00.bin');
  await page.close();
});

test('an index that is not there: the report says so, naming the URL', async (t) => {
  if (!requires(t, haveChromium, 'chromium (apt-get install chromium)')) return;
  const { url } = await server();
  const page = await (await chromium()).newPage();
  const report = await verifyInPage(page, url, '/nothing-here.caibx');
  assert.equal(report.status, 'failed');
  assert.match(report.error ?? '', new RegExp(`${url}/nothing-here\\.caibx: not found \\(404\\)`));
  assert.equal(await page.isVisible('#error'), true);
  await page.close();
});

