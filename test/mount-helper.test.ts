// mount.wasync, the mount helper: an fstab line (`mount -T FSTAB MOUNTPOINT`)
// and `mount -t fuse.wasync SOURCE MOUNTPOINT -o …` mount the tree through
// mount(8) itself, then umount ends the server.  Two ways in, both as
// installed: fuse3's /sbin/mount.fuse runs `wasync SOURCE MOUNTPOINT -o …`
// from the default PATH (mount(8) passes none), so `wasync` is linked into
// /usr/local/sbin for the file; and /sbin/mount.fuse.wasync linked to
// bin/mount.wasync.js, which mount(8) runs directly.  -o options wasync does
// not know are refused by name; the option mapping is checked on its own too.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { helperOptions, parseHelperArgs } from '../src/cli/mount-helper.ts';
import { ROOT, isRoot, ok, rand, requires, tempDir, wasync } from './helpers.ts';
import { haveFuse, isMounted, snapshot } from './mount-fixtures.ts';

// Registered before tempDir's removal, so that it runs first (hooks run in order).
const used = new Set<string>();
after(() => {
  for (const m of used) if (isMounted(m)) spawnSync('umount', ['-l', m]);
});
const dir = tempDir('wasync-mount-helper-');
const tree = join(dir, 'tree');
mkdirSync(join(tree, 'sub', 'deeper'), { recursive: true });
writeFileSync(join(tree, 'hello.txt'), 'hello, fstab\n');
writeFileSync(join(tree, 'sub', 'big.bin'), rand('mount-helper', 700_000));
writeFileSync(join(tree, 'sub', 'deeper', 'leaf'), 'leaf\n');
symlinkSync('hello.txt', join(tree, 'link'));
const store = join(dir, 'images.castr');
const index = join(dir, 'tree.caidx');
ok(wasync(['make', `--store=${store}`, index, tree]));
ok(wasync(['extract', `--store=${store}`, index, join(dir, 'extracted')]));

const canMount = (t: Parameters<typeof requires>[0]) => requires(t, isRoot, 'root (mounting)') && requires(t, haveFuse, '/dev/fuse and mount(8)');

/** `link` → `target` for this file's duration; false if something else is there already. */
function linked(link: string, target: string): boolean {
  const st = lstatSync(link, { throwIfNoEntry: false });
  if (st) return st.isSymbolicLink() && readlinkSync(link) === target;
  symlinkSync(target, link);
  after(() => unlinkSync(link));
  return true;
}

function mountpoint(name: string): string {
  const p = join(dir, name);
  mkdirSync(p);
  used.add(realpathSync(p));
  return realpathSync(p);
}

/** The helper's server processes serving `mnt` (bin/mount.wasync.js --foreground). */
function servers(mnt: string): number[] {
  const pids: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (argv.some((a) => a.endsWith('mount.wasync.js')) && argv.includes('--foreground') && argv.includes(mnt)) pids.push(Number(p));
  }
  return pids;
}

async function unmountAndWait(mnt: string) {
  const u = spawnSync('umount', [mnt], { encoding: 'utf8' });
  assert.equal(u.status, 0, u.stderr);
  for (let i = 0; i < 100 && servers(mnt).length; i++) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(servers(mnt), [], 'the server ends with the unmount');
  assert.ok(!isMounted(mnt));
}

function shows(mnt: string) {
  assert.deepEqual(snapshot(mnt), snapshot(join(dir, 'extracted')), 'the mount shows what extract writes');
  assert.equal(readFileSync(join(mnt, 'hello.txt'), 'utf8'), 'hello, fstab\n');
}

const fstype = (mnt: string) => readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')).find((f) => f[1] === mnt);

