// `make X.catar|X.caidx T.tar` against casync: a tree with every kind of node,
// owners, xattrs, ACLs, capabilities, long and unicode names and nanosecond
// times is packed by GNU tar (pax, gnu and ustar formats, sparse files) and by
// bsdtar, and wasync's archive of the tar must be byte for byte casync's archive
// of the tree the tar unpacks to (as root, owners, xattrs and ACLs kept), as a
// .catar and as a .caidx with the same chunks; from a file, from standard input,
// compressed, and through the library.  Bad tars fail with one line naming the
// entry and the offset, and leave no output and no spool.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { make } from '../src/index.ts';
import { casync, haveCasync, isRoot, ok, rand, requires, storeChunks, tempDir, wasync } from './helpers.ts';

const dir = tempDir();
const p = (...names: string[]) => join(dir, ...names);
const sh = (script: string, cwd = dir) => execFileSync('sh', ['-ec', script], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
const have = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;

/** The default --with set of a tar source (TAR_FEATURE_FLAGS), spelled for casync. */
const TAR_WITH = ['32bit-uids', 'user-names', 'nsec-time', 'permissions', 'symlinks', 'device-nodes', 'fifos', 'xattrs', 'acl', 'selinux', 'fcaps'].map(
  (f) => `--with=${f}`,
);
const UNPACK = ['--same-owner', '--numeric-owner', '--xattrs', "--xattrs-include=*", '--acls', '-xpf'];

const LONG1 = 'l'.repeat(200);
const LONG2 = `${'m'.repeat(150)}/${'n'.repeat(150)}/${'o'.repeat(120)}`;
const UNI = 'ünïcødé-файл-文件';

/** The tree: files, directories, symlinks, a hard link, a FIFO, devices, owners, xattrs, ACLs, capabilities, long names, ns times. */
function buildTree(root: string) {
  mkdirSync(root);
  writeFileSync(join(root, 'big'), rand('tar-in big', 300_000));
  writeFileSync(join(root, 'small'), 'hello\n');
  writeFileSync(join(root, 'empty'), '');
  writeFileSync(join(root, '.caexclude'), 'excluded-*\n');
  writeFileSync(join(root, 'excluded-1'), 'left out by .caexclude\n');
  sh(`
    mkdir -p d/e "${LONG2}"
    echo deep > d/e/f
    echo long > "${LONG1}"
    echo longer > "${LONG2}/file-at-the-end"
    echo unicode > "${UNI}"
    cp small suid && chmod 4755 suid
    ln -s big sym
    ln -s /nowhere/at/all dangling
    ln big d/hard
    mkfifo fifo
    mknod chr c 1 3
    mknod blk b 7 200
    chown 1000:100 small d/e/f
    chown 4242:4343 empty
    chown -h 1000:100 sym
    setfattr -n user.colour -v blue big
    setfattr -n user.empty small
    setfattr -n trusted.secret -v 42 d
    setfacl -m u:1000:rw-,g:100:r-- small
    setfacl -d -m u:1000:rwx,g:100:r-x d
    echo capable > capped && setcap cap_net_raw+ep capped
    chmod 0750 d/e
    for f in big small empty suid "${LONG1}" "${UNI}" d/e/f fifo chr blk; do touch -d '2021-03-04 05:06:07.123456789' "$f"; done
    touch -h -d '2020-01-02 03:04:05.987654321' sym dangling
    touch -d '2019-05-06 07:08:09.5' d/e d "${LONG2}"
    touch -d '2018-01-01 00:00:00.000000001' .
  `, root);
}

function unpack(tar: string, into: string) {
  mkdirSync(into);
  const r = spawnSync('tar', ['-C', into, ...UNPACK, tar]);
  assert.equal(r.status, 0, `tar -x: ${r.stderr}`);
}

function same(a: string, b: string, what: string) {
  assert.ok(readFileSync(a).equals(readFileSync(b)), `${what}: ${a} and ${b} differ`);
}

/** Where a tar read from a pipe spools its data: it must be empty afterwards. */
function spoolDir() {
  mkdirSync(p('spool'), { recursive: true });
  return p('spool');
}

let n = 0;
/** wasync's .catar of `tar` (or of its bytes on stdin) against casync's of `tree`, with `flags`. */
function compareCatar(tar: string, tree: string, flags: string[] = [], stdin = false, own: string[] = []) {
  const k = n++;
  const x = p(`w${k}.catar`);
  const y = p(`c${k}.catar`);
  ok(casync(['make', ...(flags.length ? flags : TAR_WITH), y, tree]), 'casync make');
  const r = stdin ? wasync(['make', ...own, ...flags, x, '-'], { input: readFileSync(tar), env: { TMPDIR: spoolDir() } }) : wasync(['make', ...own, ...flags, x, tar]);
  ok(r, 'wasync make');
  same(x, y, `catar of ${tar} ${flags.join(' ')}`);
  assert.equal(r.stdout, casync(['digest', ...(flags.length ? flags : TAR_WITH), y]).stdout, 'printed digest');
}

test('a pax tar (xattrs, ACLs, ns times) gives casync\'s catar and caidx of the unpacked tree', (t) => {
  if (!requires(t, haveCasync, 'the casync binary (apt-get install casync)')) return;
  if (!requires(t, isRoot, 'root (owners, device nodes, trusted xattrs)')) return;
  if (!requires(t, have('setfacl') && have('setfattr') && have('setcap'), 'setfacl, setfattr and setcap (apt-get install acl attr libcap2-bin)')) return;
  buildTree(p('src'));
  sh(`tar --format=pax --xattrs --xattrs-include='*' --acls -C src -cf pax.tar .`);
  unpack(p('pax.tar'), p('pax-u'));
  compareCatar(p('pax.tar'), p('pax-u'));
  compareCatar(p('pax.tar'), p('pax-u'), ['--with=unix']);
  compareCatar(p('pax.tar'), p('pax-u'), ['--with=best', '--without=xattrs']);
  compareCatar(p('pax.tar'), p('pax-u'), [], true);
  // An index and its chunks, with small chunks so there are many.
  const sizes = '--chunk-size=4K:16K:64K';
  ok(wasync(['make', sizes, `--store=${p('ws.castr')}`, p('w.caidx'), p('pax.tar')]), 'wasync make caidx');
  ok(casync(['make', sizes, ...TAR_WITH, `--store=${p('cs.castr')}`, p('c.caidx'), p('pax-u')]), 'casync make caidx');
  same(p('w.caidx'), p('c.caidx'), 'caidx');
  assert.deepEqual(storeChunks(p('ws.castr')), storeChunks(p('cs.castr')));
  assert.ok(storeChunks(p('ws.castr')).length > 5);
});

test('a gnu-format tar (long names and links, whole seconds) gives casync\'s catar', (t) => {
  if (!requires(t, haveCasync, 'the casync binary (apt-get install casync)')) return;
  if (!requires(t, isRoot, 'root (owners, device nodes)')) return;
  if (!existsSync(p('src'))) buildTree(p('src'));
  sh(`ln -s "${'t'.repeat(180)}" src/long-target`);
  sh(`tar --format=gnu -C src -cf gnu.tar .`);
  unpack(p('gnu.tar'), p('gnu-u'));
  compareCatar(p('gnu.tar'), p('gnu-u'));
  compareCatar(p('gnu.tar'), p('gnu-u'), [], true);
});

test('a bsdtar pax tar (LIBARCHIVE.xattr, star-style ACL text, group bits from the ACL) gives casync\'s catar', (t) => {
  if (!requires(t, haveCasync, 'the casync binary (apt-get install casync)')) return;
  if (!requires(t, isRoot, 'root (owners, device nodes)')) return;
  if (!requires(t, have('bsdtar'), 'bsdtar (apt-get install libarchive-tools)')) return;
  if (!existsSync(p('src'))) buildTree(p('src'));
  sh(`bsdtar --format=pax --xattrs --acls -C src -cf bsd.tar .`);
  // Unpacked by bsdtar: GNU tar sets a directory's time when it leaves it, and
  // bsdtar's order (d/e/, d/hard, d/e/f) returns to d/e later.  bsdtar leaves
  // the top directory's time alone; the tar's is the source's.
  mkdirSync(p('bsd-u'));
  sh(`bsdtar -C bsd-u --acls --xattrs --numeric-owner -xpf bsd.tar && touch -r src bsd-u`);
  compareCatar(p('bsd.tar'), p('bsd-u'));
});

test('sparse files (gnu \'S\' with extension blocks, pax 0.1 and 1.0) are archived whole, holes as zeros', (t) => {
  if (!requires(t, haveCasync, 'the casync binary (apt-get install casync)')) return;
  // 40 data regions: more than the 4 of a gnu header and the 21 of one extension block.
  sh(`mkdir sparse && truncate -s 50M sparse/holes && for i in $(seq 0 39); do printf "region $i" | dd of=sparse/holes bs=1 seek=$((i * 1234567 + 4096)) conv=notrunc 2>/dev/null; done
      touch -d @1500000000.5 sparse/holes sparse`);
  for (const [format, version] of [['gnu', ''], ['pax', '0.1'], ['pax', '1.0']]) {
    const tar = p(`sparse-${format}${version}.tar`);
    sh(`tar --sparse ${version ? `--sparse-version=${version}` : ''} --format=${format} -C sparse -cf ${tar} .`);
    assert.ok(readFileSync(tar).length < 1 << 20, 'the tar is sparse');
    const into = p(`sparse-${format}${version}-u`);
    unpack(tar, into);
    compareCatar(tar, into);
    compareCatar(tar, into, [], true);
  }
});

test('ustar paths split at prefix, gnu base-256 ids and times before 1970', (t) => {
  if (!requires(t, haveCasync, 'the casync binary (apt-get install casync)')) return;
  if (!requires(t, isRoot, 'root (owners)')) return;
  const deep = `${'q'.repeat(90)}/${'r'.repeat(40)}`; // a path of 185 bytes: prefix and name
  sh(`mkdir -p odd/pp/${deep} && echo c > odd/pp/${deep}/${'s'.repeat(60)}
      echo a > odd/old && touch -d '1960-01-01 00:00:00.25' odd/old
      echo b > odd/bigid && chown 3000000:3000001 odd/bigid
      tar --format=ustar -C odd -cf ustar.tar pp
      tar --format=gnu -C odd -cf gnu-odd.tar .
      tar --format=pax -C odd -cf pax-odd.tar .`);
  for (const tar of ['ustar.tar', 'gnu-odd.tar', 'pax-odd.tar']) {
    unpack(p(tar), p(`${tar}-u`));
    if (tar === 'ustar.tar') sh(`touch -d @0 ${tar}-u`);
    compareCatar(p(tar), p(`${tar}-u`));
  }
});

test('compressed tars (gzip, xz, zstd) are read as they stream', (t) => {
  if (!requires(t, haveCasync, 'the casync binary (apt-get install casync)')) return;
  if (!requires(t, isRoot, 'root (owners, device nodes)')) return;
  if (!existsSync(p('pax.tar'))) return t.skip('needs the pax test first');
  for (const [tool, suffix] of [['gzip', 'tar.gz'], ['xz', 'tar.xz'], ['zstd', 'tar.zst']]) {
    if (!requires(t, have(tool), `${tool}`)) return;
    sh(`${tool} -c < pax.tar > pax.${suffix}`);
    compareCatar(p(`pax.${suffix}`), p('pax-u'));
  }
  // The suffix does not matter with --input-format=tar; the magic decides on compression.
  sh('cp pax.tar.gz pax.data');
  compareCatar(p('pax.data'), p('pax-u'), [], false, ['--input-format=tar']);
});

test('directories the tar only implies are 0755, root-owned, time 0; a later entry replaces an earlier one', (t) => {
  if (!requires(t, haveCasync, 'the casync binary (apt-get install casync)')) return;
  if (!requires(t, isRoot, 'root')) return;
  sh(`mkdir -p imp/a/b && echo one > imp/a/b/f && echo x > imp/top && touch -d @1600000000.25 imp/a/b/f imp/top
      tar --format=pax -C imp --no-recursion -cf imp.tar a/b/f top
      echo two-longer > imp/top && touch -d @1600000001 imp/top && tar --format=pax -C imp -rf imp.tar top`);
  unpack(p('imp.tar'), p('imp-u'));
  sh(`chmod 755 imp-u imp-u/a imp-u/a/b && chown 0:0 imp-u imp-u/a imp-u/a/b && touch -d @0 imp-u/a/b imp-u/a imp-u`);
  assert.equal(readFileSync(p('imp-u', 'top'), 'utf8'), 'two-longer\n');
  compareCatar(p('imp.tar'), p('imp-u'));
});

/** A tar with one entry named `name`, made by Python's tarfile (GNU tar would not write these). */
function pyTar(out: string, name: string) {
  execFileSync('python3', ['-c', `
import tarfile, io, sys
t = tarfile.open(sys.argv[1], 'w', format=tarfile.GNU_FORMAT)
for n in ['ok', sys.argv[2]]:
    i = tarfile.TarInfo(n); i.size = 3; t.addfile(i, io.BytesIO(b'abc'))
t.close()`, out, name]);
}

/** A tar of raw entries (name, typeflag, data, size field) with right checksums, for what no tar tool writes. */
function rawTar(out: string, entries: [string, string, string, number?][]) {
  execFileSync('python3', ['-c', `
import sys, json
out = b''
for name, flag, data, size in json.loads(sys.argv[2]):
    data = data.encode()
    h = bytearray(512)
    h[0:len(name)] = name.encode()
    h[100:108] = b'0000644\\0'; h[108:116] = b'0000000\\0'; h[116:124] = b'0000000\\0'
    h[124:136] = ('%011o' % (len(data) if size is None else size)).encode() + b'\\0'
    h[136:148] = b'00000000000\\0'; h[156:157] = flag.encode(); h[257:265] = b'ustar\\x0000'
    h[148:156] = b' ' * 8
    h[148:156] = ('%06o' % sum(h)).encode() + b'\\0 '
    out += bytes(h) + data + b'\\0' * (-len(data) % 512)
open(sys.argv[1], 'wb').write(out + b'\\0' * 1024)`, out, JSON.stringify(entries.map((e) => [e[0], e[1], e[2], e[3] ?? null]))]);
}

test('bad tars: one line naming the entry and the offset, status 1, no output', (t) => {
  if (!requires(t, have('python3'), 'python3')) return;
  mkdirSync(p('bad'));
  const good = p('bad', 'good.tar');
  pyTar(good, 'second');
  const bytes = readFileSync(good);
  writeFileSync(p('bad', 'truncated.tar'), bytes.subarray(0, 1536 + 1));
  writeFileSync(p('bad', 'no-end.tar'), bytes.subarray(0, 2048));
  const flipped = Buffer.from(bytes);
  flipped[1024 + 3] ^= 1; // a name byte of the second header
  writeFileSync(p('bad', 'checksum.tar'), flipped);
  pyTar(p('bad', 'dotdot.tar'), 'a/../../evil');
  pyTar(p('bad', 'absolute.tar'), '/etc/evil');
  pyTar(p('bad', 'through-file.tar'), 'ok/inner');
  rawTar(p('bad', 'bad-pax.tar'), [['ok', '0', 'abc'], ['pax', 'x', '12 path\n'], ['f', '0', '']]);
  rawTar(p('bad', 'huge-pax.tar'), [['ok', '0', 'abc'], ['pax', 'x', '', 1 << 30]]);
  rawTar(p('bad', 'volume.tar'), [['ok', '0', 'abc'], ['part', 'M', '']]);
  rawTar(p('bad', 'type.tar'), [['ok', '0', 'abc'], ['what', 'Q', '']]);
  writeFileSync(p('bad', 'hardlink.tar'), '');
  execFileSync('python3', ['-c', `
import tarfile, sys
t = tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT)
i = tarfile.TarInfo('link'); i.type = tarfile.LNKTYPE; i.linkname = 'nothing'; t.addfile(i)
t.close()`, p('bad', 'hardlink.tar')]);
  const cases: [string, RegExp][] = [
    ['truncated.tar', /truncated\.tar: truncated archive: the input ends in the data of an entry \(at byte 1537\)$/],
    ['no-end.tar', /no-end\.tar: truncated archive: the input ends without its end-of-archive blocks \(at byte 2048\)$/],
    ['checksum.tar', /checksum\.tar: entry "secnnd": bad header checksum .* \(at byte 1024\)$/],
    ['dotdot.tar', /dotdot\.tar: entry "a\/\.\.\/\.\.\/evil": path with a '\.\.' component .* \(at byte 1024\)$/],
    ['absolute.tar', /absolute\.tar: entry "\/etc\/evil": absolute path .* \(at byte 1024\)$/],
    ['through-file.tar', /through-file\.tar: entry "ok\/inner": its parent "ok" is not a directory in the archive \(at byte 1024\)$/],
    ['bad-pax.tar', /bad-pax\.tar: bad pax header: malformed record at its byte 0 \(at byte 1024\)$/],
    ['huge-pax.tar', /huge-pax\.tar: extended header 'x' of 1073741824 bytes \(at most 8388608\) \(at byte 1024\)$/],
    ['volume.tar', /volume\.tar: entry "part": multi-volume archives are not supported \(at byte 1024\)$/],
    ['type.tar', /type\.tar: entry "what": unknown entry type 'Q' \(at byte 1024\)$/],
    ['hardlink.tar', /hardlink\.tar: entry "link": a hard link to "nothing", which no earlier entry made \(at byte 0\)$/],
  ];
  for (const [name, message] of cases) {
    for (const out of ['x.catar', 'x.caidx']) {
      const r = wasync(['make', `--store=${p('bad', 's.castr')}`, p('bad', out), p('bad', name)]);
      assert.equal(r.status, 1, `${name}: ${r.stderr}`);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], new RegExp(`^wasync: .*${message.source}`), name);
      assert.ok(!existsSync(p('bad', out)), `${name}: no ${out}`);
    }
    // From standard input too (the spool path), naming it.
    const r = wasync(['make', p('bad', 'x.catar'), '-'], { input: readFileSync(p('bad', name)), env: { TMPDIR: spoolDir() } });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^wasync: standard input: /);
  }
  assert.deepEqual(readdirSync(p('bad')).filter((f) => !f.endsWith('.tar') && f !== 's.castr'), []);
  assert.deepEqual(readdirSync(p('spool')), [], 'the spool is gone');
  // A name that says nothing about a tar is a blob, unless --input-format=tar says so.
  const r = wasync(['make', p('bad', 'x.catar'), p('bad', 'checksum.tar'), '--input-format=zip']);
  assert.match(r.stderr, /^wasync: --input-format=zip: not one of tar$/m);
});

