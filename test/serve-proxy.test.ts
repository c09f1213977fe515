// wasync serve as a caching proxy (--upstream, --cache) and over HTTPS with
// mutual TLS: casync extracts through a proxy in front of S3; wasync through
// one in front of a local and an HTTP store, filling the cache; a corrupt
// upstream chunk is refused, never served nor cached; concurrent requests for
// one chunk fetch it once; certificates made here with openssl (a CA, a
// server certificate for 127.0.0.1, client certificates) are trusted with
// --ca-cert, asked for with --client-ca, shown with --client-cert.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { casync, haveCasync, ok, rand, requires, storeChunks, tempDir, wasync, wasyncAsync } from './helpers.ts';
import { faultyServer, startServe } from './http-fixtures.ts';
import { S3_KEYS, newBucket, s3Endpoint, stopS3 } from './s3-fixtures.ts';

const inCI = process.env.CI === 'true';
let s3: string | null = null;
after(stopS3);
before(async () => {
  s3 = await s3Endpoint();
  if (!s3 && inCI) throw new Error('prerequisite missing in CI: an S3 server (scripts/s3-test-server.sh, Swift)');
});

const haveOpenssl = spawnSync('openssl', ['version']).status === 0;
const dir = tempDir('wasync-serve-proxy-');
const p = (...parts: string[]) => join(dir, ...parts);

/** `wasync serve ARGS… --listen=127.0.0.1:0` (DIR, when given, among ARGS), once it listens. */
const serve = (args: string[], env: NodeJS.ProcessEnv = {}) => startServe(null, args, env);

/** A blob made into `store` with its index at `index`. */
function made(name: string, size: number, store: string, env: NodeJS.ProcessEnv = {}) {
  const blob = p(`${name}.img`);
  writeFileSync(blob, rand(name, size));
  ok(wasync(['make', `--store=${store}`, p(`${name}.caibx`), blob], { env }), `make ${name}`);
  return { blob, index: p(`${name}.caibx`) };
}

const chunkPath = (id: string) => `${id.slice(0, 4)}/${id}.cacnk`;

describe('serve --upstream', () => {
  test('in front of S3, read by casync over plain HTTP: byte-exact', async (t) => {
    if (!requires(t, s3 !== null, 'an S3 server (Swift s3api)')) return;
    if (!requires(t, haveCasync, 'casync')) return;
    const bucket = newBucket(s3!);
    const store = `s3+${s3}/${bucket}/store`;
    const { blob, index } = made('s3', 2 << 20, store, S3_KEYS);
    const proxy = await serve([`--upstream=${store}`], S3_KEYS);
    const out = p('s3.out');
    ok(casync(['extract', `--store=${proxy.url}/`, index, out]), 'casync extract through the proxy');
    assert.ok(readFileSync(out).equals(readFileSync(blob)));
  });

  test('in front of a local and an HTTP store: the chain in order, the cache filled, then used', async () => {
    mkdirSync(p('near.castr'));
    const { blob, index } = made('chain', 1 << 20, p('far.castr'));
    // Half the chunks in the local upstream, all of them behind HTTP.
    const ids = storeChunks(p('far.castr')).map((f) => f.slice(0, 64));
    for (const id of ids.slice(0, ids.length >> 1)) {
      mkdirSync(p('near.castr', id.slice(0, 4)), { recursive: true });
      writeFileSync(p('near.castr', chunkPath(id)), readFileSync(p('far.castr', chunkPath(id))));
    }
    const far = await faultyServer(p('far.castr'));
    const proxy = await serve([`--upstream=${p('near.castr')}`, `--upstream=${far.url}`, `--cache=${p('cache')}`]);
    ok(await wasyncAsync(['extract', `--store=${proxy.url}/`, index, p('chain.out')]), 'extract through the proxy');
    assert.ok(readFileSync(p('chain.out')).equals(readFileSync(blob)));
    assert.equal(far.total(), ids.length - (ids.length >> 1), 'the HTTP store is asked only for what the local one lacks');
    assert.deepEqual(storeChunks(p('cache')), storeChunks(p('far.castr')), 'every chunk kept in the cache');
    assert.ok(!readdirSync(p('cache')).some((d) => readdirSync(p('cache', d)).some((f) => f.endsWith('.tmp'))), 'no temporary file');
    ok(await wasyncAsync(['extract', `--store=${proxy.url}/default.castr`, index, p('chain2.out')]), 'again, under another prefix');
    assert.ok(readFileSync(p('chain2.out')).equals(readFileSync(blob)));
    assert.equal(far.total(), ids.length - (ids.length >> 1), 'the second extraction came from the cache');
    // HEAD answers with the chunk's size, from the cache or upstream.
    const h = await fetch(`${proxy.url}/${chunkPath(ids[0])}`, { method: 'HEAD' });
    assert.equal(h.status, 200);
    assert.equal(h.headers.get('content-length'), String(readFileSync(p('far.castr', chunkPath(ids[0]))).length));
    assert.equal((await fetch(`${proxy.url}/${chunkPath('ab'.repeat(32))}`, { method: 'HEAD' })).status, 404);
  });

  test('a corrupt upstream chunk is refused (502, logged with chunk and store), the next store used', async () => {
    made('bad', 200_000, p('bad.castr'));
    const [id] = storeChunks(p('bad.castr')).map((f) => f.slice(0, 64));
    const bad = await faultyServer(p('bad.castr'), { corrupt: () => true });
    const proxy = await serve([`--upstream=${bad.url}`, `--cache=${p('bad-cache')}`]);
    const r = await fetch(`${proxy.url}/${chunkPath(id)}`);
    assert.equal(r.status, 502);
    assert.match(await r.text(), new RegExp(`chunk ${id} from ${bad.url}/${chunkPath(id)} is corrupt`));
    assert.match(proxy.stderr(), new RegExp(`wasync: upstream refused: chunk ${id} from ${bad.url}\\S+ is corrupt`));
    assert.deepEqual(storeChunks(p('bad-cache')), [], 'nothing cached');
    // With a good copy after it, that one is served.
    const good = await faultyServer(p('bad.castr'));
    const both = await serve([`--upstream=${bad.url}`, `--upstream=${good.url}`]);
    const r2 = await fetch(`${both.url}/${chunkPath(id)}`);
    assert.equal(r2.status, 200);
    assert.ok(Buffer.from(await r2.arrayBuffer()).equals(readFileSync(p('bad.castr', chunkPath(id)))));
  });

  test('concurrent requests for one chunk fetch it upstream once', async () => {
    made('once', 100_000, p('once.castr'));
    const [id] = storeChunks(p('once.castr')).map((f) => f.slice(0, 64));
    // The upstream answers late, so the requests overlap while its first answer is due.
    const slow = await faultyServer(p('once.castr'), { latencyMs: 500 });
    const proxy = await serve([`--upstream=${slow.url}`]);
    const answers = await Promise.all(Array.from({ length: 6 }, () => fetch(`${proxy.url}/${chunkPath(id)}`).then(async (r) => [r.status, Buffer.from(await r.arrayBuffer())] as const)));
    for (const [status, body] of answers) {
      assert.equal(status, 200);
      assert.ok(body.equals(readFileSync(p('once.castr', chunkPath(id)))));
    }
    assert.equal(slow.requests.get(`/${chunkPath(id)}`), 1);
  });
});

