// The configuration file (--config, $XDG_CONFIG_HOME/wasync/config.json):
// per-store options take effect (a timeout and retries against a server that
// never answers, counted; a store's own concurrency; encryption keys for stores and trusted keys for
// indexes matched by glob; S3
// credentials against the real S3 server with none in the environment), the
// command line wins over the file, `wasync config` masks secrets, and a bad
// file is one line naming the file and the JSON path at fault.

import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { locationMatches, storeOptionsFor } from '../src/stores/config-match.ts';
import { parseConfig } from '../src/stores/store-config.ts';
import { ok, rand, requires, tempDir, wasync, wasyncAsync } from './helpers.ts';
import { faultyServer } from './http-fixtures.ts';
import { newBucket, s3Endpoint, stopS3 } from './s3-fixtures.ts';

const dir = tempDir();
const home = join(dir, 'xdg');
mkdirSync(join(home, 'wasync'), { recursive: true });
/** No S3 credentials and no configuration but what a test gives. */
const env = {
  XDG_CONFIG_HOME: home,
  S3_ACCESS_KEY: '',
  S3_SECRET_KEY: '',
  AWS_ACCESS_KEY_ID: '',
  AWS_SECRET_ACCESS_KEY: '',
  AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-credentials'),
  WASYNC_ENCRYPTION_KEY: '',
};
const KEY_A = 'a'.repeat(64);
const KEY_B = 'b'.repeat(64);

function configFile(name: string, json: unknown): string {
  const f = join(dir, name);
  writeFileSync(f, typeof json === 'string' ? json : JSON.stringify(json));
  return f;
}

const stderrLines = (s: string) => s.trim().split('\n');

describe('matching', () => {
  const parse = (json: unknown) => parseConfig(json, 'c.json', (p) => resolve('/work/dir', p));

  test('globs stop at "/", a trailing "/" is ignored, later entries win, paths are made absolute', () => {
    assert.ok(locationMatches('https://h/stores/*', 'https://h/stores/a'));
    assert.ok(!locationMatches('https://h/stores/*', 'https://h/stores/a/b'));
    assert.ok(locationMatches('https://h/s?', 'https://h/s1'));
    assert.ok(locationMatches('https://h/[ab]x', 'https://h/bx'));
    assert.ok(!locationMatches('https://h/[^ab]x', 'https://h/ax'));
    const c = parse({
      'store-options': {
        'https://h/*/': { timeout: '5s', 'error-retry': 1 },
        'https://h/special': { timeout: 1_500_000_000, concurrency: 2 },
        'stores/*': { 'rate-limit-bps': '1M' },
      },
    });
    assert.deepEqual(storeOptionsFor(c, 'https://h/plain'), { timeoutMs: 5000, retries: 1 });
    assert.deepEqual(storeOptionsFor(c, 'https://h/special'), { timeoutMs: 1500, retries: 1, concurrency: 2 });
    assert.deepEqual(storeOptionsFor(c, 'https://other/x'), {});
    assert.deepEqual(storeOptionsFor(c, '/work/dir/stores/local'), { rateLimitBps: 1 << 20 });
  });
});

// A server that takes requests and never answers them, counting them.
const requests: string[] = [];
const sockets = new Set<Socket>();
const silent = createServer((s) => {
  sockets.add(s);
  s.on('data', (b) => {
    for (const m of b.toString('latin1').matchAll(/^(GET|HEAD|PUT) (\S+)/gm)) requests.push(`${m[1]} ${m[2]}`);
  });
  s.on('error', () => {});
});
const silentPort = new Promise<number>((r) => silent.listen(0, '127.0.0.1', () => r((silent.address() as AddressInfo).port)));
after(() => {
  for (const s of sockets) s.destroy();
  silent.close();
});

