// Block devices: make from and extract onto loop devices, with casync's trimming
// of a partition to the size its file system declares (casync-format.md §7.8),
// so that an A/B partition round-trips to the same index as the image.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, openSync, readSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { readFileSystemSize } from '../src/format/fs-size.ts';
import { casync, haveCasync, isRoot, ok, rand, requires, tempDir, wasync } from './helpers.ts';

const haveLoop = isRoot && spawnSync('losetup', ['--version']).status === 0 && spawnSync('mkfs.ext4', ['-V']).status === 0;

function attach(file: string): string {
  const dev = execFileSync('losetup', ['--find', '--show', file], { encoding: 'utf8' }).trim();
  after(() => spawnSync('losetup', ['-d', dev]));
  return dev;
}

function head(path: string, n: number): Buffer {
  const fd = openSync(path, 'r');
  const b = Buffer.alloc(n);
  readSync(fd, b, 0, n, 0);
  closeSync(fd);
  return b;
}

test('an A/B partition round-trips through loop devices', (t) => {
  if (!requires(t, haveLoop, 'root, losetup and mkfs.ext4 (loop devices)')) return;
  const dir = tempDir();
  const p = (n: string) => join(dir, n);
  // Slot A: a 24 MiB partition holding a 16 MiB ext4 file system with some files.
  const fsBytes = 16 << 20;
  writeFileSync(p('files.bin'), rand('payload', 3 << 20));
  execFileSync('truncate', ['-s', String(24 << 20), p('a.img')]);
  execFileSync('mkfs.ext4', ['-q', '-F', '-b', '4096', '-E', 'root_owner=0:0', '-U', 'clear', '-d', dir, p('a.img'), String(fsBytes / 4096)]);
  // Fill the space after the file system with garbage that must not be indexed.
  execFileSync('dd', [`of=${p('a.img')}`, 'bs=1M', 'seek=16', 'conv=notrunc', 'status=none'], { input: rand('junk', 8 << 20) });
  const a = attach(p('a.img'));
  const store = p('s.castr');
  const made = ok(wasync(['make', `--store=${store}`, p('dev.caibx'), a]));

  // The index describes the file system only, exactly as for the image file.
  writeFileSync(p('fs.img'), head(p('a.img'), fsBytes));
  const fromFile = ok(wasync(['make', `--store=${store}`, p('file.caibx'), p('fs.img')]));
  assert.equal(made.stdout, fromFile.stdout);
  assert.deepEqual(readFileSync(p('dev.caibx')), readFileSync(p('file.caibx')));
  if (haveCasync) {
    const c = ok(casync(['make', `--store=${p('c.castr')}`, p('c.caibx'), a]));
    assert.equal(c.stdout, made.stdout);
    assert.deepEqual(readFileSync(p('c.caibx')), readFileSync(p('dev.caibx')));
  } else requires(t, false, 'the casync binary');

  // Slot B: extract in place; bytes past the image stay as they were.
  execFileSync('truncate', ['-s', String(24 << 20), p('b.img')]);
  const tailBefore = rand('b-tail', 4 << 20);
  execFileSync('dd', [`of=${p('b.img')}`, 'bs=1M', 'seek=20', 'conv=notrunc', 'status=none'], { input: tailBefore });
  const b = attach(p('b.img'));
  ok(wasync(['extract', `--store=${store}`, p('dev.caibx'), b]));
  execFileSync('sync');
  const bBytes = readFileSync(p('b.img'));
  assert.ok(bBytes.subarray(0, fsBytes).equals(head(p('a.img'), fsBytes)));
  assert.ok(bBytes.subarray(20 << 20).equals(tailBefore));
  // B reproduces A's index, and a second extract finds everything in place.
  const again = ok(wasync(['make', `--store=${store}`, p('b.caibx'), b]));
  assert.equal(again.stdout, made.stdout);
  assert.deepEqual(readFileSync(p('b.caibx')), readFileSync(p('dev.caibx')));
  const second = ok(wasync(['extract', '-v', '--seed-output=no', `--store=${store}`, p('dev.caibx'), b]));
  assert.match(second.stderr, /Chunks already in place: \d+ \(16\.0M\)/);
  assert.match(second.stderr, /fulfilled from local store: 0 /);
  // casync reads the device wasync wrote.
  if (haveCasync) {
    ok(casync(['extract', `--store=${store}`, p('dev.caibx'), p('by-casync.img')]));
    assert.ok(readFileSync(p('by-casync.img')).equals(bBytes.subarray(0, fsBytes)));
  }
});

test('a blob larger than the device is refused before writing', (t) => {
  if (!requires(t, haveLoop, 'root, losetup and mkfs.ext4 (loop devices)')) return;
  const dir = tempDir();
  const p = (n: string) => join(dir, n);
  writeFileSync(p('big.img'), rand('big', 5 << 20));
  ok(wasync(['make', `--store=${p('s.castr')}`, p('big.caibx'), p('big.img')]));
  execFileSync('truncate', ['-s', String(4 << 20), p('small.img')]);
  const dev = attach(p('small.img'));
  const r = wasync(['extract', `--store=${p('s.castr')}`, p('big.caibx'), dev]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, new RegExp(`${dev}: the blob \\(5242880 bytes\\) does not fit on the device \\(4194304 bytes\\)`));
  assert.ok(readFileSync(p('small.img')).equals(Buffer.alloc(4 << 20)));
});

test('file system sizes from superblocks, as casync reads them', () => {
  const sb = () => Buffer.alloc(1082);
  const squash = sb();
  squash.writeUInt32LE(0x73717368, 0);
  squash.writeBigUInt64LE(10000n, 40);
  assert.equal(readFileSystemSize(squash), 12288);
  const android = sb();
  android.write('ANDROID!', 0, 'latin1');
  android.writeUInt32LE(5000, 8);
  android.writeUInt32LE(3000, 16);
  android.writeUInt32LE(0, 24);
  android.writeUInt32LE(2048, 36);
  android.writeUInt32LE(100, 40);
  assert.equal(readFileSystemSize(android), 2048 + 6144 + 4096 + 0 + 2048);
  const fat = sb();
  fat.writeUInt16LE(512, 11);
  fat.writeUInt16LE(0, 19);
  fat.writeUInt32LE(65536, 32);
  fat.writeUInt16LE(0xaa55, 510);
  assert.equal(readFileSystemSize(fat), 512 * 65536);
  fat.writeUInt16LE(1000, 19);
  assert.equal(readFileSystemSize(fat), 512 * 1000);
  const ext = sb();
  ext.writeUInt32LE(4096, 1028);
  ext.writeUInt32LE(2, 1048);
  ext.writeUInt16LE(0xef53, 1080);
  assert.equal(readFileSystemSize(ext), 4096 * 4096);
  assert.equal(readFileSystemSize(sb()), null);
  assert.equal(readFileSystemSize(Buffer.alloc(1000)), null);
});
