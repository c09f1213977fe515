// OCI registry stores against real registries (Debian's docker-registry, the
// distribution server; scripts/oci-test-registry.sh): make writes desync's
// layout (tags, manifest media types, blobs that are the .cacnk files),
// extract is byte-exact for blobs and trees, indexes live in the repository,
// verify and gc work, a failover group goes past a dead registry, basic
// authentication takes the locator's user part, the environment or docker's
// config, bearer tokens come from the registry's token service (a real
// distribution server checking tokens of oci-token-server.ts), and every
// failure is one line naming registry, repository and tag.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROOT, ok, rand, requires, storeChunks, tempDir, wasync, wasyncAsync } from './helpers.ts';
import { deadPort } from './s3-fixtures.ts';
import { startTokenServer } from './oci-token-server.ts';
import { parseOciLocator } from '../src/stores/oci-location.ts';
import { defaultStoreFor } from '../src/stores/locator.ts';

const inCI = process.env.CI === 'true';
const SCRIPT = join(ROOT, 'scripts', 'oci-test-registry.sh');
let anon: string | null = process.env.WASYNC_TEST_OCI ?? null;
let basic: string | null = process.env.WASYNC_TEST_OCI_BASIC ?? null;
let token: string | null = process.env.WASYNC_TEST_OCI_TOKEN ?? null;
let realm: string | null = process.env.WASYNC_TEST_OCI_TOKEN_REALM ?? null;
let keys: string | null = process.env.WASYNC_TEST_OCI_DIR ?? null;
let started: string | null = null;

before(() => {
  if (!anon && spawnSync('sh', ['-c', 'command -v docker-registry']).status === 0) {
    const out = execFileSync(SCRIPT, ['start'], { encoding: 'utf8', timeout: 60_000 });
    anon = /WASYNC_TEST_OCI=([^;\s]+)/.exec(out)?.[1] ?? null;
    basic = /WASYNC_TEST_OCI_BASIC=([^;\s]+)/.exec(out)?.[1] ?? null;
    token = /WASYNC_TEST_OCI_TOKEN=([^;\s]+)/.exec(out)?.[1] ?? null;
    realm = /WASYNC_TEST_OCI_TOKEN_REALM=([^;\s]+)/.exec(out)?.[1] ?? null;
    started = keys = /WASYNC_TEST_OCI_DIR=([^;\s]+)/.exec(out)?.[1] ?? null;
  }
  if (!anon && inCI) throw new Error('prerequisite missing in CI: an OCI registry (scripts/oci-test-registry.sh, docker-registry)');
});
after(() => {
  if (started) spawnSync(SCRIPT, ['stop', started]);
});