test('an fstab line (relative source, store=, seed=, the options systemd and mount add) mounts with mount -T, and umount ends it', async (t) => {
  if (!canMount(t) || !requires(t, linked('/usr/local/sbin/wasync', join(ROOT, 'bin', 'wasync.js')), 'no other wasync in /usr/local/sbin')) return;
  const mnt = mountpoint('mnt-fstab');
  const fstab = join(dir, 'fstab');
  // mount(8) reads the fstab's \040 as a space, and passes the source as written (made absolute against mount's directory).
  copyFileSync(index, join(dir, 'my tree.caidx'));
  writeFileSync(fstab, `# wasync\nmy\\040tree.caidx ${mnt} fuse.wasync ro,noauto,nofail,_netdev,x-systemd.automount,store=images.castr,seed=${tree},defaults 0 0\n`);
  const r = spawnSync('mount', ['-T', fstab, mnt], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout + r.stderr, '', 'a mount helper is silent');
  const f = fstype(mnt)!;
  assert.equal(f[2], 'fuse.wasync');
  assert.equal(f[0], join(dir, 'my\\040tree.caidx'), 'the source, made absolute (/proc/mounts escapes the space)');
  assert.match(f[3], /^ro,nosuid,nodev,/);
  assert.equal(servers(mnt).length, 1);
  shows(mnt);
  await unmountAndWait(mnt);
});

