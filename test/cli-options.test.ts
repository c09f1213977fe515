// Every option is checked whatever the verb, by the same parser, with one line
// naming the option, as casync parses all of its options before it looks at the
// verb; --with=help, --without=help and --what=help print casync's lists; a URL
// of a scheme wasync cannot reach is refused at once wherever a locator goes.
// casync's answer to the same bad value is checked beside wasync's.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../src/cli/main.ts';
import { casync, haveCasync, ok, rand, requires, tempDir, wasync } from './helpers.ts';

const dir = tempDir();
const p = (name: string) => join(dir, name);

/** The verbs with arguments commander accepts (nothing runs: the options fail first). */
const VERBS: Record<string, string[]> = {
  make: ['make', p('x.caibx'), p('in.img')],
  extract: ['extract', p('x.caibx'), p('out.img')],
  list: ['list', p('x.caidx')],
  mtree: ['mtree', p('x.caidx')],
  stat: ['stat', p('x.caidx')],
  digest: ['digest', p('x.caibx')],
  mkdev: ['mkdev', p('x.caibx')],
  mount: ['mount', p('x.caidx'), p('mnt')],
  verify: ['verify', p('x.caibx')],
  gc: ['gc', p('x.caibx')],
  pack: ['pack', p('s.castr')],
  info: ['info', p('x.caibx')],
  chop: ['chop', p('x.caibx'), p('in.img')],
  cat: ['cat', p('x.caibx'), p('out.img')],
  chunk: ['chunk', p('in.img')],
  'list-chunks': ['list-chunks', p('x.caibx')],
  'inspect-chunks': ['inspect-chunks', p('x.caibx')],
  serve: ['serve', dir],
  pull: ['pull', '-', '-', p('x.caibx'), p('s.castr')],
  push: ['push', '-', '-', p('x.caibx'), p('s.castr')],
};

