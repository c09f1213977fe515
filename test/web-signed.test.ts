// The verification page with a public key (?key= or the field) in headless
// Chromium: a signed index shows "Signed by <key id>, version N" and verifies;
// a tampered, unsigned or foreign-key index is refused before any chunk is
// requested (counted in `wasync serve -v`'s log); a dropped index with its
// .minisig is checked the same way.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ok, rand, requires, tempDir, wasync } from './helpers.ts';
import { startServe } from './http-fixtures.ts';
import { chromium, chunkRequests, haveChromium, uncacheable, verifyInPage } from './web-fixtures.ts';

const dir = tempDir('wasync-web-signed-');
const p = (...n: string[]) => join(dir, ...n);
writeFileSync(p('img'), rand('web-signed', 900_000));
ok(wasync(['make', `--store=${p('default.castr')}`, p('good.caibx'), p('img')]));
uncacheable(p('default.castr'));
ok(wasync(['keygen', `--key=${p('k.key')}`, '--without-password']));
ok(wasync(['keygen', `--key=${p('u.key')}`, '--without-password']));
ok(wasync(['sign', `--key=${p('k.key')}`, '--version=12', p('good.caibx')]));
const tampered = Buffer.from(readFileSync(p('good.caibx')));
tampered[tampered.length - 50] ^= 1;
writeFileSync(p('tampered.caibx'), tampered);
copyFileSync(p('good.caibx.minisig'), p('tampered.caibx.minisig'));
copyFileSync(p('good.caibx'), p('unsigned.caibx'));
copyFileSync(p('good.caibx'), p('foreign.caibx'));
ok(wasync(['sign', `--key=${p('u.key')}`, p('foreign.caibx')]));
const key = readFileSync(p('k.pub'), 'utf8').split('\n')[1];
const keyId = /public key ([0-9A-F]{16})/.exec(readFileSync(p('k.pub'), 'utf8'))![1];

const served = startServe(dir, ['-v']);
served.catch(() => {});

test('the page shows the signer of a signed index and refuses a tampered, unsigned or foreign one before any chunk', async (t) => {
  if (!requires(t, haveChromium, 'chromium (apt-get install chromium)')) return;
  const s = await served;
  const browser = await chromium();
  let page = await browser.newPage();
  const good = await verifyInPage(page, s.url, '/good.caibx', undefined, { key });
  assert.equal(good.status, 'ok');
  assert.deepEqual((good as unknown as { signer: unknown }).signer, { keyId, version: 12 });
  assert.equal((await page.textContent('#signer'))?.trim(), `Signed by ${keyId}, version 12.`);
  assert.ok(chunkRequests(s).length > 0);
  await page.close();

  for (const [name, message] of [
    ['tampered', /tampered\.caibx: does not match its signature .*tampered\.caibx\.minisig by key/],
    ['unsigned', /unsigned\.caibx: not signed \(no .*unsigned\.caibx\.minisig\)/],
    ['foreign', /foreign\.caibx: signed by key [0-9A-F]{16}, which is not trusted/],
  ] as const) {
    const from = s.stderr().length;
    page = await browser.newPage();
    const r = await verifyInPage(page, s.url, `/${name}.caibx`, undefined, { key });
    assert.equal(r.status, 'failed', name);
    assert.match(r.error ?? '', message);
    assert.deepEqual(chunkRequests(s, from), [], `${name}: no chunk requested`);
    assert.equal(await page.isVisible('#error'), true);
    assert.equal(await page.isVisible('#signer'), false);
    await page.close();
  }

  // A local index with its .minisig, the key typed into the field.
  page = await browser.newPage();
  await page.goto(`${s.url}/_web/`);
  await page.fill('#store', `${s.url}/default.castr`);
  await page.fill('#key', key);
  await page.setInputFiles('#file', [p('good.caibx'), p('good.caibx.minisig')]);
  await page.waitForFunction(() => (window as { wasyncReport?: unknown }).wasyncReport);
  const local = await page.evaluate(() => (window as unknown as { wasyncReport: { status: string; signer?: unknown } }).wasyncReport);
  assert.equal(local.status, 'ok');
  assert.deepEqual(local.signer, { keyId, version: 12 });
  await page.close();
  // Without its .minisig it is refused.
  page = await browser.newPage();
  await page.goto(`${s.url}/_web/?key=${encodeURIComponent(key)}`);
  await page.fill('#store', `${s.url}/default.castr`);
  await page.setInputFiles('#file', [p('good.caibx')]);
  await page.waitForFunction(() => (window as { wasyncReport?: unknown }).wasyncReport);
  const alone = await page.evaluate(() => (window as unknown as { wasyncReport: { status: string; error?: string } }).wasyncReport);
  assert.equal(alone.status, 'failed');
  assert.match(alone.error ?? '', /good\.caibx: not signed/);
  await page.close();
});
