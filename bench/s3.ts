// The S3 case of `npm run bench` (--only=s3): a random blob made into, and
// extracted from, an S3 bucket on the local Swift s3api server, side by side
// with a local store and an HTTP store (`wasync serve --writable`), all on
// loopback, so the figures say what S3's signing and Swift cost over the same
// chunks.  Swift is $WASYNC_TEST_S3, else started for the run with
// scripts/s3-test-server.sh and stopped after it.

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { MiB, median, sameFile, timed, wasyncBin, writeRandom } from './measure.ts';

const SIZE = 128 * MiB;
const KEYS = { S3_ACCESS_KEY: 'test:tester', S3_SECRET_KEY: 'testing', S3_REGION: 'us-east-1' };
const script = join(import.meta.dirname, '..', '..', 'scripts', 's3-test-server.sh');

/** boto3 makes the bucket (wasync never creates buckets). */
function createBucket(endpoint: string, bucket: string) {
  const py = `import sys, boto3
from botocore.config import Config
boto3.client('s3', endpoint_url=sys.argv[1], aws_access_key_id='test:tester', aws_secret_access_key='testing', region_name='us-east-1', config=Config(s3={'addressing_style': 'path'})).create_bucket(Bucket=sys.argv[2])`;
  execFileSync('python3', ['-c', py, endpoint, bucket]);
}

function startServe(dir: string, token: string): Promise<{ url: string; stop(): void }> {
  const child = spawn('node', [wasyncBin, 'serve', dir, '--listen=127.0.0.1:0', '--writable', `--token=${token}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  return new Promise((resolve, reject) => {
    child.stderr.on('data', (b: Buffer) => {
      err += b.toString();
      const m = /on (http:\/\/[^/]+)\//.exec(err);
      if (m) resolve({ url: m[1], stop: () => child.kill('SIGTERM') });
    });
    child.once('exit', (code) => reject(new Error(`wasync serve exited (${code}): ${err}`)));
  });
}

export async function benchS3(work: string, runs: number): Promise<string[]> {
  let endpoint = process.env.WASYNC_TEST_S3;
  let started: string | null = null;
  if (!endpoint) {
    if (spawnSync('sh', ['-c', 'command -v swift-proxy-server']).status !== 0) return ['(s3 case skipped: no WASYNC_TEST_S3 and no Swift to start)'];
    const out = execFileSync(script, ['start'], { encoding: 'utf8', timeout: 120_000 });
    endpoint = /WASYNC_TEST_S3=([^;\s]+)/.exec(out)?.[1];
    started = /WASYNC_TEST_S3_DIR=([^;\s]+)/.exec(out)?.[1] ?? null;
    if (!endpoint) throw new Error(`s3-test-server.sh printed no endpoint: ${out}`);
  }
  const dir = join(work, 's3');
  const srv = join(dir, 'srv');
  mkdirSync(srv, { recursive: true });
  mkdirSync(join(dir, 'local'));
  const blob = join(dir, 'blob');
  await writeRandom(blob, SIZE);
  const bucket = `wasync-bench-${process.pid}`;
  createBucket(endpoint, bucket);
  const token = 'bench-token';
  const http = await startServe(srv, token);
  const env = { ...process.env, ...KEYS };
  const n = Math.min(runs, 3);
  const lines = [`s3: ${SIZE / MiB} MiB random blob on loopback; local store, wasync serve (HTTP) and Swift s3api (median of ${n})`];
  const stores: [string, string, string[]][] = [
    ['local', join(dir, 'local', 'store.castr'), []],
    ['HTTP (wasync serve)', `${http.url}/store.castr`, [`--token=${token}`]],
    ['S3 (Swift s3api)', `s3+${endpoint}/${bucket}/store`, []],
  ];
  const index = join(dir, 'x.caibx');
  const out = join(dir, 'out');
  const rate = (s: number) => `${(SIZE / 1e6 / s).toFixed(0).padStart(5)} MB/s (${s.toFixed(2)} s)`;
  try {
    for (const [name, store, extra] of stores) {
      const make: number[] = [];
      const extract: number[] = [];
      for (let i = 0; i < n; i++) {
        // A fresh store each time for make: every chunk is sent.
        const fresh = i === 0 ? store : store.replace(/store(\.castr)?$/, `store-${i}$1`);
        make.push(timed(['node', wasyncBin, 'make', ...extra, `--store=${fresh}`, index, blob], { env }).seconds);
        rmSync(out, { force: true });
        extract.push(timed(['node', wasyncBin, 'extract', ...extra, `--store=${fresh}`, index, out], { env }).seconds);
        if (i === 0) sameFile(out, blob, `${name} extract`);
      }
      lines.push(`  ${name.padEnd(22)} make ${rate(median(make))}   extract ${rate(median(extract))}`);
    }
  } finally {
    http.stop();
    if (started) spawnSync(script, ['stop', started]);
    rmSync(dir, { recursive: true, force: true });
  }
  return lines;
}
