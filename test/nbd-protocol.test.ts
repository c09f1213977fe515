// The NBD server at the byte level, where real clients cannot take it: the
// handshake's refusals (unknown options and exports, malformed data, oversized
// options), NBD_OPT_EXPORT_NAME with NO_ZEROES and simple replies, writes and
// unknown commands refused without losing the stream, NBD_OPT_ABORT and
// NBD_CMD_DISC; replies out of order and the in-flight limit (a session over a
// reader whose reads finish when the test says); the kernel's path, a socketpair
// whose end is served without handshake, and the thread NBD_DO_IT runs on; and
// a missing chunk answered with EIO.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { parseIndex } from '../src/format/index-file.ts';
import { chunkPathBase, toHex } from '../src/chunk/chunk-id.ts';
import type { ReadAt } from '../src/engine/random-access.ts';
import { openIndexReadAt } from '../src/platform/node/io/random-access.ts';
import { NbdSession, type NbdTransport } from '../src/protocol/nbd-session.ts';
import { NbdServer } from '../src/platform/node/nbd/server.ts';
import { NBD_DO_IT, socketPair } from '../src/platform/node/nbd/kernel-device.ts';
import { loadLibc } from '../src/platform/node/linux/libc.ts';
import { koffiBackend } from '../src/platform/node/linux/libc-koffi.ts';
import * as P from '../src/protocol/nbd-protocol.ts';
import { localSource, ok, rand, requires, tempDir, wasync } from './helpers.ts';
import { RawNbd, infoRequest, startMkdev } from './nbd-fixtures.ts';

const dir = tempDir('wasync-nbdp-');
const p = (n: string) => join(dir, n);
const blob = rand('nbd-protocol', 1_000_003);
writeFileSync(p('blob.img'), blob);
ok(wasync(['make', '--chunk-size=16K:64K:256K', p('blob.caibx'), p('blob.img')]));
const sock = p('blob.sock');
const serving = startMkdev(p('blob.caibx'), `unix:${sock}`);