let repoCount = 0;
/** A fresh repository's locator on the registry at `http` (anonymous by default). */
const repo = (http = anon!, auth = '') => `oci+${http.replace('://', `://${auth}`)}/wasync/r${process.pid}x${repoCount++}`;
const api = (loc: string) => loc.replace(/^oci\+(https?:\/\/)(?:[^@/]*@)?([^/]+)\//, '$1$2/v2/');
const getJson = async (url: string, accept = 'application/vnd.oci.image.manifest.v1+json') => (await fetch(url, { headers: { accept } })).json();
const oneLine = (s: string) => s.trim().split('\n');
const have = (t: Parameters<typeof requires>[0]) => requires(t, anon !== null, 'an OCI registry: docker-registry (apt-get install docker-registry)');

describe('OCI registry stores (distribution)', () => {
  test('make to a repository and extract: byte-exact, desync layout, the index a tagged artifact', async (t) => {
    if (!have(t)) return;
    const dir = tempDir();
    const r = repo();
    const blob = join(dir, 'blob');
    writeFileSync(blob, rand('oci-make', 3 << 20));
    ok(wasync(['make', `--store=${r}`, `${r}/x.caibx`, blob]), 'make to OCI');
    ok(wasync(['make', `--store=${join(dir, 'local.castr')}`, join(dir, 'x.caibx'), blob]), 'make local');
    const chunks = storeChunks(join(dir, 'local.castr'));
    const tags = ((await getJson(`${api(r)}/tags/list`)) as { tags: string[] }).tags;
    assert.deepEqual(tags.sort(), [...chunks, 'x.caibx'].sort());
    // A chunk is desync's artifact: empty config, one blob that is the .cacnk, titled with the tag.
    const m = (await getJson(`${api(r)}/manifests/${chunks[0]}`)) as Record<string, any>;
    assert.equal(m.schemaVersion, 2);
    assert.equal(m.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(m.artifactType, 'application/vnd.desync.chunk.v1');
    assert.deepEqual(m.config, { mediaType: 'application/vnd.oci.empty.v1+json', digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', size: 2 });
    assert.equal(m.layers.length, 1);
    assert.equal(m.layers[0].mediaType, 'application/octet-stream');
    assert.deepEqual(m.annotations, { 'org.opencontainers.image.title': chunks[0] });
    const stored = Buffer.from(await (await fetch(`${api(r)}/blobs/${m.layers[0].digest}`)).arrayBuffer());
    assert.deepEqual(stored, readFileSync(join(dir, 'local.castr', chunks[0].slice(0, 4), chunks[0])));
    const im = (await getJson(`${api(r)}/manifests/x.caibx`)) as Record<string, any>;
    assert.equal(im.artifactType, 'application/vnd.wasync.file.v1');
    const index = Buffer.from(await (await fetch(`${api(r)}/blobs/${im.layers[0].digest}`)).arrayBuffer());
    assert.deepEqual(index, readFileSync(join(dir, 'x.caibx')));
    // The store beside an index in a repository is the repository.
    ok(wasync(['extract', `${r}/x.caibx`, join(dir, 'out')]), 'extract from OCI');
    assert.deepEqual(readFileSync(join(dir, 'out')), readFileSync(blob));
    ok(wasync(['extract', `--store=${join(dir, 'local.castr')}`, `${r}/x.caibx`, join(dir, 'out2')]));
    assert.deepEqual(readFileSync(join(dir, 'out2')), readFileSync(blob));
    // A second make asks first and uploads nothing.
    const again = ok(wasync(['make', '--verbose', `--store=${r}`, `${r}/x.caibx`, blob]));
    assert.match(again.stderr + again.stdout, /Stored 0 new chunks/);
  });

  test('a directory as a .caidx in the repository, extracted from it', async (t) => {
    if (!have(t)) return;
    const dir = tempDir();
    const r = repo();
    const tree = join(dir, 'tree');
    mkdirSync(join(tree, 'sub'), { recursive: true });
    writeFileSync(join(tree, 'a'), rand('oci-tree-a', 300_000));
    writeFileSync(join(tree, 'sub', 'b'), 'hello\n');
    ok(wasync(['make', `--store=${r}`, `${r}/t.caidx`, tree]), 'make caidx');
    ok(wasync(['extract', `--store=${r}`, `${r}/t.caidx`, join(dir, 'out')]), 'extract caidx');
    assert.deepEqual(readFileSync(join(dir, 'out', 'a')), readFileSync(join(tree, 'a')));
    assert.equal(readFileSync(join(dir, 'out', 'sub', 'b'), 'utf8'), 'hello\n');
  });

  test('verify and gc on a repository; an encrypted store tags sealed chunks as desync does', async (t) => {
    if (!have(t)) return;
    const dir = tempDir();
    const r = repo();
    writeFileSync(join(dir, 'a'), rand('oci-gc-a', 600_000));
    writeFileSync(join(dir, 'b'), rand('oci-gc-b', 600_000));
    ok(wasync(['make', `--store=${r}`, join(dir, 'a.caibx'), join(dir, 'a')]));
    ok(wasync(['make', `--store=${r}`, join(dir, 'b.caibx'), join(dir, 'b')]));
    ok(wasync(['verify', `--store=${r}`, join(dir, 'a.caibx')]), 'verify');
    const before = ((await getJson(`${api(r)}/tags/list`)) as { tags: string[] }).tags.length;
    ok(wasync(['gc', `--store=${r}`, join(dir, 'a.caibx')]), 'gc');
    const left = ((await getJson(`${api(r)}/tags/list`)) as { tags: string[] }).tags.length;
    assert.ok(left < before, `${left} < ${before}`);
    ok(wasync(['verify', `--store=${r}`, join(dir, 'a.caibx')]), 'verify after gc');
    const v = wasync(['verify', `--store=${r}`, join(dir, 'b.caibx')]);
    assert.notEqual(v.status, 0);
    const key = `--encryption-key=${'ab'.repeat(32)}`;
    const e = repo();
    ok(wasync(['make', key, `--store=${e}`, join(dir, 'e.caibx'), join(dir, 'a')]), 'make encrypted');
    const sealed = ((await getJson(`${api(e)}/tags/list`)) as { tags: string[] }).tags;
    assert.ok(sealed.every((tag) => /^[0-9a-f]{64}\.cacnk\.xchacha20-poly1305-[0-9a-f]+$/.test(tag)), sealed.join(' '));
    ok(wasync(['extract', key, `--store=${e}`, join(dir, 'e.caibx'), join(dir, 'out')]), 'extract encrypted');
    assert.deepEqual(readFileSync(join(dir, 'out')), readFileSync(join(dir, 'a')));
  });

  test('a failover group with a dead registry: dead|live goes on to live', async (t) => {
    if (!have(t)) return;
    const dir = tempDir();
    const r = repo();
    writeFileSync(join(dir, 'blob'), rand('oci-failover', 1 << 20));
    ok(wasync(['make', `--store=${r}`, join(dir, 'x.caibx'), join(dir, 'blob')]));
    const dead = `oci+http://127.0.0.1:${await deadPort()}/wasync/dead`;
    const x = await wasyncAsync(['extract', `--store=${dead}|${r}`, join(dir, 'x.caibx'), join(dir, 'out')]);
    assert.equal(x.status, 0, x.stderr);
    assert.deepEqual(readFileSync(join(dir, 'out')), readFileSync(join(dir, 'blob')));
  });

  test('basic authentication: the locator, DESYNC_OCI_*, docker config; refusals are one line', async (t) => {
    if (!requires(t, basic !== null, 'an OCI registry with basic authentication (scripts/oci-test-registry.sh)')) return;
    const dir = tempDir();
    writeFileSync(join(dir, 'blob'), rand('oci-basic', 500_000));
    const r = repo(basic!);
    const none = { DESYNC_OCI_USERNAME: '', DESYNC_OCI_PASSWORD: '', DOCKER_CONFIG: join(dir, 'no-docker') };
    const env = { ...none, DESYNC_OCI_USERNAME: 'wasync', DESYNC_OCI_PASSWORD: 'wasync-secret' };
    ok(wasync(['make', `--store=${r}`, `${r}/x.caibx`, join(dir, 'blob')], { env }), 'make with DESYNC_OCI_*');
    const withUser = r.replace('://', '://wasync:wasync-secret@');
    ok(wasync(['extract', `${withUser}/x.caibx`, join(dir, 'o1')], { env: none }), 'extract with user:password@');
    mkdirSync(join(dir, 'docker'));
    const host = new URL(basic!).host;
    writeFileSync(join(dir, 'docker', 'config.json'), JSON.stringify({ auths: { [host]: { auth: Buffer.from('wasync:wasync-secret').toString('base64') } } }));
    ok(wasync(['extract', `${r}/x.caibx`, join(dir, 'o2')], { env: { ...none, DOCKER_CONFIG: join(dir, 'docker') } }), 'extract with docker config');
    assert.deepEqual(readFileSync(join(dir, 'o2')), readFileSync(join(dir, 'blob')));
    const cases: [string, string, Record<string, string>, RegExp][] = [
      ['no credentials', `${r}/x.caibx`, none, /repository wasync\/r\d+x\d+, tag x\.caibx: the registry asks for a user name and password/],
      ['wrong password', `${r.replace('://', '://wasync:wrong@')}/x.caibx`, none, /tag x\.caibx: GET manifest answered 401 UNAUTHORIZED \(the registry refused the credentials\)/],
      ['password alone', `${r}/x.caibx`, { ...none, DESYNC_OCI_PASSWORD: 'x' }, /DESYNC_OCI_PASSWORD is set without DESYNC_OCI_USERNAME/],
      ['missing index, user:password@', `${withUser}/absent.caibx`, none, /wasync:\*\*\*@.*absent\.caibx: not found/],
    ];
    for (const [what, index, e, re] of cases) {
      const x = wasync(['extract', index, join(dir, 'no')], { env: e });
      assert.equal(x.status, 1, `${what}: ${x.stderr}`);
      assert.equal(oneLine(x.stderr).length, 1, `${what}: ${x.stderr}`);
      assert.match(x.stderr, re, what);
      assert.doesNotMatch(x.stderr, /wrong|wasync-secret/, `${what}: no password in messages`);
    }
  });

  test('bearer tokens: make, extract, verify and gc through a token service; its refusals are one line', async (t) => {
    if (!requires(t, token !== null && realm !== null && keys !== null, 'an OCI registry with token authentication (scripts/oci-test-registry.sh)')) return;
    const service = await startTokenServer(realm!, keys!, 'wasync', 'token-secret');
    t.after(() => service.close());
    const dir = tempDir();
    writeFileSync(join(dir, 'blob'), rand('oci-bearer', 2 << 20));
    const r = repo(token!);
    const env = { DESYNC_OCI_USERNAME: 'wasync', DESYNC_OCI_PASSWORD: 'token-secret', DOCKER_CONFIG: join(dir, 'no-docker') };
    ok(await wasyncAsync(['make', `--store=${r}`, `${r}/x.caibx`, join(dir, 'blob')], { env: { ...process.env, ...env } }), 'make with a token');
    const repoName = r.replace(/^.*?\/\/[^/]+\//, '');
    assert.ok(service.requests.length > 0 && service.requests.every((q) => q.granted && q.service === 'wasync-test' && q.user === 'wasync'), JSON.stringify(service.requests));
    assert.ok(service.requests.some((q) => q.scopes.includes(`repository:${repoName}:pull,push`)), 'a push token was asked for');
    assert.ok(service.requests.length <= 4, `a token per operation and scope, not per chunk: ${JSON.stringify(service.requests.map((q) => q.scopes))}`);
    const withUser = r.replace('://', '://wasync:token-secret@');
    ok(await wasyncAsync(['extract', `${withUser}/x.caibx`, join(dir, 'o')], { env: { ...process.env, DOCKER_CONFIG: join(dir, 'no-docker') } }), 'extract with user:password@');
    assert.deepEqual(readFileSync(join(dir, 'o')), readFileSync(join(dir, 'blob')));
    ok(await wasyncAsync(['verify', `--store=${r}`, `${r}/x.caibx`], { env: { ...process.env, ...env } }), 'verify with a token');
    writeFileSync(join(dir, 'other'), rand('oci-bearer-other', 300_000));
    const empty = join(dir, 'other.caibx');
    ok(wasync(['make', `--store=${join(dir, 'scratch.castr')}`, empty, join(dir, 'other')]));
    const gc = ok(await wasyncAsync(['gc', '-v', `--store=${r}`, empty], { env: { ...process.env, ...env } }), 'gc with a token');
    assert.match(gc.stderr + gc.stdout, /[1-9]\d* /, gc.stderr);
    assert.ok(service.requests.some((q) => q.scopes.some((s) => s.endsWith(':delete') || s.includes('delete'))), `gc asked for delete: ${JSON.stringify(service.requests.map((q) => q.scopes))}`);
    const gone = await wasyncAsync(['extract', `--store=${r}`, `${r}/x.caibx`, join(dir, 'o2')], { env: { ...process.env, ...env } });
    assert.equal(gone.status, 1, 'gc removed the chunks the kept index does not name');
    for (const [what, e, re] of [
      ['wrong password', { ...env, DESYNC_OCI_PASSWORD: 'wrong' }, /tag x\.caibx: the token service http:\/\/127\.0\.0\.1:\d+\/token answered 401 \(it refused the credentials\)/],
      ['no credentials', { ...env, DESYNC_OCI_USERNAME: '', DESYNC_OCI_PASSWORD: '' }, /the token service .* answered 401 \(set DESYNC_OCI_USERNAME and DESYNC_OCI_PASSWORD/],
    ] as const) {
      const x = await wasyncAsync(['extract', `${r}/x.caibx`, join(dir, 'no')], { env: { ...process.env, ...e } });
      assert.equal(x.status, 1, `${what}: ${x.stderr}`);
      assert.equal(oneLine(x.stderr).length, 1, `${what}: ${x.stderr}`);
      assert.match(x.stderr, re, what);
      assert.doesNotMatch(x.stderr, /wrong|token-secret/, `${what}: no password in messages`);
    }
  });

  test('an unknown repository and a missing index: one line naming registry, repository and tag', async (t) => {
    if (!have(t)) return;
    const dir = tempDir();
    const r = repo();
    writeFileSync(join(dir, 'blob'), rand('oci-errors', 200_000));
    ok(wasync(['make', `--store=${r}`, `${r}/x.caibx`, join(dir, 'blob')]));
    const host = new URL(anon!).host.replace(/\./g, '\\.');
    const unknown = wasync(['extract', `--store=${repo()}`, `${r}/x.caibx`, join(dir, 'o')]);
    assert.equal(unknown.status, 1);
    assert.equal(oneLine(unknown.stderr).length, 1, unknown.stderr);
    assert.match(unknown.stderr, new RegExp(`OCI registry ${host}, repository wasync/r\\d+x\\d+, tag [0-9a-f]{64}\\.cacnk: .*NAME_UNKNOWN \\(the repository does not exist\\)`));
    const missing = wasync(['extract', `${r}/y.caibx`, join(dir, 'o')]);
    assert.equal(missing.status, 1);
    assert.equal(oneLine(missing.stderr).length, 1, missing.stderr);
    assert.match(missing.stderr, /y\.caibx: not found/);
  });
});

describe('OCI locators', () => {
  test('repository, tag and credentials taken apart; bad names refused', () => {
    const l = parseOciLocator('oci+https://u:p%40ss@ghcr.io:443/me/store/x.caibx');
    assert.deepEqual([l.registry, l.host, l.repo, l.tag, l.credentials], ['https://ghcr.io:443', 'ghcr.io:443', 'me/store', 'x.caibx', { username: 'u', password: 'p@ss' }]);
    assert.equal(parseOciLocator('oci+http://127.0.0.1:5000/test/my.store').tag, null);
    assert.throws(() => parseOciLocator('oci+http://host'), /no repository/);
    assert.throws(() => parseOciLocator('oci+http://host/Upper/store'), /not a valid OCI repository name/);
    assert.equal(defaultStoreFor('oci+http://host/a/b/x.caibx'), 'oci+http://host/a/b');
  });
});
