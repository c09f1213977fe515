// Installing and running through npm: npx prints wasync's output and nothing of
// npm's, and zstd-napi's installer is told to compile libzstd (the project takes
// no binary downloaded at install).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './helpers.ts';

// What npm itself would not pass on: the test is about the project's files, not
// about a setting the shell that runs it happens to carry.
const env = { ...process.env };
delete env.npm_config_build_from_source;

test('npx wasync --version: wasync\'s line on stdout, no npm warning on stderr', () => {
  const r = spawnSync('npx', ['wasync', '--version'], { cwd: ROOT, env, encoding: 'utf8' });
  if (r.error) throw r.error;
  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `wasync ${version}\n`);
  assert.doesNotMatch(r.stderr, /npm warn/i);
  assert.equal(r.stderr, '');
});

test('zstd-napi\'s install script (prebuild-install) builds from source, downloading nothing', () => {
  // prebuild-install's own reading of its configuration, run where npm runs it:
  // in the package's folder, under the project.
  const pkg = join(ROOT, 'node_modules', 'zstd-napi');
  const r = spawnSync(
    process.execPath,
    ['-e', "process.stdout.write(JSON.stringify(require('prebuild-install/rc')(require('./package.json')).buildFromSource))"],
    { cwd: pkg, env, encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'true');
});