test('fixed newstyle handshake: refusals, NBD_OPT_LIST, NBD_OPT_INFO, then NBD_OPT_GO', async () => {
  await serving;
  const c = await RawNbd.open(sock);
  assert.equal(await c.handshake(P.NBD_FLAG_C_FIXED_NEWSTYLE), P.NBD_FLAG_FIXED_NEWSTYLE | P.NBD_FLAG_NO_ZEROES);
  for (const option of [P.NBD_OPT_STARTTLS, P.NBD_OPT_LIST_META_CONTEXT, P.NBD_OPT_EXTENDED_HEADERS, 4242]) {
    c.option(option, Buffer.from('ignored data'));
    const r = await c.optionReply();
    assert.equal(r.option, option);
    assert.equal(r.type, P.NBD_REP_ERR_UNSUP);
    assert.match(r.data.toString(), /not supported/);
  }
  c.option(P.NBD_OPT_LIST, Buffer.from('x'));
  assert.equal((await c.optionReply()).type, P.NBD_REP_ERR_INVALID);
  c.option(P.NBD_OPT_LIST);
  const server = await c.optionReply();
  assert.equal(server.type, P.NBD_REP_SERVER);
  assert.equal(server.data.toString('utf8', 4, 4 + server.data.readUInt32BE(0)), 'blob');
  assert.equal((await c.optionReply()).type, P.NBD_REP_ACK);
  c.option(P.NBD_OPT_INFO, infoRequest('nope'));
  const unknown = await c.optionReply();
  assert.equal(unknown.type, P.NBD_REP_ERR_UNKNOWN);
  assert.match(unknown.data.toString(), /no export "nope" here; this server exports "blob"/);
  c.option(P.NBD_OPT_GO, Buffer.concat([infoRequest(''), Buffer.from([0])]));
  assert.equal((await c.optionReply()).type, P.NBD_REP_ERR_INVALID, 'trailing data after the info requests');
  // An oversized option is skipped and refused; the stream stays in step.
  c.option(4243, Buffer.alloc(100_000));
  assert.equal((await c.optionReply()).type, P.NBD_REP_ERR_TOO_BIG);
  c.option(P.NBD_OPT_INFO, infoRequest('blob', [P.NBD_INFO_BLOCK_SIZE, P.NBD_INFO_NAME, P.NBD_INFO_DESCRIPTION]));
  const infos = new Map<number, Buffer>();
  for (let r = await c.optionReply(); r.type !== P.NBD_REP_ACK; r = await c.optionReply()) {
    assert.equal(r.type, P.NBD_REP_INFO);
    infos.set(r.data.readUInt16BE(0), r.data.subarray(2));
  }
  const exp = infos.get(P.NBD_INFO_EXPORT)!;
  assert.equal(Number(exp.readBigUInt64BE(0)), blob.length);
  assert.equal(exp.readUInt16BE(8), P.NBD_FLAG_HAS_FLAGS | P.NBD_FLAG_READ_ONLY | P.NBD_FLAG_CAN_MULTI_CONN);
  assert.equal(infos.get(P.NBD_INFO_NAME)!.toString(), 'blob');
  assert.match(infos.get(P.NBD_INFO_DESCRIPTION)!.toString(), /blob\.caibx/);
  const bs = infos.get(P.NBD_INFO_BLOCK_SIZE)!;
  assert.deepEqual([bs.readUInt32BE(0), bs.readUInt32BE(4), bs.readUInt32BE(8)], [1, 4096, 1 << 25]);
  c.option(P.NBD_OPT_STRUCTURED_REPLY);
  assert.equal((await c.optionReply()).type, P.NBD_REP_ACK);
  c.option(P.NBD_OPT_GO, infoRequest(''));
  const go = await c.optionReply();
  assert.equal(go.data.readUInt16BE(10), P.NBD_FLAG_HAS_FLAGS | P.NBD_FLAG_READ_ONLY | P.NBD_FLAG_CAN_MULTI_CONN | P.NBD_FLAG_SEND_DF);
  assert.equal((await c.optionReply()).type, P.NBD_REP_ACK);
  // Structured replies: data in one chunk; errors carry a message.
  c.request(P.NBD_CMD_READ, 7n, 500_000, 70_000, P.NBD_CMD_FLAG_DF);
  const data = await c.structuredReply();
  assert.deepEqual([data.flags, data.type, data.cookie], [P.NBD_REPLY_FLAG_DONE, P.NBD_REPLY_TYPE_OFFSET_DATA, 7n]);
  assert.equal(Number(data.payload.readBigUInt64BE(0)), 500_000);
  assert.ok(data.payload.subarray(8).equals(blob.subarray(500_000, 570_000)));
  c.request(P.NBD_CMD_READ, 8n, blob.length - 10, 11);
  const past = await c.structuredReply();
  assert.deepEqual([past.flags, past.type, past.cookie, past.payload.readUInt32BE(0)], [P.NBD_REPLY_FLAG_DONE, P.NBD_REPLY_TYPE_ERROR, 8n, P.NBD_EINVAL]);
  assert.match(past.payload.subarray(6).toString(), /past the end of the export/);
  c.request(P.NBD_CMD_DISC, 9n, 0, 0);
  assert.ok(await c.closedQuietly());
});

test('NBD_OPT_EXPORT_NAME with NO_ZEROES, simple replies, writes and unknown commands refused', async () => {
  await serving;
  const c = await RawNbd.open(sock);
  await c.handshake(P.NBD_FLAG_C_FIXED_NEWSTYLE | P.NBD_FLAG_C_NO_ZEROES);
  c.option(P.NBD_OPT_EXPORT_NAME, Buffer.from('blob'));
  const reply = await c.read(10);
  assert.equal(Number(reply.readBigUInt64BE(0)), blob.length);
  assert.equal(reply.readUInt16BE(8), P.NBD_FLAG_HAS_FLAGS | P.NBD_FLAG_READ_ONLY | P.NBD_FLAG_CAN_MULTI_CONN);
  c.request(P.NBD_CMD_WRITE, 1n, 0, 70_000, 0, Buffer.alloc(70_000, 1));
  c.request(P.NBD_CMD_TRIM, 2n, 0, 4096);
  c.request(P.NBD_CMD_WRITE_ZEROES, 3n, 0, 4096);
  c.request(P.NBD_CMD_FLUSH, 4n, 0, 0);
  c.request(P.NBD_CMD_BLOCK_STATUS, 5n, 0, 4096);
  c.request(P.NBD_CMD_READ, 6n, 0, 4096, P.NBD_CMD_FLAG_FUA);
  c.request(P.NBD_CMD_READ, 7n, 0, (1 << 25) + 1);
  const errors = new Map<bigint, number>();
  for (let i = 0; i < 7; i++) {
    const r = await c.simpleReply();
    errors.set(r.cookie, r.error);
  }
  assert.deepEqual(Object.fromEntries(errors), { 1: P.NBD_EPERM, 2: P.NBD_EPERM, 3: P.NBD_EPERM, 4: P.NBD_EINVAL, 5: P.NBD_EINVAL, 6: P.NBD_EINVAL, 7: P.NBD_EINVAL });
  // Concurrent reads; each reply carries its cookie and its data.
  const reads = [[0, 1], [123_456, 300_000], [blob.length - 5000, 5000], [999_000, 0]];
  reads.forEach(([off, len], i) => c.request(P.NBD_CMD_READ, BigInt(100 + i), off, len));
  for (let n = 0; n < reads.length; n++) {
    const r = await c.simpleReply();
    assert.equal(r.error, 0);
    const [off, len] = reads[Number(r.cookie) - 100];
    assert.ok((await c.read(len)).equals(blob.subarray(off, off + len)));
  }
  c.request(P.NBD_CMD_DISC, 0n, 0, 0);
  assert.ok(await c.closedQuietly());
});

