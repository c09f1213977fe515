// S3 stores, indexes and archives against a real S3 server (Swift's s3api,
// s3-fixtures.ts), with boto3 as the independent client: make writes desync's
// layout, extract is byte-exact, verify and gc work on a bucket, the errors
// of a wrong secret, a denied user and a missing bucket are one line naming
// bucket and key, and a failover group goes past a dead member.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ok, rand, requires, storeChunks, tempDir, wasync, wasyncAsync } from './helpers.ts';
import { startMkdev } from './nbd-fixtures.ts';
import { S3_KEYS, boto, deadPort, deleteObject, keys, putObject, newBucket, objectBytes, s3Endpoint, stopS3 } from './s3-fixtures.ts';

let url: string | null = null;
after(stopS3);
before(async () => {
  url = await s3Endpoint();
  if (!url && inCI) throw new Error('prerequisite missing in CI: an S3 server (scripts/s3-test-server.sh, Swift)');
});

const env = S3_KEYS;
const inCI = process.env.CI === 'true';
const s3 = (bucket: string, path = '') => `s3+${url}/${bucket}${path ? `/${path}` : ''}`;
const oneLine = (stderr: string) => stderr.trim().split('\n');

describe('S3 stores (Swift s3api)', () => {
  test('make to S3 and extract from it: byte-exact, desync layout, index as an object', async (t) => {
    if (!requires(t, url !== null, 'an S3 server: Swift (apt-get install swift swift-proxy swift-object swift-container swift-account python3-boto3)')) return;
    const dir = tempDir();
    const bucket = newBucket(url!);
    const blob = join(dir, 'blob');
    writeFileSync(blob, rand('s3-make', 3 << 20));
    ok(wasync(['make', `--store=${s3(bucket, 'store')}`, s3(bucket, 'images/x.caibx'), blob], { env }), 'make to S3');
    // The same blob made into a local store: the same chunks, the same index.
    ok(wasync(['make', `--store=${join(dir, 'local.castr')}`, join(dir, 'x.caibx'), blob]), 'make local');
    const expected = storeChunks(join(dir, 'local.castr')).map((f) => `store/${f.slice(0, 4)}/${f}`);
    assert.deepEqual(keys(url!, bucket, 'store/'), expected.sort());
    assert.deepEqual(objectBytes(url!, bucket, 'images/x.caibx'), readFileSync(join(dir, 'x.caibx')));
    ok(wasync(['extract', `--store=${s3(bucket, 'store')}`, s3(bucket, 'images/x.caibx'), join(dir, 'out')], { env }), 'extract from S3');
    assert.deepEqual(readFileSync(join(dir, 'out')), readFileSync(blob));
    // A local index with the S3 store, and the S3 index with the local store.
    ok(wasync(['extract', `--store=${s3(bucket, 'store')}`, join(dir, 'x.caibx'), join(dir, 'out2')], { env }));
    assert.deepEqual(readFileSync(join(dir, 'out2')), readFileSync(blob));
    ok(wasync(['extract', `--store=${join(dir, 'local.castr')}`, s3(bucket, 'images/x.caibx'), join(dir, 'out3')], { env }));
    assert.deepEqual(readFileSync(join(dir, 'out3')), readFileSync(blob));
  });

  test('a directory archived as an index in S3 (.caidx) and extracted from it', async (t) => {
    if (!requires(t, url !== null, 'an S3 server')) return;
    const dir = tempDir();
    const bucket = newBucket(url!);
    const tree = join(dir, 'tree');
    mkdirSync(join(tree, 'sub'), { recursive: true });
    writeFileSync(join(tree, 'a'), rand('s3-tree-a', 300_000));
    writeFileSync(join(tree, 'sub', 'b'), 'hello\n');
    ok(wasync(['make', `--store=${s3(bucket, 'st')}`, s3(bucket, 't.caidx'), tree], { env }), 'make caidx');
    ok(wasync(['extract', `--store=${s3(bucket, 'st')}`, s3(bucket, 't.caidx'), join(dir, 'out')], { env }), 'extract caidx');
    assert.deepEqual(readFileSync(join(dir, 'out', 'a')), readFileSync(join(tree, 'a')));
    assert.equal(readFileSync(join(dir, 'out', 'sub', 'b'), 'utf8'), 'hello\n');
  });

  test('a signed index in S3: its .minisig comes from the bucket; unsigned or too old, nothing is written', async (t) => {
    if (!requires(t, url !== null, 'an S3 server')) return;
    const dir = tempDir();
    const bucket = newBucket(url!);
    const blob = join(dir, 'blob');
    writeFileSync(blob, rand('s3-signed', 1 << 20));
    ok(wasync(['keygen', `--key=${join(dir, 'k.key')}`, '--without-password']));
    ok(wasync(['make', `--store=${s3(bucket, 'store')}`, join(dir, 'x.caibx'), blob], { env }));
    ok(wasync(['sign', `--key=${join(dir, 'k.key')}`, '--version=7', join(dir, 'x.caibx')]));
    const put = (key: string, file: string) => boto(url!, "c.put_object(Bucket=a[0], Key=a[1], Body=open(a[2], 'rb').read())", bucket, key, file);
    put('x.caibx', join(dir, 'x.caibx'));
    const trusted = [`--trusted-key=${join(dir, 'k.pub')}`, `--store=${s3(bucket, 'store')}`];
    // No signature in the bucket yet: refused.
    const unsigned = wasync(['extract', ...trusted, s3(bucket, 'x.caibx'), join(dir, 'no')], { env });
    assert.equal(unsigned.status, 1);
    assert.equal(oneLine(unsigned.stderr).length, 1, unsigned.stderr);
    assert.match(unsigned.stderr, /minisig/);
    assert.ok(!existsSync(join(dir, 'no')));
    put('x.caibx.minisig', join(dir, 'x.caibx.minisig'));
    ok(wasync(['extract', ...trusted, '--min-version=7', s3(bucket, 'x.caibx'), join(dir, 'out')], { env }), 'signed extract from S3');
    assert.deepEqual(readFileSync(join(dir, 'out')), readFileSync(blob));
    const old = wasync(['extract', ...trusted, '--min-version=8', s3(bucket, 'x.caibx'), join(dir, 'old')], { env });
    assert.equal(old.status, 1);
    assert.match(old.stderr, /version 7/);
    assert.ok(!existsSync(join(dir, 'old')));
  });

  test('verify and gc (--dry-run, then for real) on an S3 store', async (t) => {
    if (!requires(t, url !== null, 'an S3 server')) return;
    const dir = tempDir();
    const bucket = newBucket(url!);
    const store = s3(bucket, 'gc');
    const big = join(dir, 'big');
    writeFileSync(big, rand('s3-gc', 2 << 20));
    const small = join(dir, 'small');
    writeFileSync(small, readFileSync(big).subarray(0, 600_000));
    ok(wasync(['make', `--store=${store}`, join(dir, 'big.caibx'), big], { env }));
    ok(wasync(['make', `--store=${store}`, join(dir, 'small.caibx'), small], { env }));
    const all = keys(url!, bucket, 'gc/');
    const v = ok(wasync(['verify', `--store=${store}`, join(dir, 'big.caibx')], { env }), 'verify');
    assert.match(v.stdout, /All chunks present and intact/);

    const dry = ok(wasync(['gc', '--dry-run', `--store=${store}`, join(dir, 'small.caibx')], { env }), 'gc --dry-run');
    const m = /Would remove (\d+) chunks, (\d+) chunks remaining/.exec(dry.stdout + dry.stderr);
    assert.ok(m, dry.stdout + dry.stderr);
    assert.equal(Number(m[1]) + Number(m[2]), all.length);
    assert.ok(Number(m[1]) > 0);
    assert.deepEqual(keys(url!, bucket, 'gc/'), all, 'a dry run removes nothing');

    ok(wasync(['gc', `--store=${store}`, join(dir, 'small.caibx')], { env }), 'gc');
    assert.equal(keys(url!, bucket, 'gc/').length, Number(m[2]));
    ok(wasync(['verify', `--store=${store}`, join(dir, 'small.caibx')], { env }), 'verify what gc kept');
    const gone = wasync(['verify', `--store=${store}`, join(dir, 'big.caibx')], { env });
    assert.notEqual(gone.status, 0, 'chunks gc removed are missing');

    // A chunk deleted behind wasync's back is named by verify.
    const key = keys(url!, bucket, 'gc/')[0];
    deleteObject(url!, bucket, key);
    const r = wasync(['verify', `--store=${store}`, join(dir, 'small.caibx')], { env });
    assert.notEqual(r.status, 0);
    assert.ok((r.stdout + r.stderr).includes(key.slice('gc/0000/'.length, 'gc/0000/'.length + 64)), r.stdout + r.stderr);
  });

  test('verify --repair removes a corrupt chunk from S3; make stores it again', async (t) => {
    if (!requires(t, url !== null, 'an S3 server')) return;
    const dir = tempDir();
    const bucket = newBucket(url!);
    const store = s3(bucket, 'repair');
    const blob = join(dir, 'blob');
    writeFileSync(blob, rand('s3-repair', 1 << 20));
    ok(wasync(['make', `--store=${store}`, join(dir, 'x.caibx'), blob], { env }));
    const key = keys(url!, bucket, 'repair/')[0];
    const id = key.slice('repair/0000/'.length, 'repair/0000/'.length + 64);
    const flipped = objectBytes(url!, bucket, key);
    flipped[flipped.length >> 1] ^= 0xff;
    putObject(url!, bucket, key, flipped);
    const r = wasync(['verify', '--repair', `--store=${store}`, join(dir, 'x.caibx')], { env });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`chunk ${id} is corrupt: removed from store ${store.replace(/[+.?]/g, '\\$&')}`));
    assert.ok(!keys(url!, bucket, 'repair/').includes(key), 'the corrupt object is gone');
    const again = wasync(['verify', `--store=${store}`, join(dir, 'x.caibx')], { env });
    assert.equal(again.status, 1);
    assert.match(again.stdout + again.stderr, new RegExp(`${id}.*missing|missing.*${id}`, 's'));
    ok(wasync(['make', `--store=${store}`, join(dir, 'x.caibx'), blob], { env }), 'make stores it again');
    ok(wasync(['verify', `--store=${store}`, join(dir, 'x.caibx')], { env }), 'verify after make');
  });

  test('a listing over several pages (ListObjectsV2 continuation)', async (t) => {
    if (!requires(t, url !== null, 'an S3 server')) return;
    const dir = tempDir();
    const bucket = newBucket(url!);
    // Small chunks, well over Swift's 1000 keys a page.
    const blob = join(dir, 'blob');
    writeFileSync(blob, rand('s3-pages', 1300 << 10));
    ok(wasync(['make', '--chunk-size=1024', `--store=${s3(bucket, 'p')}`, join(dir, 'x.caibx'), blob], { env }));
    const n = keys(url!, bucket, 'p/').length;
    assert.ok(n > 1000, `${n} chunks`);
    const dry = ok(wasync(['gc', '--dry-run', `--store=${s3(bucket, 'p')}`, join(dir, 'x.caibx')], { env }));
    assert.match(dry.stdout + dry.stderr, new RegExp(`Would remove 0 chunks, ${n} chunks remaining`));
  });

  test('errors: a wrong secret, a denied user, a missing bucket are one line naming bucket and key', async (t) => {
    if (!requires(t, url !== null, 'an S3 server')) return;
    const dir = tempDir();
    const bucket = newBucket(url!);
    const blob = join(dir, 'blob');
    writeFileSync(blob, rand('s3-errors', 200_000));
    ok(wasync(['make', `--store=${s3(bucket, 's')}`, s3(bucket, 'x.caibx'), blob], { env }));
    const cases: [string, NodeJS.ProcessEnv, string, RegExp][] = [
      ['wrong secret', { ...env, S3_SECRET_KEY: 'wrong' }, s3(bucket, 'x.caibx'), new RegExp(`bucket ${bucket}, key x\\.caibx.*SignatureDoesNotMatch`)],
      ['denied', { ...env, S3_ACCESS_KEY: 'test:reader', S3_SECRET_KEY: 'reading' }, s3(bucket, 'x.caibx'), new RegExp(`bucket ${bucket}, key x\\.caibx.*AccessDenied`)],
      ['missing bucket', env, s3('wasync-no-such-bucket', 'x.caibx'), /bucket wasync-no-such-bucket, key x\.caibx.*NoSuchBucket/],
    ];
    for (const [what, e, index, re] of cases) {
      const started = Date.now();
      const r = wasync(['extract', `--store=${s3(bucket, 's')}`, index, join(dir, 'out')], { env: e });
      assert.equal(r.status, 1, `${what}: ${r.stderr}`);
      assert.equal(oneLine(r.stderr).length, 1, `${what}: ${r.stderr}`);
      assert.match(r.stderr, re, what);
      assert.ok(Date.now() - started < 5000, `${what}: failed at once, not retried`);
    }
    // A store in a missing bucket is an error, not a store without the chunks.
    const r = wasync(['extract', `--store=${s3('wasync-no-such-bucket', 's')}`, s3(bucket, 'x.caibx'), join(dir, 'out')], { env });
    assert.equal(r.status, 1);
    assert.equal(oneLine(r.stderr).length, 1, r.stderr);
    assert.match(r.stderr, /bucket wasync-no-such-bucket, key s\/[0-9a-f]{4}\/[0-9a-f]{64}\.cacnk.*NoSuchBucket/);
    const v = wasync(['verify', `--store=${s3('wasync-no-such-bucket', 's')}`, s3(bucket, 'x.caibx')], { env });
    assert.notEqual(v.status, 0);
    assert.match(v.stderr + v.stdout, /wasync-no-such-bucket.*NoSuchBucket/);
    // No credentials at all: said at once.
    const none = wasync(['extract', `--store=${s3(bucket, 's')}`, s3(bucket, 'x.caibx'), join(dir, 'out')], {
      env: { S3_ACCESS_KEY: '', S3_SECRET_KEY: '', AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none') },
    });
    assert.equal(none.status, 1);
    assert.match(none.stderr, /no S3 credentials: set S3_ACCESS_KEY and S3_SECRET_KEY/);
  });

  test('credentials from the AWS credentials file', async (t) => {
    if (!requires(t, url !== null, 'an S3 server')) return;
    const dir = tempDir();
    const bucket = newBucket(url!);
    writeFileSync(join(dir, 'blob'), rand('s3-file', 100_000));
    writeFileSync(join(dir, 'credentials'), '[other]\naws_access_key_id = x\naws_secret_access_key = y\n[ci]\naws_access_key_id = test:tester\naws_secret_access_key = testing\n');
    const e = { S3_ACCESS_KEY: '', S3_SECRET_KEY: '', AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_SHARED_CREDENTIALS_FILE: join(dir, 'credentials'), AWS_PROFILE: 'ci' };
    ok(wasync(['make', `--store=${s3(bucket, 's')}`, s3(bucket, 'x.caibx'), join(dir, 'blob')], { env: e }));
    ok(wasync(['extract', `--store=${s3(bucket, 's')}`, s3(bucket, 'x.caibx'), join(dir, 'out')], { env: e }));
    assert.deepEqual(readFileSync(join(dir, 'out')), readFileSync(join(dir, 'blob')));
  });

  test('an encrypted store in S3: sealed objects in desync layout, extract and gc', async (t) => {
    if (!requires(t, url !== null, 'an S3 server')) return;
    const dir = tempDir();
    const bucket = newBucket(url!);
    const blob = join(dir, 'blob');
    writeFileSync(blob, rand('s3-sealed', 1 << 20));
    const key = `--encryption-key=${'ab'.repeat(32)}`;
    ok(wasync(['make', key, `--store=${s3(bucket, 'e')}`, join(dir, 'x.caibx'), blob], { env }), 'make encrypted');
    const names = keys(url!, bucket, 'e/');
    assert.ok(names.length > 0 && names.every((k) => /^e\/[0-9a-f]{4}\/[0-9a-f]{64}\.cacnk\.[a-z0-9-]+$/.test(k)), names.join(' '));
    ok(wasync(['extract', key, `--store=${s3(bucket, 'e')}`, join(dir, 'x.caibx'), join(dir, 'out')], { env }), 'extract encrypted');
    assert.deepEqual(readFileSync(join(dir, 'out')), readFileSync(blob));
    const dry = ok(wasync(['gc', '--dry-run', key, `--store=${s3(bucket, 'e')}`, join(dir, 'x.caibx')], { env }));
    assert.match(dry.stdout + dry.stderr, new RegExp(`Would remove 0 chunks, ${names.length} chunks remaining`));
  });

  test('mkdev serves a blob whose index and chunks are in S3 (read back with nbdcopy)', async (t) => {
    if (!requires(t, url !== null, 'an S3 server')) return;
    if (!requires(t, spawnSync('nbdcopy', ['--version']).status === 0, 'nbdcopy (libnbd-bin)')) return;
    const dir = tempDir();
    const bucket = newBucket(url!);
    const blob = join(dir, 'blob');
    writeFileSync(blob, rand('s3-mkdev', 1 << 20));
    ok(wasync(['make', `--store=${s3(bucket, 's')}`, s3(bucket, 'b.caibx'), blob], { env }));
    Object.assign(process.env, env); // startMkdev passes this process's environment on
    const dev = await startMkdev(s3(bucket, 'b.caibx'), `unix:${join(dir, 'nbd.sock')}`, [`--store=${s3(bucket, 's')}`]);
    const copy = spawnSync('nbdcopy', [dev.uri, join(dir, 'out')]);
    assert.equal(copy.status, 0, copy.stderr?.toString());
    assert.deepEqual(readFileSync(join(dir, 'out')), readFileSync(blob));
    assert.equal(await dev.stop(), 0);
  });

  test('a failover group with a dead member: a|b goes on to b', async (t) => {
    if (!requires(t, url !== null, 'an S3 server')) return;
    const dir = tempDir();
    const bucket = newBucket(url!);
    const blob = join(dir, 'blob');
    writeFileSync(blob, rand('s3-failover', 1 << 20));
    ok(wasync(['make', `--store=${s3(bucket, 'f')}`, join(dir, 'x.caibx'), blob], { env }));
    const dead = `http://127.0.0.1:${await deadPort()}/store`;
    const r = await wasyncAsync(['extract', `--store=${dead}|${s3(bucket, 'f')}`, join(dir, 'x.caibx'), join(dir, 'out')], { env });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(readFileSync(join(dir, 'out')), readFileSync(blob));
    // A chunk missing from the live member is missing, not a failure of the group.
    const gone = keys(url!, bucket, 'f/')[0];
    deleteObject(url!, bucket, gone);
    const m = await wasyncAsync(['extract', `--store=${s3(bucket, 'f')}|${dead}`, join(dir, 'x.caibx'), join(dir, 'out2')], { env });
    assert.equal(m.status, 1);
    assert.match(m.stderr, new RegExp(gone.slice(7, 7 + 64)));
    assert.doesNotMatch(m.stderr, /failover group .* failed/);
    // Both members dead: one line naming the group.
    const both = await wasyncAsync(['verify', `--store=${dead}|${dead}2`, join(dir, 'x.caibx')], { env });
    assert.notEqual(both.status, 0);
    assert.match(both.stderr, /every store of the failover group/);
  });
});
