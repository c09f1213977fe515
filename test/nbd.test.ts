// wasync mkdev end to end, with real NBD clients: nbdinfo (size, flags, export
// list), nbdcopy (also over TCP and from an HTTP index and store), qemu-img and
// qemu-io (bit-exact reads), an ext4 image mounted through nbdfuse → losetup →
// mount -o ro, a corrupted chunk that must give the client an I/O error and never
// data, and where the kernel has no nbd driver, the message that says to use
// --listen (where it has one, the test attaches /dev/nbdN instead).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseIndex } from '../src/format/index-file.ts';
import { chunkPathBase, toHex } from '../src/chunk/chunk-id.ts';
import { WASYNC, isRoot, ok, rand, requires, tempDir, wasync } from './helpers.ts';
import { startServe } from './http-fixtures.ts';
import { startMkdev } from './nbd-fixtures.ts';

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const tool = (cmd: string, args: string[]) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};
const must = (cmd: string, args: string[]) => {
  const r = tool(cmd, args);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
};

const dir = tempDir('wasync-nbd-');
const p = (n: string) => join(dir, n);
// An odd size: the export is exactly the blob, not rounded to sectors.
const blob = rand('nbd', 3_000_001);
writeFileSync(p('blob.img'), blob);
ok(wasync(['make', p('blob.caibx'), p('blob.img')]));

// Started here, not in a test, so that it serves every test of the file.
const shared = startMkdev(p('blob.caibx'), `unix:${p('blob.sock')}`);
const server = () => shared;

const sameAsBlob = (file: string) => assert.ok(readFileSync(file).equals(blob), `${file} differs from the blob`);

test('nbdinfo: size, read-only, multi-conn, block sizes and the export list', async (t) => {
  if (!requires(t, has('nbdinfo'), 'nbdinfo (libnbd-bin)')) return;
  const { uri } = await server();
  assert.equal(uri, `nbd+unix:///blob?socket=${p('blob.sock')}`);
  const e = JSON.parse(must('nbdinfo', ['--json', uri])).exports[0];
  assert.equal(e['export-name'], 'blob');
  assert.equal(e['export-size'], blob.length);
  assert.equal(e.is_read_only, true);
  assert.equal(e.can_multi_conn, true);
  assert.equal(e.can_flush, false);
  assert.equal(e.can_trim, false);
  assert.equal(e.block_size_minimum, 1);
  assert.equal(e.block_size_maximum, 1 << 25);
  assert.match(e.description, /blob\.caibx \(3000001 bytes in \d+ chunks/);
  // The default export ("") is the same one; --list names it.
  const list = JSON.parse(must('nbdinfo', ['--list', '--json', `nbd+unix:///?socket=${p('blob.sock')}`])).exports;
  assert.deepEqual(list.map((x: { 'export-name': string }) => x['export-name']), ['blob']);
  assert.equal(must('nbdinfo', ['--size', uri]).trim(), String(blob.length));
  const unknown = tool('nbdinfo', [`nbd+unix:///other?socket=${p('blob.sock')}`]);
  assert.notEqual(unknown.status, 0, 'an unknown export name is refused');
});

test('nbdcopy of the export (unix socket and TCP, several connections) equals the blob', async (t) => {
  if (!requires(t, has('nbdcopy'), 'nbdcopy (libnbd-bin)')) return;
  const { uri } = await server();
  must('nbdcopy', ['--connections=4', '--requests=16', uri, p('copy.img')]);
  sameAsBlob(p('copy.img'));
  const tcp = await startMkdev(p('blob.caibx'), 'tcp:127.0.0.1:0');
  assert.match(tcp.uri, /^nbd:\/\/127\.0\.0\.1:\d+\/blob$/);
  must('nbdcopy', ['--connections=2', tcp.uri, p('copy-tcp.img')]);
  sameAsBlob(p('copy-tcp.img'));
  assert.equal(await tcp.stop('SIGTERM'), 0);
  assert.equal(tcp.stderr(), '');
});

/** The bytes of a `qemu-io -c "read -v …"` hex dump. */
function hexDump(out: string): Buffer {
  const bytes: number[] = [];
  for (const m of out.matchAll(/^[0-9a-f]{8}: ((?: [0-9a-f]{2})+)/gm)) for (const h of m[1].trim().split(' ')) bytes.push(parseInt(h, 16));
  return Buffer.from(bytes);
}

test('qemu-img convert and compare, and qemu-io reads, are bit-exact', async (t) => {
  if (!requires(t, has('qemu-img') && has('qemu-io'), 'qemu-img and qemu-io (qemu-utils)')) return;
  const { uri } = await server();
  must('qemu-img', ['convert', '-f', 'raw', '-O', 'raw', uri, p('qemu.img')]);
  // qemu counts whole 512-byte sectors: what follows the export reads as zeros.
  const got = readFileSync(p('qemu.img'));
  assert.equal(got.length, Math.ceil(blob.length / 512) * 512);
  assert.ok(got.subarray(0, blob.length).equals(blob));
  assert.ok(got.subarray(blob.length).every((b) => b === 0));
  assert.match(must('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', uri, p('blob.img')]), /identical/);
  for (const [off, len] of [[0, 300], [65_000, 200_000], [1_234_567, 4096], [blob.length - 77, 77]]) {
    const out = must('qemu-io', ['-r', '-f', 'raw', uri, '-c', `read -v ${off} ${len}`]);
    assert.ok(hexDump(out).equals(blob.subarray(off, off + len)), `qemu-io read ${off} ${len}`);
  }
});