test('NBD_OPT_ABORT is acknowledged; an unknown NBD_OPT_EXPORT_NAME and bad magic hang up', async () => {
  await serving;
  const a = await RawNbd.open(sock);
  await a.handshake(P.NBD_FLAG_C_FIXED_NEWSTYLE);
  a.option(P.NBD_OPT_ABORT);
  assert.equal((await a.optionReply()).type, P.NBD_REP_ACK);
  assert.ok(await a.closedQuietly());
  const b = await RawNbd.open(sock);
  await b.handshake(P.NBD_FLAG_C_FIXED_NEWSTYLE);
  b.option(P.NBD_OPT_EXPORT_NAME, Buffer.from('nope'));
  assert.ok(await b.closedQuietly());
  const c = await RawNbd.open(sock);
  await c.handshake(1 << 5);
  assert.ok(await c.closedQuietly(), 'unknown client flags');
  const d = await RawNbd.open(sock);
  await d.handshake(P.NBD_FLAG_C_FIXED_NEWSTYLE);
  d.write(Buffer.alloc(16));
  assert.ok(await d.closedQuietly(), 'an option without IHAVEOPT');
  const m = await serving;
  assert.match(m.stderr(), /NBD_OPT_EXPORT_NAME of an unknown export "nope"; disconnecting/);
  assert.match(m.stderr(), /client flags 0x20 include flags this server did not offer; disconnecting/);
});

/** A session over a reader whose reads finish when release(offset) is called. */
function gatedSession(maxInFlight: number) {
  const gates = new Map<number, () => void>();
  const started: number[] = [];
  const reader: ReadAt = {
    size: 1 << 20,
    read: (off, len) =>
      new Promise((resolve) => {
        started.push(off);
        gates.set(off, () => resolve(new Uint8Array(len).fill(off >> 12)));
      }),
  };
  const out: Buffer[] = [];
  const flow: string[] = [];
  const transport: NbdTransport = {
    write: (parts) => (out.push(Buffer.concat(parts)), true),
    end: () => flow.push('end'),
    destroy: () => flow.push('destroy'),
    pause: () => flow.push('pause'),
    resume: () => flow.push('resume'),
  };
  const session = new NbdSession({ export: { name: 'x', description: '', size: 1 << 20, reader }, transport, log: () => {}, transmissionOnly: true, maxInFlight });
  const request = (type: number, cookie: number, off: number, len: number) => {
    const r = Buffer.alloc(28);
    r.writeUInt32BE(P.NBD_REQUEST_MAGIC, 0);
    r.writeUInt16BE(type, 6);
    r.writeBigUInt64BE(BigInt(cookie), 8);
    r.writeBigUInt64BE(BigInt(off), 16);
    r.writeUInt32BE(len, 24);
    return r;
  };
  const tick = () => new Promise((r) => setImmediate(r));
  return { session, started, out, flow, request, tick, release: (off: number) => gates.get(off)!() };
}