describe('options taking effect', () => {
  test('a timeout and retries from the file: the verb fails after them, each attempt counted', async () => {
    const blob = join(dir, 'one-chunk');
    writeFileSync(blob, rand('config-timeout', 1000));
    ok(wasync(['make', `--store=${join(dir, 'local.castr')}`, join(dir, 'one.caibx'), blob], { env }));
    const port = await silentPort;
    const store = `http://127.0.0.1:${port}/silent/store`;
    const config = configFile('timeout.json', {
      'store-options': { [`http://127.0.0.1:${port}/silent/*`]: { timeout: '300ms', 'error-retry': 2, 'error-retry-base-interval': '10ms' } },
    });
    const r = await wasyncAsync(['--config', config, 'extract', `--store=${store}`, join(dir, 'one.caibx'), join(dir, 'one.out')], { env });
    assert.equal(r.status, 1, r.stderr + r.stdout);
    assert.equal(stderrLines(r.stderr).length, 1, r.stderr);
    assert.match(r.stderr.trim(), /no (answer|data) for 0\.3 s \(after 3 attempts\)$/);
    const gets = requests.filter((q) => q.startsWith('GET /silent/store/'));
    assert.equal(gets.length, 3, requests.join('\n'));
    // The first request a store gets is for its pack index (stores/pack-store.ts); the attempts are all of it.
    assert.equal(new Set(gets).size, 1);
  });

  test("a store's own concurrency bounds its requests in flight over all threads; --concurrency wins", async () => {
    const srv = join(dir, 'srv');
    mkdirSync(srv);
    const blob = join(dir, 'many-chunks');
    writeFileSync(blob, rand('config-concurrency', 3 << 20));
    ok(wasync(['make', `--store=${join(srv, 'store.castr')}`, join(dir, 'many.caibx'), blob], { env }));
    const run = async (extra: string[]) => {
      const server = await faultyServer(srv, { latencyMs: 30 });
      const config = configFile('concurrency.json', { 'store-options': { [`${server.url}/*`]: { concurrency: 2 } } });
      const out = join(dir, 'many.out');
      rmSync(out, { force: true });
      const r = await wasyncAsync(['--config', config, ...extra, 'extract', `--store=${server.url}/store.castr`, join(dir, 'many.caibx'), out], { env });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(readFileSync(out), readFileSync(blob));
      await server.close();
      return server.maxActive();
    };
    assert.ok((await run([])) <= 2);
    assert.ok((await run(['--concurrency=8'])) > 2);
  });

  test('encryption keys for stores matched by a path glob; --encryption-key wins over the file', () => {
    const blob = join(dir, 'enc-blob');
    writeFileSync(blob, rand('config-enc', 300_000));
    const stores = join(dir, 'stores');
    mkdirSync(stores);
    const right = configFile('enc.json', { 'store-options': { [`${stores}/*`]: { 'encryption-key': KEY_A } } });
    const wrong = configFile('enc-wrong.json', { 'store-options': { [`${stores}/*`]: { 'encryption-key': KEY_B } } });
    ok(wasync(['--config', right, 'make', `--store=${join(stores, 'e.castr')}`, join(dir, 'e.caibx'), blob], { env }), 'make');
    // The chunks are sealed: without the key they are not found.
    const plain = wasync(['extract', `--store=${join(stores, 'e.castr')}`, join(dir, 'e.caibx'), join(dir, 'e0.out')], { env });
    assert.equal(plain.status, 1);
    ok(wasync(['--config', right, 'extract', `--store=${join(stores, 'e.castr')}`, join(dir, 'e.caibx'), join(dir, 'e1.out')], { env }), 'extract');
    assert.deepEqual(readFileSync(join(dir, 'e1.out')), readFileSync(blob));
    assert.equal(wasync(['--config', wrong, 'extract', `--store=${join(stores, 'e.castr')}`, join(dir, 'e.caibx'), join(dir, 'e2.out')], { env }).status, 1);
    ok(wasync(['--config', wrong, `--encryption-key=${KEY_A}`, 'extract', `--store=${join(stores, 'e.castr')}`, join(dir, 'e.caibx'), join(dir, 'e3.out')], { env }), 'CLI key');
    assert.deepEqual(readFileSync(join(dir, 'e3.out')), readFileSync(blob));
    // The default place is read when no --config is given.
    writeFileSync(join(home, 'wasync', 'config.json'), readFileSync(right));
    try {
      ok(wasync(['extract', `--store=${join(stores, 'e.castr')}`, join(dir, 'e.caibx'), join(dir, 'e4.out')], { env }), 'default config');
    } finally {
      writeFileSync(join(home, 'wasync', 'config.json'), '{}');
    }
  });

  test('trusted keys for indexes matched by a glob: unsigned refused, signed read', () => {
    const signed = join(dir, 'signed');
    mkdirSync(signed);
    ok(wasync(['keygen', `--key=${join(dir, 'k.key')}`, '--without-password'], { env }));
    const blob = join(dir, 'sig-blob');
    writeFileSync(blob, rand('config-sig', 100_000));
    for (const name of ['a.caibx', 'b.caibx']) ok(wasync(['make', `--store=${join(dir, 'local.castr')}`, join(signed, name), blob], { env }));
    ok(wasync(['sign', `--key=${join(dir, 'k.key')}`, join(signed, 'a.caibx')], { env }));
    const config = configFile('trust.json', { 'store-options': { [`${signed}/*.caibx`]: { 'trusted-keys': [join(dir, 'k.pub')] } } });
    const run = (name: string) => wasync(['--config', config, 'extract', `--store=${join(dir, 'local.castr')}`, join(signed, name), join(dir, `${name}.out`)], { env });
    ok(run('a.caibx'), 'signed');
    assert.deepEqual(readFileSync(join(dir, 'a.caibx.out')), readFileSync(blob));
    const r = run('b.caibx');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /b\.caibx: not signed/);
  });

  describe('S3 credentials from the file (Swift s3api)', () => {
    let url: string | null = null;
    after(stopS3);
    before(async () => {
      url = await s3Endpoint();
      if (!url && process.env.CI === 'true') throw new Error('prerequisite missing in CI: an S3 server (scripts/s3-test-server.sh, Swift)');
    });

    test('with no S3_* in the environment the endpoint\'s credentials in the file sign the requests', (t) => {
      if (!requires(t, url !== null, 'an S3 server: Swift (scripts/s3-test-server.sh)')) return;
      const bucket = newBucket(url!);
      const blob = join(dir, 's3-blob');
      writeFileSync(blob, rand('config-s3', 1 << 20));
      const store = `s3+${url}/${bucket}/store`;
      const index = `s3+${url}/${bucket}/x.caibx`;
      const none = wasync(['make', `--store=${store}`, index, blob], { env });
      assert.equal(none.status, 1);
      assert.match(none.stderr, /no S3 credentials/);
      const port = new URL(url!).port;
      const config = configFile('s3.json', { 's3-credentials': { [`http://127.0.0.1:${port}`]: { 'access-key': 'test:tester', 'secret-key': 'testing', 'aws-region': 'us-east-1' } } });
      ok(wasync(['--config', config, 'make', `--store=${store}`, index, blob], { env }), 'make to S3');
      ok(wasync(['--config', config, 'extract', `--store=${store}`, index, join(dir, 's3.out')], { env }), 'extract from S3');
      assert.deepEqual(readFileSync(join(dir, 's3.out')), readFileSync(blob));
      // The environment wins: a wrong secret there is used, and refused.
      const wrong = wasync(['--config', config, 'extract', `--store=${store}`, index, join(dir, 's3-2.out')], { env: { ...env, S3_ACCESS_KEY: 'test:tester', S3_SECRET_KEY: 'wrong' } });
      assert.equal(wrong.status, 1);
      assert.match(wrong.stderr, /SignatureDoesNotMatch/);
    });
  });
});