test('the library takes a tar as bytes or as an async iterable (inputFormat: tar)', async (t) => {
  if (!existsSync(p('pax.tar'))) return t.skip('needs the pax test first');
  const tar = readFileSync(p('pax.tar'));
  const whole = await make({ source: tar, inputFormat: 'tar', what: 'archive' });
  async function* pieces() {
    for (let at = 0; at < tar.length; at += 7777) yield tar.subarray(at, at + 7777);
  }
  const streamed = await make({ source: pieces(), inputFormat: 'tar', what: 'archive' });
  const fromFile = await make({ source: p('pax.tar'), what: 'archive' });
  assert.ok(Buffer.from(whole.bytes!).equals(readFileSync(p('w0.catar'))));
  assert.ok(Buffer.from(streamed.bytes!).equals(Buffer.from(whole.bytes!)));
  assert.ok(Buffer.from(fromFile.bytes!).equals(Buffer.from(whole.bytes!)));
  assert.equal(whole.digest, fromFile.digest);
});

test('a tar 3,000 directories deep (deeper than casync goes) is archived, and lists back', (t) => {
  if (!requires(t, have('python3'), 'python3')) return;
  execFileSync('python3', ['-c', `
import tarfile, io, sys
t = tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT)
p = ''
for i in range(3000):
    p += 'd/'
    d = tarfile.TarInfo(p.rstrip('/')); d.type = tarfile.DIRTYPE; d.mode = 0o755; t.addfile(d)
    f = tarfile.TarInfo(p + 'f'); f.size = 1; t.addfile(f, io.BytesIO(b'x'))
t.close()`, p('deep.tar')]);
  ok(wasync(['make', p('deep.catar'), p('deep.tar')]), 'wasync make');
  const listed = ok(wasync(['list', p('deep.catar')]), 'wasync list').stdout.trim().split('\n');
  assert.equal(listed.length, 1 + 2 * 3000);
});