test('reads are served concurrently, answered as they finish, at most maxInFlight at once', async () => {
  const g = gatedSession(2);
  // Three reads and a disconnect arrive in one piece, split oddly across pushes.
  const bytes = Buffer.concat([g.request(0, 1, 0, 8), g.request(0, 2, 4096, 8), g.request(0, 3, 8192, 8), g.request(2, 4, 0, 0)]);
  g.session.push(bytes.subarray(0, 30));
  g.session.push(bytes.subarray(30));
  assert.deepEqual(g.started, [0, 4096], 'the third read waits for a free slot');
  assert.deepEqual(g.flow, ['pause']);
  g.release(4096);
  await g.tick();
  assert.deepEqual(g.started, [0, 4096, 8192]);
  g.release(8192);
  await g.tick();
  assert.deepEqual(g.flow, ['pause', 'resume', 'pause', 'resume']);
  g.release(0);
  await g.tick();
  const cookies = g.out.map((b) => Number(b.readBigUInt64BE(8)));
  assert.deepEqual(cookies, [2, 3, 1], 'replies leave in the order the reads finish');
  assert.ok(g.out[0].subarray(16).equals(Buffer.alloc(8, 1)));
  assert.deepEqual(g.flow.slice(-1), ['end'], 'NBD_CMD_DISC closes once the open reads are answered');
});

test("the kernel's path: a socketpair end served without handshake, the tail padded with zeros", async (t) => {
  if (!requires(t, loadLibc([koffiBackend]) !== null, 'the libc FFI (koffi)')) return;
  // A copy of the store: a chunk is taken away below.
  spawnSync('cp', ['-r', p('default.castr'), p('kernel.castr')]);
  const { reader } = await openIndexReadAt(p('blob.caibx'), await localSource([p('kernel.castr')]));
  const size = Math.ceil(blob.length / 512) * 512;
  const logs: string[] = [];
  const server = new NbdServer({ export: { name: 'blob', description: '', size, reader }, log: (l) => logs.push(l) });
  const [ours, theirs] = socketPair();
  server.attach(new Socket({ fd: ours, readable: true, writable: true }), { transmissionOnly: true, peer: '/dev/nbd-test' });
  const kernel = new RawNbd(new Socket({ fd: theirs, readable: true, writable: true }));
  kernel.request(P.NBD_CMD_READ, 1n, size - 4096, 4096);
  kernel.request(P.NBD_CMD_READ, 2n, 0, 131_072);
  for (let i = 0; i < 2; i++) {
    const r = await kernel.simpleReply();
    assert.equal(r.error, 0);
    if (r.cookie === 1n) {
      const tail = await kernel.read(4096);
      const real = blob.length - (size - 4096);
      assert.ok(tail.subarray(0, real).equals(blob.subarray(size - 4096)));
      assert.ok(tail.subarray(real).every((b) => b === 0));
    } else {
      assert.ok((await kernel.read(131_072)).equals(blob.subarray(0, 131_072)));
    }
  }
  // A chunk that has gone missing: EIO, one log line, the connection stays up.
  const { entries } = parseIndex(readFileSync(p('blob.caibx')), 'blob.caibx');
  const victim = entries[entries.length - 2];
  unlinkSync(join(p('kernel.castr'), `${chunkPathBase(toHex(victim.id))}.cacnk`));
  kernel.request(P.NBD_CMD_READ, 3n, victim.offset, 512);
  assert.deepEqual(await kernel.simpleReply(), { error: P.NBD_EIO, cookie: 3n });
  assert.equal(logs.length, 1);
  assert.match(logs[0], new RegExp(`^/dev/nbd-test: NBD_CMD_READ of 512 bytes at ${victim.offset}: chunk ${toHex(victim.id)} is missing`));
  kernel.request(P.NBD_CMD_READ, 4n, 0, 512);
  assert.equal((await kernel.simpleReply()).error, 0);
  assert.ok((await kernel.read(512)).equals(blob.subarray(0, 512)));
  kernel.request(P.NBD_CMD_DISC, 5n, 0, 0);
  assert.ok(await kernel.closedQuietly());
  await server.close();
  // NBD_DO_IT's thread: on something that is not an nbd device it fails with
  // ENOTTY, and the errno of that thread comes back.
  const fd = openSync('/dev/null', 'r');
  try {
    assert.deepEqual(await loadLibc([koffiBackend])!.ioctlValueBlocking(fd, NBD_DO_IT, 0), { result: -1, errno: 25 });
  } finally {
    closeSync(fd);
  }
});