describe('wasync config', () => {
  const config = configFile('show.json', {
    'store-options': {
      'https://h/*': { timeout: '10s', concurrency: 4, 'encryption-key': KEY_A, 'trusted-keys': ['/keys/a.pub'] },
    },
    's3-credentials': { 'https://s3.example': { 'access-key': 'AKID', 'secret-key': 'very-secret', 'session-token': 'tok' } },
  });

  test('prints the file with secrets masked, and a location\'s options with the command line winning', () => {
    const all = ok(wasync(['--config', config, 'config'], { env })).stdout;
    assert.ok(!all.includes(KEY_A) && !all.includes('very-secret') && !all.includes('"tok"'), all);
    const j = JSON.parse(all);
    assert.deepEqual(j['s3-credentials']['https://s3.example'], { 'access-key': 'AKID', 'secret-key': '***', 'session-token': '***' });
    assert.equal(j['store-options']['https://h/*']['encryption-key'], '***');
    assert.equal(j.defaults.timeout, '30s');
    const one = JSON.parse(ok(wasync(['--config', config, '--concurrency=9', 'config', 'https://h/store/'], { env })).stdout);
    assert.deepEqual(one, {
      'config-file': config,
      location: 'https://h/store',
      timeout: '10s',
      'error-retry': 5,
      'error-retry-base-interval': '200ms',
      concurrency: 9,
      'encryption-key': '***',
      'trusted-keys': ['/keys/a.pub'],
    });
  });

  test('a bad file is one line naming the file and the JSON path', () => {
    const cases: [unknown, RegExp][] = [
      ['{ "store-options": ', /: not valid JSON: /],
      [[], /: \(top level\): expected an object$/],
      [{ stores: {} }, /: stores: not a section wasync knows/],
      [{ 'store-options': { 'https://h/*': { timeout: 'soon' } } }, /: store-options\["https:\/\/h\/\*"\]\.timeout: expected a duration/],
      [{ 'store-options': { 'https://h/*': { 'error-retry': -1 } } }, /: store-options\["https:\/\/h\/\*"\]\.error-retry: expected a whole number/],
      [{ 'store-options': { 'https://h/*': { timout: '1s' } } }, /: store-options\["https:\/\/h\/\*"\]\.timout: not an option wasync knows/],
      [{ 'store-options': { 'https://h/*': { 'encryption-key': 'abc' } } }, /\.encryption-key: expected 64 hex digits/],
      [{ 'store-options': { 'https://h/*': { uncompressed: true } } }, /\.uncompressed: desync's option is not supported by wasync$/],
      [{ 'store-options': { 'https://h/[a': {} } }, /: store-options\["https:\/\/h\/\[a"\]: unterminated \[/],
      [{ 's3-credentials': { 'https://s3': { 'access-key': 'x' } } }, /: s3-credentials\["https:\/\/s3"\]: give access-key and secret-key together$/],
    ];
    cases.forEach(([json, want], i) => {
      const f = configFile(`bad-${i}.json`, json);
      // Any verb fails on it, before doing anything.
      const r = wasync(['--config', f, 'list', join(dir, 'none.caidx')], { env });
      assert.equal(r.status, 1, `${f}: ${r.stderr}`);
      const lines = stderrLines(r.stderr);
      assert.equal(lines.length, 1, r.stderr);
      assert.ok(lines[0].startsWith(`wasync: ${f}: `), lines[0]);
      assert.match(lines[0], want);
    });
    const missing = wasync(['--config', join(dir, 'absent.json'), 'config'], { env });
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /absent\.json: cannot read: ENOENT/);
  });
});
