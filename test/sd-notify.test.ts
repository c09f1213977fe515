// sd_notify: casync 2 and wasync side by side under the same real datagram
// socket at $NOTIFY_SOCKET (a path, and an @abstract name), each verb casync
// notifies from giving the same READY=1 (and DEVICE=) messages; then what
// wasync sends beyond casync: STATUS= progress at most once a second, ERRNO=
// and the error line on failure, STOPPING=1 on SIGTERM for mount and mkdev,
// EXTEND_TIMEOUT_USEC= while a seed is chunked; under Bun and Deno too; and the
// library's notify callback, which the command line wires to the socket.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, WASYNC, casync, haveCasync, isRoot, ok, rand, requires, tempDir, wasync, wasyncAsync } from './helpers.ts';
import { faultyServer } from './http-fixtures.ts';
import { haveFuse, isMounted } from './mount-fixtures.ts';
import { casyncMessages, havePython, notifyListener, type Listener } from './notify-fixtures.ts';

const dir = tempDir('wasync-sd-notify-');
const img = join(dir, 'img');
const tree = join(dir, 'tree');
writeFileSync(img, rand('sd-notify', 3 << 20));
mkdirSync(join(tree, 'sub'), { recursive: true });
writeFileSync(join(tree, 'a.txt'), 'hello\n');
writeFileSync(join(tree, 'sub', 'b.bin'), rand('sd-notify-b', 300_000));

/** Each tool in a directory of its own, from the same inputs. */
const script: string[][] = [
  ['make', 'x.caibx', img],
  ['make', 'x.caidx', tree],
  ['extract', 'x.caibx', 'out.img'],
  ['extract', 'x.caidx', 'out-tree'],
  ['extract', `--seed=${img}`, 'x.caibx', 'seeded.img'],
  ['list', 'x.caidx'],
  ['mtree', tree],
  ['stat', 'x.caidx', 'sub/b.bin'],
  ['digest', 'x.caibx'],
  ['digest', tree],
];

for (const kind of ['path', 'abstract'] as const) {
  test(`${kind} socket: make, extract, list, mtree, stat and digest send casync's READY=1, at the same point`, async (t) => {
    if (!requires(t, havePython, 'python3 (the notify listener)') || !requires(t, haveCasync, 'casync')) return;
    const l = await notifyListener(kind);
    const c = join(dir, `casync-${kind}`);
    const w = join(dir, `wasync-${kind}`);
    mkdirSync(c);
    mkdirSync(w);
    for (const args of script) {
      ok(casync(args, { cwd: c, env: l.env }), `casync ${args.join(' ')}`);
      const fromCasync = await l.take();
      ok(wasync(args, { cwd: w, env: l.env }), `wasync ${args.join(' ')}`);
      const fromWasync = await l.take();
      assert.deepEqual(casyncMessages(fromCasync), ['READY=1'], `casync ${args.join(' ')}: ${JSON.stringify(fromCasync)}`);
      assert.deepEqual(casyncMessages(fromWasync), casyncMessages(fromCasync), `wasync ${args.join(' ')}: ${JSON.stringify(fromWasync)}`);
      // READY=1 comes first: the work is under way before any progress is told.
      assert.equal(fromWasync[0], 'READY=1', `wasync ${args.join(' ')}: ${JSON.stringify(fromWasync)}`);
    }
  });
}

test('mkdev with no kernel NBD device: neither casync nor wasync says READY=1', async (t) => {
  if (!requires(t, havePython, 'python3') || !requires(t, haveCasync, 'casync')) return;
  if (existsSync('/dev/nbd0')) return t.skip('this kernel has nbd devices; the attached case is not reachable here');
  const l = await notifyListener('path');
  const c = casync(['mkdev', join(dir, 'casync-path', 'x.caibx')], { env: l.env });
  assert.notEqual(c.status, 0);
  const fromCasync = await l.take();
  const w = wasync(['mkdev', join(dir, 'wasync-path', 'x.caibx')], { env: l.env });
  assert.notEqual(w.status, 0);
  const fromWasync = await l.take();
  assert.deepEqual(casyncMessages(fromCasync), []);
  assert.deepEqual(casyncMessages(fromWasync), []);
  assert.match(fromWasync.join('\n'), /^ERRNO=95$/m, 'EOPNOTSUPP: the kernel has no nbd driver');
});