test('an ext4 image through nbdfuse, losetup and mount -o ro shows its files', async (t) => {
  const tools = ['mke2fs', 'nbdfuse', 'fusermount3', 'losetup', 'mount', 'umount'];
  if (!requires(t, isRoot && tools.every(has) && existsSync('/dev/fuse'), `root, /dev/fuse and ${tools.join(', ')}`)) return;
  const tree = p('tree');
  mkdirSync(join(tree, 'sub', 'deeper'), { recursive: true });
  writeFileSync(join(tree, 'hello.txt'), 'hello over NBD\n');
  writeFileSync(join(tree, 'sub', 'random.bin'), rand('nbd-ext4', 700_000));
  writeFileSync(join(tree, 'sub', 'deeper', 'zeros.bin'), Buffer.alloc(200_000));
  symlinkSync('hello.txt', join(tree, 'link'));
  must('mke2fs', ['-q', '-F', '-t', 'ext4', '-b', '4096', '-E', 'root_owner=0:0', '-d', tree, p('fs.img'), '16M']);
  ok(wasync(['make', `--store=${p('fs.castr')}`, p('fs.caibx'), p('fs.img')]));
  const m = await startMkdev(p('fs.caibx'), `unix:${p('fs.sock')}`, [`--store=${p('fs.castr')}`]);
  const fuse = p('fuse');
  const mnt = p('mnt');
  mkdirSync(fuse);
  mkdirSync(mnt);
  const undo: Array<() => void> = [];
  try {
    const nbdfuse = spawnSync('sh', ['-c', `nbdfuse -r -P "$1" "$2/disk" "$3" >/dev/null 2>&1 &`, 'sh', p('fuse.pid'), fuse, m.uri]);
    assert.equal(nbdfuse.status, 0);
    undo.push(() => spawnSync('fusermount3', ['-u', fuse]));
    for (let i = 0; i < 100 && !existsSync(p('fuse.pid')); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(existsSync(p('fuse.pid')), 'nbdfuse did not come up');
    const loop = must('losetup', ['-r', '-f', '--show', join(fuse, 'disk')]).trim();
    undo.push(() => spawnSync('losetup', ['-d', loop]));
    must('mount', ['-o', 'ro', '-t', 'ext4', loop, mnt]);
    undo.push(() => spawnSync('umount', [mnt]));
    assert.equal(readFileSync(join(mnt, 'hello.txt'), 'utf8'), 'hello over NBD\n');
    assert.ok(readFileSync(join(mnt, 'sub', 'random.bin')).equals(rand('nbd-ext4', 700_000)));
    assert.ok(readFileSync(join(mnt, 'sub', 'deeper', 'zeros.bin')).equals(Buffer.alloc(200_000)));
    assert.deepEqual(readdirSync(mnt).sort(), ['hello.txt', 'link', 'lost+found', 'sub']);
  } finally {
    for (const f of undo.reverse()) f();
  }
  assert.equal(await m.stop(), 0);
  assert.equal(m.stderr(), '');
  assert.ok(!existsSync(p('fs.sock')), 'the Unix socket is removed on shutdown');
});

test('a corrupt chunk is an I/O error for the reads that need it, never data', async (t) => {
  if (!requires(t, has('nbdcopy') && has('qemu-io'), 'nbdcopy and qemu-io')) return;
  const { entries } = parseIndex(readFileSync(p('blob.caibx')), 'blob.caibx');
  const victim = entries[Math.floor(entries.length / 2)];
  const store = p('bad.castr');
  rmSync(store, { recursive: true, force: true });
  spawnSync('cp', ['-r', p('default.castr'), store]);
  const file = join(store, `${chunkPathBase(toHex(victim.id))}.cacnk`);
  const bytes = readFileSync(file);
  bytes[bytes.length >> 1] ^= 0x55;
  writeFileSync(file, bytes);
  const m = await startMkdev(p('blob.caibx'), `unix:${p('bad.sock')}`, [`--store=${store}`]);
  const copy = tool('nbdcopy', ['--connections=1', m.uri, p('bad-copy.img')]);
  assert.notEqual(copy.status, 0);
  assert.match(copy.stderr, /Input\/output error/);
  const hit = tool('qemu-io', ['-r', '-f', 'raw', m.uri, '-c', `read -v ${victim.offset + 10} 100`]);
  assert.match(hit.stdout + hit.stderr, /read failed: Input\/output error/);
  assert.equal(hexDump(hit.stdout).length, 0, 'no bytes of the corrupt chunk reach the client');
  // The chunks around it are still served.
  const before = must('qemu-io', ['-r', '-f', 'raw', m.uri, '-c', `read -v ${victim.offset - 100} 100`]);
  assert.ok(hexDump(before).equals(blob.subarray(victim.offset - 100, victim.offset)));
  assert.equal(await m.stop(), 0);
  const lines = m.stderr().trim().split('\n');
  assert.ok(lines.length >= 2);
  for (const line of lines) {
    assert.match(line, new RegExp(`^wasync: connection \\d+: NBD_CMD_READ of \\d+ bytes at \\d+: chunk ${toHex(victim.id)} in .*bad\\.castr.* is corrupt`));
  }
});

test('an index and store served over HTTP work through the same reader', async (t) => {
  if (!requires(t, has('nbdcopy'), 'nbdcopy (libnbd-bin)')) return;
  const web = await startServe(dir);
  const m = await startMkdev(`${web.url}/blob.caibx`, `unix:${p('http.sock')}`, [`--store=${web.url}/default.castr`]);
  assert.match(m.uri, /^nbd\+unix:\/\/\/blob\?socket=/);
  must('nbdcopy', [m.uri, p('http-copy.img')]);
  sameAsBlob(p('http-copy.img'));
  assert.equal(await m.stop(), 0);
});

// As mkdev decides: device nodes, a loaded driver, or one modprobe can load.
const kernelNbd =
  readdirSync('/dev').some((n) => /^nbd\d+$/.test(n)) || existsSync('/sys/module/nbd') || spawnSync('modprobe', ['-n', 'nbd']).status === 0;

// One test, not two with a skip: which half runs is the kernel's to say, and this
// machine and CI have no nbd driver (the diagnostic says the attach went untested).
test('mkdev attaches /dev/nbdN where the kernel has nbd (links NODE, detaches on SIGINT), else says so and suggests --listen', async (t) => {
  if (!kernelNbd) {
    const r = spawnSync(process.execPath, [WASYNC, 'mkdev', p('blob.caibx')], { encoding: 'utf8', timeout: 60_000, killSignal: 'SIGINT' });
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stderr, /^wasync: no kernel NBD driver here: \/dev\/nbd0 does not exist.*; serve the blob to an NBD client instead with --listen=unix:PATH or --listen=tcp:HOST:PORT/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    t.diagnostic('no kernel nbd driver: the refusal was checked, attaching a device was not');
    return;
  }
  if (!requires(t, isRoot, 'root')) return;
  const link = p('blob-device');
  const child = spawn(process.execPath, [WASYNC, 'mkdev', p('blob.caibx'), link]);
  t.after(() => void (child.exitCode === null && child.kill('SIGINT')));
  let out = '';
  let err = '';
  child.stderr.on('data', (b) => (err += b));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (b) => ((out += b), /Attached: /.test(out) && resolve()));
    child.once('exit', (code) => reject(new Error(`mkdev exited (${code}): ${err}`)));
  });
  assert.equal(out.trim(), `Attached: ${link}`);
  const device = readFileSync(link);
  assert.equal(device.length, Math.ceil(blob.length / 512) * 512);
  assert.ok(device.subarray(0, blob.length).equals(blob));
  child.kill('SIGINT');
  const code = await new Promise((r) => child.once('exit', r));
  assert.equal(code, 0, err);
  assert.ok(!existsSync(link), 'the symlink is removed');
});