/** (option=bad value, what wasync says, whether casync refuses it while parsing too). */
const BAD: [string, RegExp, boolean][] = [
  ['--chunk-size=banana', /^--chunk-size=banana: can't parse average chunk size 'banana'$/, true],
  ['--chunk-size=1:2', /^--chunk-size=1:2: give either a single average chunk size or a triplet MIN:AVG:MAX$/, true],
  ['--chunk-size=1G', /^--chunk-size=1G: average chunk size must be <= 134217728$/, true],
  ['--rate-limit-bps=fast', /^--rate-limit-bps=fast: expected bytes per second/, true],
  ['--rate-limit-bps=0', /^--rate-limit-bps=0: the rate limit cannot be zero$/, true],
  ['--concurrency=0', /^--concurrency=0: expected a positive whole number$/, false],
  ['--with=banana', /^--with=banana: unknown feature flag \(--with=help lists them\)$/, true],
  ['--without=banana', /^--without=banana: unknown feature flag \(--without=help lists them\)$/, true],
  ['--what=banana', /^--what=banana: not one of archive, archive-index, blob, blob-index, directory$/, true],
  ['--digest=md5', /^--digest=md5: not one of sha512-256, sha256$/, true],
  ['--compression=lz4', /^--compression=lz4: not one of zstd, gzip, xz$/, true],
  ['--exclude-nodump=x', /^--exclude-nodump=x: expected yes or no$/, true],
  ['--exclude-submounts=x', /^--exclude-submounts=x: expected yes or no$/, true],
  ['--exclude-file=x', /^--exclude-file=x: expected yes or no$/, true],
  ['--delete=x', /^--delete=x: expected yes or no$/, true],
  ['--undo-immutable=x', /^--undo-immutable=x: expected yes or no$/, true],
  ['--punch-holes=x', /^--punch-holes=x: expected yes or no$/, true],
  ['--reflink=x', /^--reflink=x: expected yes or no$/, true],
  ['--hardlink=x', /^--hardlink=x: expected yes or no$/, true],
  ['--seed-output=maybe', /^--seed-output=maybe: expected yes or no$/, true],
  ['--uid-shift=x', /^--uid-shift=x: expected yes, no or a uid to shift by$/, true],
  ['--uid-range=0:1000', /^--uid-range=0:1000: expected yes, no or the number of ids, 1 to 4294967296$/, true],
  ['--uid-range=4294967297', /^--uid-range=4294967297: expected yes, no or the number of ids/, true],
  ['--progress=loud', /^--progress=loud: not one of auto, bar, json, no$/, false],
  ['--output-format=zip', /^--output-format=zip: not one of tar$/, false],
  ['--log-level=loud', /^--log-level=loud: not one of emerg, alert, crit, err, warn, notice, info, debug \(or 0 to 7\)$/, true],
  ['--store=gs://bucket/s.castr', /^gs:\/\/bucket\/s\.castr: unsupported URL scheme gs:\/\/; wasync reaches http:\/\/, https:\/\//, false],
  ['--extra-store=sftp://host/s.castr', /^sftp:\/\/host\/s\.castr: unsupported URL scheme sftp:\/\//, false],
  ['--cache=gs://host/c.castr', /^gs:\/\/host\/c\.castr: unsupported URL scheme gs:\/\//, false],
];

/** main() in this process: its exit status and what it wrote. */
async function inProcess(args: string[]) {
  const err: string[] = [];
  const out: string[] = [];
  const stderr = process.stderr.write;
  const stdout = process.stdout.write;
  process.stderr.write = ((s: string) => (err.push(String(s)), true)) as typeof process.stderr.write;
  process.stdout.write = ((s: string) => (out.push(String(s)), true)) as typeof process.stdout.write;
  try {
    return { status: await main(args), stderr: err.join(''), stdout: out.join('') };
  } finally {
    process.stderr.write = stderr;
    process.stdout.write = stdout;
  }
}

test('every bad option value is refused by every verb: status 1, one line naming the option', async () => {
  for (const [verb, args] of Object.entries(VERBS)) {
    for (const [bad, message] of BAD) {
      for (const argv of [[bad, ...args], [...args, bad]]) {
        const r = await inProcess(argv);
        const what = `wasync ${argv.join(' ')}`;
        assert.equal(r.status, 1, `${what}: ${r.stderr}`);
        const lines = r.stderr.trimEnd().split('\n');
        assert.equal(lines.length, 1, `${what}: one line: ${r.stderr}`);
        assert.match(lines[0].replace(/^wasync: /, ''), message, what);
        assert.equal(r.stdout, '', what);
      }
    }
  }
});

test('casync refuses the same values while parsing, before the verb', (t) => {
  if (!requires(t, haveCasync, 'the casync binary')) return;
  for (const [bad, , refuses] of BAD) {
    if (!refuses) continue;
    const r = casync([bad, 'extract', p('nothing.caibx'), p('out.img')]);
    assert.equal(r.status, 1, `casync ${bad}`);
    // casync names the option or the value, and never reaches the index.
    const value = bad.slice(bad.indexOf('=') + 1);
    assert.ok(r.stderr.includes(value) || /chunk size|Rate limit/.test(r.stderr), `casync ${bad}: ${r.stderr}`);
    console.log(`# casync ${bad}: ${r.stderr.trim()}`);
    assert.doesNotMatch(r.stderr, /synchronizer/, `casync ${bad}`);
  }
});

test('the spellings casync accepts pass: chunk-size auto, rate limits with suffixes, log levels, uid ranges as booleans', () => {
  writeFileSync(p('in.img'), rand('cli-options', 200_000));
  for (const args of [['--chunk-size=auto'], ['--rate-limit-bps=1M'], ['--rate-limit-bps=512K'], ['--log-level=debug'], ['-l', '3'], ['--uid-range=0'], ['--uid-shift=yes']]) {
    ok(wasync([...args, 'make', `--store=${p('s.castr')}`, p('good.caibx'), p('in.img')]), args.join(' '));
  }
  if (haveCasync) {
    ok(casync(['--chunk-size=auto', '--rate-limit-bps=1M', '--log-level=debug', '--uid-range=0', 'make', `--store=${p('c.castr')}`, p('c.caibx'), p('in.img')]));
    assert.ok(readFileSync(p('c.caibx')).equals(readFileSync(p('good.caibx'))), 'the same index as casync');
  }
});

test('--with=help and --without=help print what casync prints and exit 0, whatever the verb', async (t) => {
  if (!requires(t, haveCasync, 'the casync binary')) return;
  const theirs = ok(casync(['--with=help'])).stdout;
  assert.match(theirs, /^Supported --with= and --without= flags:\n16bit-uids\n/);
  for (const args of [['--with=help'], ['--without=help'], ['make', '--with=help'], ['--with=xattrs', '--without=help', 'extract', 'a.caibx']]) {
    const mine = wasync(args);
    assert.equal(mine.status, 0, args.join(' '));
    assert.equal(mine.stdout, theirs, args.join(' '));
    assert.equal(mine.stderr, '', args.join(' '));
    const c = casync(args);
    assert.equal(c.status, 0, `casync ${args.join(' ')}`);
    assert.equal(c.stdout, theirs);
  }
  // --what=help as casync, which forgets "archive" in its list
  const what = ok(wasync(['--what=help'])).stdout;
  assert.equal(what, 'Allowed --what= selectors:\narchive\narchive-index\nblob\nblob-index\ndirectory\n');
  assert.equal(ok(casync(['--what=help'])).stdout, 'Allowed --what= selectors:\narchive-index\nblob\nblob-index\ndirectory\n');
});

/** A TCP server that counts the connections made to it. */
async function listener(): Promise<{ server: Server; port: number; connections: () => number }> {
  let n = 0;
  const server = createServer((s) => {
    n++;
    s.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, connections: () => n };
}

test('URLs of schemes wasync cannot reach are refused at once, wherever a locator goes, with no connection made', async (t) => {
  writeFileSync(p('in.img'), rand('cli-options', 200_000));
  ok(wasync(['make', `--store=${p('s.castr')}`, p('good.caibx'), p('in.img')]));
  const l = await listener();
  t.after(() => l.server.close());
  const host = `127.0.0.1:${l.port}`;
  for (const scheme of ['sftp', 'gs', 'ftp']) {
    const url = (name: string) => `${scheme}://${host}/${name}`;
    const cases: string[][] = [
      ['extract', url('x.caibx'), p('out.img')],
      ['extract', `--store=${url('s.castr')}`, p('good.caibx'), p('out.img')],
      ['extract', `--extra-store=${url('s.castr')}`, p('good.caibx'), p('out.img')],
      ['extract', `--cache=${url('c.castr')}`, p('good.caibx'), p('out.img')],
      ['extract', `--seed=${url('seed.img')}`, `--store=${p('s.castr')}`, p('good.caibx'), p('out.img')],
      ['make', url('x.caibx'), p('in.img')],
      ['make', `--store=${url('s.castr')}`, p('new.caibx'), p('in.img')],
      ['verify', url('x.caibx')],
      ['list', url('x.caidx')],
      ['digest', url('x.caibx')],
      ['mkdev', url('x.caibx'), p('nbd')],
    ];
    // every place for one scheme, the index and the store for the others
    for (const args of scheme === 'gs' ? cases : cases.slice(0, 2)) {
      const start = Date.now();
      const r = wasync(args);
      const what = `wasync ${args.join(' ')}`;
      assert.equal(r.status, 1, `${what}: ${r.stderr}`);
      const lines = r.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, `${what}: ${r.stderr}`);
      assert.ok(lines[0].includes(`unsupported URL scheme ${scheme}://`), `${what}: ${lines[0]}`);
      assert.ok(lines[0].includes('wasync reaches http://, https://, s3+http://, s3+https://, oci+http://, oci+https:// and file:// URLs, [user@]host:path (ssh) or a local path'), what);
      assert.doesNotMatch(lines[0], /attempts/, what);
      assert.ok(Date.now() - start < 5000, `${what}: answered at once`);
    }
  }
  assert.equal(l.connections(), 0, 'no connection was attempted');
  if (haveCasync) {
    // casync hands the scheme to a helper program it may not have (it has ftp and sftp ones).
    const c = casync(['extract', `gs://${host}/x.caibx`, p('casync-out.img')]);
    assert.match(c.stderr, /Failed to execute \/usr\/lib\/casync\/protocols\/casync-gs/);
  }
});