test('mkdev --listen: READY=1 with DEVICE= the NBD URI once the socket listens; STOPPING=1 on SIGTERM', async (t) => {
  if (!requires(t, havePython, 'python3')) return;
  const l = await notifyListener('abstract');
  const sock = join(dir, 'nbd.sock');
  const child = spawn(process.execPath, [WASYNC, 'mkdev', `--listen=unix:${sock}`, join(dir, 'wasync-path', 'x.caibx')], { env: { ...process.env, ...l.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((r) => child.once('exit', r));
  const ready = await l.waitFor((m) => m.startsWith('READY=1'));
  const uri = `nbd+unix:///x?socket=${sock}`;
  assert.equal(ready.text, `READY=1\nDEVICE=${uri}\n`);
  assert.ok(existsSync(sock), 'the socket listens when READY=1 is sent');
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
  const texts = await l.take();
  assert.ok(texts.includes('STOPPING=1\nSTATUS=mkdev: stopping on SIGTERM'), JSON.stringify(texts));
  assert.ok(texts.includes(`STATUS=Listening on ${uri}`), JSON.stringify(texts));
  assert.ok(!existsSync(sock), 'the socket is gone');
});

for (const kind of ['path', 'abstract'] as const) {
  test(`${kind} socket: mount sends READY=1 once the file system is live, as casync does; STOPPING=1 on SIGTERM`, async (t) => {
    if (!requires(t, havePython, 'python3') || !requires(t, haveCasync, 'casync') || !requires(t, isRoot && haveFuse, 'root and /dev/fuse')) return;
    const l = await notifyListener(kind);
    const index = join(dir, 'casync-path', 'x.caidx');
    const store = join(dir, 'casync-path', 'default.castr');
    for (const tool of ['casync', 'wasync'] as const) {
      const mnt = join(dir, `mnt-${tool}-${kind}`);
      mkdirSync(mnt);
      const cmd = tool === 'casync' ? ['casync'] : [process.execPath, WASYNC];
      const child = spawn(cmd[0], [...cmd.slice(1), `--store=${store}`, 'mount', index, mnt], { env: { ...process.env, ...l.env }, stdio: ['ignore', 'pipe', 'pipe'] });
      const exited = new Promise<number | null>((r) => child.once('exit', r));
      try {
        await l.waitFor((m) => m === 'READY=1');
        assert.ok(isMounted(mnt), `${tool}: mounted when READY=1 arrives`);
      } finally {
        child.kill('SIGTERM');
        await exited;
        if (isMounted(mnt)) spawnSync('umount', ['-l', mnt]);
      }
      const texts = await l.take();
      assert.deepEqual(casyncMessages(texts), ['READY=1'], `${tool}: ${JSON.stringify(texts)}`);
      if (tool === 'wasync') {
        assert.ok(texts.includes('STOPPING=1\nSTATUS=mount: stopping on SIGTERM'), JSON.stringify(texts));
        assert.ok(texts.includes(`STATUS=Mounted ${index} on ${mnt}`), JSON.stringify(texts));
      }
    }
  });
}

test('mount with a seed: EXTEND_TIMEOUT_USEC= and the seed in STATUS= while it is chunked, before READY=1', async (t) => {
  if (!requires(t, havePython, 'python3') || !requires(t, isRoot && haveFuse, 'root and /dev/fuse')) return;
  const l = await notifyListener('path');
  const seed = join(dir, 'big-seed');
  writeFileSync(seed, rand('sd-notify-seed', 40 << 20));
  const mnt = join(dir, 'mnt-seeded');
  mkdirSync(mnt);
  const child = spawn(process.execPath, [WASYNC, `--seed=${seed}`, 'mount', join(dir, 'wasync-path', 'x.caibx'), mnt], { env: { ...process.env, ...l.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((r) => child.once('exit', r));
  try {
    await l.waitFor((m) => m === 'READY=1');
  } finally {
    child.kill('SIGTERM');
    await exited;
    if (isMounted(mnt)) spawnSync('umount', ['-l', mnt]);
  }
  const texts = await l.take();
  const extend = texts.findIndex((m) => m.startsWith('EXTEND_TIMEOUT_USEC='));
  assert.ok(extend >= 0, JSON.stringify(texts));
  assert.match(texts[extend], new RegExp(`^EXTEND_TIMEOUT_USEC=30000000\nSTATUS=chunking seed ${seed}: [\\d.]+[BKMGTPE] of 40\\.0M$`));
  assert.ok(extend < texts.indexOf('READY=1'), 'the seed is chunked before the file system is up');
});

test('STATUS= progress at most once a second: verb, bytes done of the total, rate and sources, then done', async (t) => {
  if (!requires(t, havePython, 'python3')) return;
  const l = await notifyListener('abstract');
  // Large and slow enough to last some seconds, and for several progress reports.
  const served = join(dir, 'served');
  mkdirSync(served);
  writeFileSync(join(dir, 'progress-src.img'), rand('sd-notify-progress', 20 << 20));
  ok(wasync(['make', join(served, 'p.caibx'), join(dir, 'progress-src.img')]));
  const f = await faultyServer(served, { latencyMs: 20 });
  const r = await wasyncAsync(['extract', '--concurrency=2', `${f.url}/p.caibx`, join(dir, 'progress.img')], { env: l.env });
  ok(r, 'extract');
  await l.sync();
  const status = l.all().filter((d) => d.text.startsWith('STATUS=extract: '));
  assert.ok(status.length >= 2, `several progress lines: ${JSON.stringify(status)}`);
  const line = /^STATUS=extract: [\d.]+[BKMGTPE] of 20\.0M \((\d+)%\), [\d.]+[BKMGTPE]\/s, from network 100%(, done)?$/;
  for (const s of status) assert.match(s.text, line);
  const last = status.at(-1)!;
  assert.match(last.text, /\(100%\), .*, done$/);
  // The sampled lines (all but the last, which is sent when the extraction ends) are a second apart.
  const sampled = status.slice(0, -1);
  for (let i = 1; i < sampled.length; i++) assert.ok(sampled[i].ms - sampled[i - 1].ms >= 900, `${sampled[i].ms - sampled[i - 1].ms} ms apart`);
  const pcts = status.map((s) => Number(line.exec(s.text)![1]));
  assert.deepEqual(pcts, [...pcts].sort((a, b) => a - b), 'rising');
});

test('a failure: its error line in STATUS= and ERRNO= (the system error, else one for the kind of failure)', async (t) => {
  if (!requires(t, havePython, 'python3')) return;
  const l = await notifyListener('path');
  const missing = wasync(['extract', join(dir, 'nosuch.caibx'), join(dir, 'never.img')], { env: l.env });
  assert.equal(missing.status, 1);
  assert.deepEqual(await l.take(), [`STATUS=${missing.stderr.trim()}\nERRNO=2`]);
  const usage = wasync(['make', '--digest=md5', join(dir, 'never.caibx'), img], { env: l.env });
  assert.equal(usage.status, 1);
  assert.deepEqual(await l.take(), [`STATUS=${usage.stderr.trim()}\nERRNO=22`]);
  const option = wasync(['--no-such-option', 'list', tree], { env: l.env });
  assert.equal(option.status, 1);
  assert.deepEqual(await l.take(), ["STATUS=wasync: unknown option '--no-such-option'\nERRNO=22"]);
});

test('a $NOTIFY_SOCKET that is no socket address: one warning, and the command does its work', () => {
  const r = ok(wasync(['digest', img], { env: { NOTIFY_SOCKET: 'relative/path' } }));
  assert.match(r.stdout, /^[0-9a-f]{64}\n$/);
  assert.equal(r.stderr, 'wasync: warning: $NOTIFY_SOCKET=relative/path: neither an absolute path nor an @abstract socket name; the service manager is not told\n');
  // Nobody listening there: the messages are dropped, as casync drops them.
  const gone = ok(wasync(['digest', img], { env: { NOTIFY_SOCKET: join(dir, 'no-listener') } }));
  assert.match(gone.stderr, /^wasync: warning: \$NOTIFY_SOCKET=.*no-listener: ENOENT .*; the service manager is not told\n$/);
});

const runtimes = [
  { name: 'bun', exe: join(ROOT, 'node_modules', '@oven', 'bun-linux-x64', 'bin', 'bun'), args: [] as string[] },
  { name: 'deno', exe: join(ROOT, 'node_modules', 'deno', 'deno'), args: ['run', '-A'] },
];
for (const rt of runtimes) {
  test(`${rt.name}: the same datagrams (koffi's sendto)`, async (t) => {
    if (!requires(t, havePython, 'python3') || !requires(t, existsSync(rt.exe), `${rt.name} (npm install)`)) return;
    for (const kind of ['path', 'abstract'] as const) {
      const l = await notifyListener(kind);
      const out = join(dir, `${rt.name}-${kind}`);
      mkdirSync(out);
      const r = spawnSync(rt.exe, [...rt.args, WASYNC, 'make', join(out, 'x.caibx'), img], { env: { ...process.env, ...l.env }, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const texts = await l.take();
      assert.equal(texts[0], 'READY=1', JSON.stringify(texts));
      assert.match(texts.at(-1)!, /^STATUS=make: 3\.0M of 3\.0M \(100%\), .*, done$/);
    }
  });
}

test("the library's notify: 'ready' before any progress, then 'seeding' while a seed is chunked", async () => {
  const { make, extract } = await import('../src/index.ts');
  const events: string[] = [];
  const out = join(dir, 'library');
  mkdirSync(out);
  await make({
    source: img,
    output: join(out, 'x.caibx'),
    notify: (n) => events.push(n.state),
    onProgress: () => events.at(-1) !== 'progress' && events.push('progress'),
  });
  assert.deepEqual(events, ['ready', 'progress']);
  const seeding: { seed: string; done: number; total: number | null }[] = [];
  const order: string[] = [];
  // A file the seed index has not seen, so that it is chunked.
  const seed = join(out, 'seed.img');
  writeFileSync(seed, readFileSync(img));
  await extract({
    input: join(out, 'x.caibx'),
    output: join(out, 'out.img'),
    seeds: [seed],
    notify: (n) => {
      if (order.at(-1) !== n.state) order.push(n.state);
      if (n.state === 'seeding') seeding.push(n);
    },
  });
  assert.deepEqual(order, ['ready', 'seeding'], "casync's order: ready, then the seeds are chunked");
  assert.deepEqual(seeding.at(-1), { state: 'seeding', seed, done: 3 << 20, total: 3 << 20 });
});
