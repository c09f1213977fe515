// The S3 server of the S3 tests: OpenStack Swift with s3api, one node
// (scripts/s3-test-server.sh).  .ci/run starts it and sets WASYNC_TEST_S3;
// without it a test file starts its own through the script when Swift is
// installed, and stops it when done.  boto3 (python3-boto3) looks at buckets
// independently of wasync: what keys exist, what bytes an object holds.

import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after } from 'node:test';
import { ROOT } from './helpers.ts';

export const S3_KEYS = { S3_ACCESS_KEY: 'test:tester', S3_SECRET_KEY: 'testing', S3_REGION: 'us-east-1' };

// The python3 on PATH if it has boto3, else Debian's (.ci/run installs python3-boto3 for it).
const python = ['python3', '/usr/bin/python3'].find((py) => spawnSync(py, ['-c', 'import boto3']).status === 0);
const haveSwift = python !== undefined && spawnSync('sh', ['-c', 'command -v swift-proxy-server']).status === 0;

let endpoint: Promise<string | null> | null = null;
let started: string | null = null;

/** Stops the server s3Endpoint started, if it did (call from the file's top-level after()). */
export function stopS3(): void {
  if (started) spawnSync(join(ROOT, 'scripts', 's3-test-server.sh'), ['stop', started]);
  started = null;
}

/** The server's http://127.0.0.1:PORT, started for this file if need be; null if Swift is not installed. */
export function s3Endpoint(): Promise<string | null> {
  endpoint ??= (async () => {
    if (process.env.WASYNC_TEST_S3) return process.env.WASYNC_TEST_S3;
    if (!haveSwift) return null;
    const out = execFileSync(join(ROOT, 'scripts', 's3-test-server.sh'), ['start'], { encoding: 'utf8', timeout: 120_000 });
    const url = /WASYNC_TEST_S3=([^;\s]+)/.exec(out)?.[1];
    const dir = /WASYNC_TEST_S3_DIR=([^;\s]+)/.exec(out)?.[1];
    started = dir ?? null;
    if (!url) throw new Error(`s3-test-server.sh printed no endpoint: ${out}`);
    return url;
  })();
  return endpoint;
}

/** boto3 against the server, as test:tester; `code` is a Python body with `c` the client and `a` the arguments. */
export function boto(url: string, code: string, ...args: string[]): string {
  const program = [
    'import sys, boto3',
    'from botocore.config import Config',
    `c = boto3.client('s3', endpoint_url=sys.argv[1], aws_access_key_id='test:tester', aws_secret_access_key='testing', region_name='us-east-1', config=Config(s3={'addressing_style': 'path'}))`,
    'a = sys.argv[2:]',
    code,
  ].join('\n');
  const r = spawnSync(python!, ['-c', program, url, ...args], { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`boto3: ${r.stderr.trim().split('\n').pop()}`);
  return r.stdout;
}

/** A new bucket with a unique name (removed, with its objects, after the file). */
export function newBucket(url: string): string {
  const name = `wasync-${randomBytes(6).toString('hex')}`;
  boto(url, 'c.create_bucket(Bucket=a[0])', name);
  after(() => {
    try {
      boto(url, EMPTY_AND_DELETE, name);
    } catch {
      /* the server may be gone already */
    }
  });
  return name;
}

const EMPTY_AND_DELETE = `
for page in c.get_paginator('list_objects_v2').paginate(Bucket=a[0]):
    objects = [{'Key': o['Key']} for o in page.get('Contents', [])]
    if objects:
        c.delete_objects(Bucket=a[0], Delete={'Objects': objects, 'Quiet': True})
c.delete_bucket(Bucket=a[0])`;

/** Every key in `bucket` under `prefix`, sorted (boto3 pages through with continuation tokens). */
export function keys(url: string, bucket: string, prefix = ''): string[] {
  const out = boto(
    url,
    `for page in c.get_paginator('list_objects_v2').paginate(Bucket=a[0], Prefix=a[1]):
    for o in page.get('Contents', []):
        print(o['Key'])`,
    bucket,
    prefix,
  );
  return out.split('\n').filter(Boolean).sort();
}

/** The bytes of an object. */
export const objectBytes = (url: string, bucket: string, key: string): Buffer =>
  Buffer.from(boto(url, `sys.stdout.write(c.get_object(Bucket=a[0], Key=a[1])['Body'].read().hex())`, bucket, key), 'hex');

export const deleteObject = (url: string, bucket: string, key: string) => void boto(url, 'c.delete_object(Bucket=a[0], Key=a[1])', bucket, key);

/** Replaces an object's bytes behind wasync's back. */
export const putObject = (url: string, bucket: string, key: string, body: Uint8Array) =>
  void boto(url, 'c.put_object(Bucket=a[0], Key=a[1], Body=bytes.fromhex(a[2]))', bucket, key, Buffer.from(body).toString('hex'));

/** A local port nothing listens on (bound, then closed): a dead store. */
export function deadPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}
