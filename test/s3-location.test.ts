// desync's S3 locators taken apart (s3-location.ts), the one list of URL
// schemes, and failover groups as the CLI takes them: no server needed.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { classifyLocator, isFailoverGroup } from '../src/stores/locator.ts';
import { parseS3Locator, s3HttpUrl, s3Locator } from '../src/stores/s3-location.ts';
import { s3Credentials } from '../src/platform/node/storage/s3-credentials.ts';
import { wasync } from './helpers.ts';

describe('S3 locators', () => {
  test('bucket, prefix and lookup, as desync reads them', () => {
    const l = parseS3Locator('s3+https://s3.example:9000/images/a/b/?lookup=path');
    assert.deepEqual(l, { endpoint: 'https://s3.example:9000', bucket: 'images', key: 'a/b', lookup: 'path', query: '' });
    assert.equal(s3HttpUrl(l, 'a/b/0000/x.cacnk'), 'https://s3.example:9000/images/a/b/0000/x.cacnk');
    assert.equal(s3HttpUrl({ ...l, lookup: 'dns' }, 'k'), 'https://images.s3.example:9000/k');
    // auto: the host name on AWS, the path elsewhere
    assert.equal(s3HttpUrl(parseS3Locator('s3+https://s3.eu-west-1.amazonaws.com/b/k')), 'https://b.s3.eu-west-1.amazonaws.com/k');
    assert.equal(s3HttpUrl(parseS3Locator('s3+http://127.0.0.1:8080/b/k')), 'http://127.0.0.1:8080/b/k');
    assert.equal(s3Locator(l, 'a/b/x.caibx'), 's3+https://s3.example:9000/images/a/b/x.caibx?lookup=path');
    assert.equal(s3Locator(parseS3Locator('s3+http://h/b'), '', 'list-type=2'), 's3+http://h/b?list-type=2');
  });

  test('a locator without a bucket or with an unknown lookup is refused', () => {
    assert.throws(() => parseS3Locator('s3+http://host/'), /no bucket named/);
    assert.throws(() => parseS3Locator('s3+http://host/b?lookup=sideways'), /lookup=sideways: expected path, dns or auto/);
  });

  test('s3+http and s3+https are URLs wasync reaches; other schemes are still refused', () => {
    assert.equal(classifyLocator('s3+http://h:1/b/x.caibx'), 'url');
    assert.equal(classifyLocator('s3+https://h/b'), 'url');
    assert.throws(() => classifyLocator('gs://bucket/x'), /unsupported URL scheme gs:\/\//);
    assert.ok(isFailoverGroup('http://a/s|/local/s'));
  });

  test('credentials: S3_*, then AWS_*, then the credentials file', () => {
    assert.deepEqual(s3Credentials({ S3_ACCESS_KEY: 'a', S3_SECRET_KEY: 'b', S3_REGION: 'r', AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y' }), {
      accessKeyId: 'a',
      secretAccessKey: 'b',
      sessionToken: undefined,
      region: 'r',
    });
    assert.equal(s3Credentials({ AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y', AWS_SESSION_TOKEN: 't' }).sessionToken, 't');
    assert.throws(() => s3Credentials({ AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials' }), /no S3 credentials/);
  });

  test('the CLI checks each member of a failover group', () => {
    const r = wasync(['extract', '--store=/tmp/a.castr|gs://b/s', 'x.caibx', '/tmp/out']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /gs:\/\/b\/s: unsupported URL scheme gs:\/\//);
  });
});