describe('serve over HTTPS, mutual TLS', () => {
  const tls = p('tls');
  const openssl = (...args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: tls, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
  };
  /** A key and a certificate signed by `ca` with these extensions. */
  const issue = (name: string, ca: string, ext: string) => {
    openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    writeFileSync(join(tls, `${name}.ext`), `${ext}\n`);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`);
  };
  const f = (name: string) => join(tls, name);
  before(() => {
    if (!haveOpenssl) return;
    mkdirSync(tls);
    for (const ca of ['ca', 'other-ca']) openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${ca}.key`, '-out', `${ca}.pem`, '-days', '2', '-subj', `/CN=${ca}`);
    issue('server', 'ca', 'subjectAltName=IP:127.0.0.1');
    issue('client', 'ca', 'extendedKeyUsage=clientAuth');
    issue('stranger', 'other-ca', 'extendedKeyUsage=clientAuth');
  });

  test('extract over https with --ca-cert; without it one line says what to pass', async (t) => {
    if (!requires(t, haveOpenssl, 'openssl')) return;
    // 17 MiB: extraction runs on worker threads, which get the TLS settings in their store graph.
    mkdirSync(p('srv'));
    const { blob, index } = made('tls', 17 << 20, p('srv', 'default.castr'));
    const server = await serve([p('srv'), `--cert=${f('server.pem')}`, `--key=${f('server.key')}`]);
    assert.match(server.url, /^https:/);
    ok(await wasyncAsync(['extract', `--ca-cert=${f('ca.pem')}`, `--store=${server.url}/default.castr`, index, p('tls.out')]), 'extract over https');
    assert.ok(readFileSync(p('tls.out')).equals(readFileSync(blob)));
    const r = await wasyncAsync(['extract', `--store=${server.url}/default.castr`, index, p('tls2.out')]);
    assert.equal(r.status, 1);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /^wasync: https:\/\/127\.0\.0\.1:\d+\/default\.castr\/\S+: the certificate of 127\.0\.0\.1:\d+ is not trusted \(\w+\): pass --ca-cert=FILE/);
  });

  test('--client-ca: a client certificate signed by that CA is accepted, none or another refused', async (t) => {
    if (!requires(t, haveOpenssl, 'openssl')) return;
    mkdirSync(p('msrv'));
    const { blob, index } = made('mtls', 300_000, p('msrv', 'default.castr'));
    const server = await serve([p('msrv'), `--cert=${f('server.pem')}`, `--key=${f('server.key')}`, `--client-ca=${f('ca.pem')}`, '-v']);
    const store = `--store=${server.url}/default.castr`;
    const client = [`--client-cert=${f('client.pem')}`, `--client-key=${f('client.key')}`];
    ok(await wasyncAsync(['extract', `--ca-cert=${f('ca.pem')}`, ...client, store, index, p('mtls.out')]), 'extract with a client certificate');
    assert.ok(readFileSync(p('mtls.out')).equals(readFileSync(blob)));
    const none = await wasyncAsync(['extract', `--ca-cert=${f('ca.pem')}`, store, index, p('mtls2.out')]);
    assert.equal(none.status, 1);
    assert.match(none.stderr, /^wasync: https:\S+: 127\.0\.0\.1:\d+ refused the TLS connection \(\w+\): the server wants a client certificate: pass --client-cert=FILE --client-key=FILE\n$/);
    const stranger = await wasyncAsync(['extract', `--ca-cert=${f('ca.pem')}`, `--client-cert=${f('stranger.pem')}`, `--client-key=${f('stranger.key')}`, store, index, p('mtls3.out')]);
    assert.equal(stranger.status, 1);
    // Node's server closes the connection without an alert for a certificate of an unknown CA: the client says what it can.
    assert.match(stranger.stderr, /^wasync: https:\S+: (GET: )?(\S+ refused the TLS connection \(\w+\): the server does not accept|(ECONNRESET \()?socket hang up before an answer: the server may not accept) the certificate given with --client-cert.*\n$/);
    assert.match(server.stderr(), /TLS handshake with \S+ failed/);
    // A plain-HTTP proxy whose upstream is this server: serve's own fetches show the client certificate.
    const proxy = await serve([`--upstream=${server.url}/default.castr`, `--ca-cert=${f('ca.pem')}`, ...client]);
    ok(await wasyncAsync(['extract', `--store=${proxy.url}/`, index, p('mtls4.out')]), 'extract through the proxy');
    assert.ok(readFileSync(p('mtls4.out')).equals(readFileSync(blob)));
  });

  test("a store's ca-cert, client-cert and client-key from the configuration file, on worker threads too; the command line wins", async (t) => {
    if (!requires(t, haveOpenssl, 'openssl')) return;
    mkdirSync(p('csrv'));
    const { blob, index } = made('ctls', 17 << 20, p('csrv', 'default.castr'));
    const server = await serve([p('csrv'), `--cert=${f('server.pem')}`, `--key=${f('server.key')}`, `--client-ca=${f('ca.pem')}`]);
    const config = p('tls-config.json');
    writeFileSync(config, JSON.stringify({ 'store-options': { [`${server.url}/*`]: { 'ca-cert': f('ca.pem'), 'client-cert': f('client.pem'), 'client-key': f('client.key') } } }));
    const store = `--store=${server.url}/default.castr`;
    ok(await wasyncAsync(['--config', config, 'extract', store, index, p('ctls.out')]), 'extract with the configured TLS files');
    assert.ok(readFileSync(p('ctls.out')).equals(readFileSync(blob)));
    // --client-cert on the command line replaces the file's: the stranger's certificate is refused.
    const r = await wasyncAsync(['--config', config, 'extract', `--ca-cert=${f('ca.pem')}`, `--client-cert=${f('stranger.pem')}`, `--client-key=${f('stranger.key')}`, store, index, p('ctls2.out')]);
    assert.equal(r.status, 1, r.stderr);
  });

  test('refused at option check: --client-ca without --cert, --cert without --key, a key not the certificate\'s', (t) => {
    if (!requires(t, haveOpenssl, 'openssl')) return;
    const cases: [string[], RegExp][] = [
      [['serve', p('srv'), `--client-ca=${f('ca.pem')}`], /^wasync: --client-ca=\S+ needs --cert=FILE and --key=FILE/],
      [['serve', p('srv'), `--cert=${f('server.pem')}`], /^wasync: --cert=\S+ needs --key=FILE/],
      [['serve', p('srv'), `--cert=${f('server.pem')}`, `--key=${f('client.key')}`], /^wasync: --cert=\S+ --key=\S+: .*(key values mismatch|KEY_VALUES_MISMATCH)/i],
      [['--client-cert', f('client.pem'), 'list', 'x.caidx'], /^wasync: --client-cert and --client-key: give both/],
      [['--ca-cert', p('nonexistent.pem'), 'list', 'x.caidx'], /^wasync: --ca-cert=\S+: cannot read: ENOENT/],
    ];
    for (const [args, re] of cases) {
      const r = wasync(args);
      assert.equal(r.status, 1, args.join(' '));
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  });
});