test('mount -t fuse.wasync SOURCE MOUNTPOINT -o …: through fuse3 mount.fuse, which runs wasync', async (t) => {
  if (!canMount(t) || !requires(t, linked('/usr/local/sbin/wasync', join(ROOT, 'bin', 'wasync.js')), 'no other wasync in /usr/local/sbin')) return;
  const mnt = mountpoint('mnt-type');
  const r = spawnSync('mount', ['-t', 'fuse.wasync', index, mnt, '-o', `store=${store},extra_store=${store},concurrency=4`], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  shows(mnt);
  await unmountAndWait(mnt);

  // Refused by name, before anything is mounted.
  const bad = spawnSync('mount', ['-t', 'fuse.wasync', index, mnt, '-o', `store=${store},uid=1000,bogus`], { encoding: 'utf8' });
  assert.notEqual(bad.status, 0);
  assert.equal(bad.stderr, 'wasync: -o uid, bogus: not options wasync knows (see mount.wasync -h)\n');
  assert.ok(!isMounted(mnt));
  // An input that cannot be read: its error, mount(8)'s failure status, no server left.
  const missing = spawnSync('mount', ['-t', 'fuse.wasync', join(dir, 'nosuch.caidx'), mnt, '-o', `store=${store}`], { encoding: 'utf8' });
  assert.equal(missing.status, 32, missing.stderr);
  assert.match(missing.stderr, /^wasync: .*nosuch\.caidx: cannot read: ENOENT/);
  assert.ok(!isMounted(mnt));
  assert.deepEqual(servers(mnt), []);
});

test('/sbin/mount.fuse.wasync linked to mount.wasync: mount(8) runs it directly; noexec reaches the kernel', async (t) => {
  if (!canMount(t) || !requires(t, linked('/sbin/mount.fuse.wasync', join(ROOT, 'bin', 'mount.wasync.js')), 'no other /sbin/mount.fuse.wasync')) return;
  const mnt = mountpoint('mnt-direct');
  const r = spawnSync('mount', ['-t', 'fuse.wasync', index, mnt, '-o', `store=${store},noexec`], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(fstype(mnt)![3], /^ro,nosuid,nodev,noexec,/);
  shows(mnt);
  await unmountAndWait(mnt);
});

test('trusted-key= and min-version=: a signed index mounts, an unsigned or older one is refused before anything is mounted', async (t) => {
  if (!canMount(t) || !requires(t, linked('/sbin/mount.fuse.wasync', join(ROOT, 'bin', 'mount.wasync.js')), 'no other /sbin/mount.fuse.wasync')) return;
  ok(wasync(['keygen', `--key=${join(dir, 'k.key')}`, '--without-password']));
  const signed = join(dir, 'signed.caidx');
  copyFileSync(index, signed);
  ok(wasync(['sign', `--key=${join(dir, 'k.key')}`, '--version=3', signed]));
  const mnt = mountpoint('mnt-signed');
  // The key as a path relative to the caller's directory: the server runs in /.
  const mount = (source: string, extra: string) => spawnSync('mount', ['-t', 'fuse.wasync', source, mnt, '-o', `store=${store},trusted-key=k.pub${extra}`], { encoding: 'utf8', timeout: 60_000, cwd: dir });
  const r = mount(signed, ',min-version=3');
  assert.equal(r.status, 0, r.stderr);
  shows(mnt);
  await unmountAndWait(mnt);
  const unsigned = mount(index, '');
  assert.equal(unsigned.status, 32, unsigned.stderr);
  assert.match(unsigned.stderr, /^wasync: .*tree\.caidx\.minisig.*\n$/);
  const older = mount(signed, ',min-version=4');
  assert.equal(older.status, 32, older.stderr);
  assert.match(older.stderr, /version 3.*4|4.*version 3/);
  assert.ok(!isMounted(mnt));
});

test('mount.wasync -f only checks; -s ignores unknown options with a warning', () => {
  const fake = spawnSync(process.execPath, [join(ROOT, 'bin', 'mount.wasync.js'), index, join(dir, 'nowhere'), '-f', '-o', `store=${store}`], { encoding: 'utf8' });
  assert.equal(fake.status, 0, fake.stderr);
  const refused = spawnSync(process.execPath, [join(ROOT, 'bin', 'mount.wasync.js'), index, join(dir, 'nowhere'), '-f', '-o', 'gid=5'], { encoding: 'utf8' });
  assert.equal(refused.status, 1);
  assert.equal(refused.stderr, 'wasync: -o gid: not an option wasync knows (see mount.wasync -h)\n');
  const sloppy = spawnSync(process.execPath, [join(ROOT, 'bin', 'mount.wasync.js'), index, join(dir, 'nowhere'), '-sf', '-o', 'gid=5'], { encoding: 'utf8' });
  assert.equal(sloppy.status, 0);
  assert.equal(sloppy.stderr, 'wasync: warning: -o gid: not an option wasync knows; ignored (-s)\n');
});

test("the -o options as wasync's: paths made absolute, '_' for '-', repeatable ones collected, generic ones accepted", () => {
  const call = parseHelperArgs(['src.caidx', '/mnt', '-n', '-o', 'rw,store=s.castr,seed=/dev/sda2,seed=old,extra_store=https://h/x.castr,what=archive-index', '-o', 'rate-limit-bps=1000,dev,suid,verbose,x-systemd.device-timeout=10']);
  assert.equal(call.source, 'src.caidx');
  assert.equal(call.mountpoint, '/mnt');
  const warnings: string[] = [];
  const r = helperOptions(call, '/srv/images', (w) => warnings.push(w));
  assert.deepEqual(r.opts, {
    store: '/srv/images/s.castr',
    seed: ['/dev/sda2', '/srv/images/old'],
    extraStore: ['https://h/x.castr'],
    what: 'archive-index',
    rateLimitBps: '1000',
    verbose: true,
  });
  assert.equal(r.noexec, false);
  assert.deepEqual(warnings, []);
  const files = helperOptions(parseHelperArgs(['a', 'b', '-o', `ca_cert=ca.pem,client-cert=c.pem,client-key=/k/c.key,config=c.json,encryption-key-file=e.key,encryption=aes-256-gcm,trusted-key=RWQinline,trusted-key=k.pub,min-version=2`]), ROOT, () => {}).opts;
  assert.deepEqual(files, {
    caCert: join(ROOT, 'ca.pem'),
    clientCert: join(ROOT, 'c.pem'),
    clientKey: '/k/c.key',
    config: join(ROOT, 'c.json'),
    encryptionKeyFile: join(ROOT, 'e.key'),
    encryption: 'aes-256-gcm',
    trustedKey: ['RWQinline', 'k.pub'],
    minVersion: '2',
  });
  assert.throws(() => helperOptions(parseHelperArgs(['a', 'b', '-o', 'store']), '/', () => {}), /-o store: needs a value/);
  assert.throws(() => helperOptions(parseHelperArgs(['a', 'b', '-o', 'ro=1']), '/', () => {}), /-o ro=1: ro takes no value/);
  assert.throws(() => parseHelperArgs(['a']), /a source and a mount point expected/);
  assert.throws(() => parseHelperArgs(['a', 'b', '--bogus']), /--bogus: not an option mount.wasync knows/);
});
