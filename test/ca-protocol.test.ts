// CA_PROTOCOL framing (src/protocol/): the encoders' exact bytes, the
// incremental parser fed in pieces of every size, every malformed frame it
// must refuse (with the frame and byte offset named), and the session rules
// of ca-protocol-peer.ts, HELLO flag checks included, as casync applies them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WasyncError } from '../src/errors.ts';
import {
  CA_PROTOCOL_ABORT,
  CA_PROTOCOL_ARCHIVE,
  CA_PROTOCOL_ARCHIVE_EOF,
  CA_PROTOCOL_CHUNK,
  CA_PROTOCOL_GOODBYE,
  CA_PROTOCOL_HELLO,
  CA_PROTOCOL_INDEX,
  CA_PROTOCOL_INDEX_EOF,
  CA_PROTOCOL_MISSING,
  CA_PROTOCOL_REQUEST,
  CA_PROTOCOL_SIZE_MAX,
  encodeAbort,
  encodeChunk,
  encodeEmpty,
  encodeFile,
  encodeHello,
  encodeMissing,
  encodeRequest,
  helloProblem,
} from '../src/protocol/ca-protocol.ts';
import { FrameParser, type CaProtocolFrame } from '../src/protocol/frame-parser.ts';
import { CaProtocolPeer } from '../src/protocol/ca-protocol-peer.ts';

const id = (n: number) => new Uint8Array(32).fill(n);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** A frame from raw parts: size, type, body (the size may lie). */
function raw(size: bigint | number, type: bigint, body: Uint8Array = new Uint8Array(0)): Uint8Array {
  const b = new Uint8Array(16 + body.length);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, BigInt(size), true);
  v.setBigUint64(8, type, true);
  b.set(body, 16);
  return b;
}
const le64 = (x: bigint) => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, x, true);
  return b;
};
const cat = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

function parseAll(bytes: Uint8Array, piece = bytes.length): CaProtocolFrame[] {
  const p = new FrameParser('test stream');
  const out: CaProtocolFrame[] = [];
  for (let o = 0; o < bytes.length; o += piece) out.push(...p.push(bytes.subarray(o, o + piece)));
  p.end();
  return out;
}

function refuses(bytes: Uint8Array, pattern: RegExp) {
  assert.throws(
    () => parseAll(bytes),
    (e: unknown) => e instanceof WasyncError && e.code === 'EFORMAT' && pattern.test(e.message) && /^test stream: /.test(e.message),
  );
}

test('encoders write casync’s layout', () => {
  // The client HELLO of a captured `casync extract host:…` session.
  assert.equal(hex(encodeHello(0xc0n)), '1800000000000000eefba58c94d0713cc000000000000000');
  assert.equal(hex(encodeEmpty(CA_PROTOCOL_INDEX_EOF)), `1000000000000000${hex(le64(CA_PROTOCOL_INDEX_EOF))}`);
  const req = encodeRequest(cat(id(1), id(2)), true);
  assert.equal(req.length, 24 + 64);
  assert.deepEqual(new DataView(req.buffer).getBigUint64(16, true), 1n);
  const chunk = encodeChunk(id(3), new Uint8Array([9, 9, 9]), true);
  assert.equal(hex(chunk.subarray(0, 24)), `3b00000000000000${hex(le64(CA_PROTOCOL_CHUNK))}0100000000000000`);
  assert.equal(encodeMissing(id(4)).length, 48);
  const abort = encodeAbort(2, 'no such\tfile');
  assert.equal(abort[abort.length - 1], 0);
  assert.equal(Buffer.from(abort.subarray(24, -1)).toString(), 'no such?file');
  assert.throws(() => encodeHello(0n), RangeError);
  assert.throws(() => encodeHello(0x4000n), RangeError);
  assert.throws(() => encodeFile(CA_PROTOCOL_INDEX, new Uint8Array(0)), RangeError);
  assert.throws(() => encodeChunk(id(1), new Uint8Array(CA_PROTOCOL_SIZE_MAX), true), RangeError);
});

test('every frame kind round-trips, whatever the pieces the stream arrives in', () => {
  const stream = cat(
    encodeHello(0xe00n),
    encodeFile(CA_PROTOCOL_INDEX, new Uint8Array(1000).fill(7)),
    encodeEmpty(CA_PROTOCOL_INDEX_EOF),
    encodeFile(CA_PROTOCOL_ARCHIVE, new Uint8Array([1])),
    encodeEmpty(CA_PROTOCOL_ARCHIVE_EOF),
    encodeRequest(cat(id(1), id(2), id(3)), false),
    encodeChunk(id(2), new Uint8Array(5000).fill(2), false),
    encodeMissing(id(3)),
    encodeAbort(74, 'bad message — ünïcode'),
    encodeEmpty(CA_PROTOCOL_GOODBYE),
  );
  for (const piece of [1, 3, 16, 17, 999, stream.length]) {
    const f = parseAll(stream, piece);
    assert.deepEqual(
      f.map((x) => x.kind),
      ['hello', 'index', 'index-eof', 'archive', 'archive-eof', 'request', 'chunk', 'missing', 'abort', 'goodbye'],
      `pieces of ${piece}`,
    );
    assert.equal(f[0].kind === 'hello' && f[0].flags, 0xe00n);
    assert.equal(f[1].kind === 'index' && f[1].data.length, 1000);
    assert.equal(f[5].kind === 'request' && !f[5].highPriority && f[5].ids.length, 96);
    assert.ok(f[6].kind === 'chunk' && !f[6].compressed && hex(f[6].id) === hex(id(2)) && f[6].data.length === 5000);
    assert.ok(f[8].kind === 'abort' && f[8].error === 74 && f[8].reason === 'bad message — ünïcode');
    assert.deepEqual(
      f.map((x) => x.at),
      [0, 24, 1040, 1056, 1073, 1089, 1209, 6265, 6313, f[9].at],
    );
  }
});

test('malformed frames are refused, naming the frame and its offset', () => {
  const hello = encodeHello(0xc0n);
  refuses(raw(15, CA_PROTOCOL_HELLO), /size 15 is below the minimum of 16 \(at byte 0\)/);
  refuses(cat(hello, raw(0, CA_PROTOCOL_GOODBYE)), /CA_PROTOCOL_GOODBYE: size 0 .*\(at byte 24\)/);
  refuses(raw(CA_PROTOCOL_SIZE_MAX + 1, CA_PROTOCOL_CHUNK), /CA_PROTOCOL_CHUNK: size 16777217 exceeds the maximum of 16777216/);
  refuses(raw(0xffffffffffffffffn, CA_PROTOCOL_INDEX), /exceeds the maximum/);
  refuses(raw(16, 0x1234n), /frame of unknown type 0x0000000000001234/);
  refuses(raw(32, CA_PROTOCOL_HELLO, new Uint8Array(16)), /CA_PROTOCOL_HELLO frame of 32 bytes: it must be exactly 24/);
  refuses(raw(24, CA_PROTOCOL_HELLO, le64(0n)), /offers and wants nothing/);
  refuses(raw(24, CA_PROTOCOL_HELLO, le64(0xffffffffffffffffn)), /all ones/);
  refuses(raw(16, CA_PROTOCOL_INDEX), /CA_PROTOCOL_INDEX frame of 16 bytes: it carries no data/);
  refuses(raw(16, CA_PROTOCOL_ARCHIVE), /CA_PROTOCOL_ARCHIVE frame of 16 bytes: it carries no data/);
  refuses(raw(17, CA_PROTOCOL_INDEX_EOF, new Uint8Array(1)), /CA_PROTOCOL_INDEX_EOF frame of 17 bytes: it must be exactly 16/);
  refuses(raw(20, CA_PROTOCOL_GOODBYE, new Uint8Array(4)), /CA_PROTOCOL_GOODBYE frame of 20 bytes/);
  refuses(raw(24, CA_PROTOCOL_REQUEST, le64(1n)), /CA_PROTOCOL_REQUEST frame of 24 bytes: it names no chunk/);
  refuses(raw(24 + 40, CA_PROTOCOL_REQUEST, cat(le64(1n), new Uint8Array(40))), /40 bytes of ids are not whole 32-byte chunk ids/);
  refuses(raw(56, CA_PROTOCOL_REQUEST, cat(le64(2n), id(1))), /CA_PROTOCOL_REQUEST .*unknown flags 0x2/);
  refuses(raw(56, CA_PROTOCOL_CHUNK, cat(le64(1n), id(1))), /CA_PROTOCOL_CHUNK frame of 56 bytes: it carries no chunk data/);
  refuses(raw(57, CA_PROTOCOL_CHUNK, cat(le64(4n), id(1), new Uint8Array(1))), /CA_PROTOCOL_CHUNK .*unknown flags 0x4/);
  refuses(raw(49, CA_PROTOCOL_MISSING, new Uint8Array(33)), /CA_PROTOCOL_MISSING frame of 49 bytes: it must be exactly 48/);
  refuses(raw(24, CA_PROTOCOL_ABORT, le64(0n)), /CA_PROTOCOL_ABORT frame of 24 bytes: it has no reason/);
  refuses(raw(26, CA_PROTOCOL_ABORT, cat(le64(0n), new Uint8Array([0x41, 0x42]))), /does not end in NUL/);
  refuses(raw(27, CA_PROTOCOL_ABORT, cat(le64(0n), new Uint8Array([0x41, 0x0a, 0]))), /control byte 0x0a at 25/);
  refuses(raw(25, CA_PROTOCOL_ABORT, cat(le64(0x7fffffffn), new Uint8Array([0]))), /error code 2147483647 is out of range/);
  // A stream that stops inside a frame, or inside a header.
  refuses(cat(hello, encodeChunk(id(1), new Uint8Array(100), true).subarray(0, 60)), /ends inside a frame of 156 bytes \(60 bytes of it arrived\) \(at byte 24\)/);
  refuses(hello.subarray(0, 10), /ends inside a frame header/);
});

test('an absurd size is refused as soon as the header is in, before any body', () => {
  const p = new FrameParser('test stream');
  assert.throws(() => p.push(raw(CA_PROTOCOL_SIZE_MAX * 4, CA_PROTOCOL_INDEX)), /exceeds the maximum/);
});

test('HELLO flags: casync’s checks', () => {
  assert.equal(helloProblem(0x5n, 0xc0n), null); // pull server, extract client
  assert.equal(helloProblem(0xan, 0xe00n), null); // push server, make client
  assert.equal(helloProblem(0x10n, 0x100n), null); // archive pull
  assert.equal(helloProblem(0x20n, 0x1000n), null); // archive push
  assert.match(helloProblem(0x5n, 0x2000n)!, /bits this protocol version does not know/);
  assert.match(helloProblem(0xan, 0x800n | 0x400n)!, /PUSH_INDEX_CHUNKS without PUSH_INDEX and PUSH_CHUNKS/);
  assert.match(helloProblem(0x4n, 0xc0n)!, /the peer wants to pull chunks, which needs a readable store/);
  assert.match(helloProblem(0x100n, 0x4n)!, /this side wants to pull an archive, which needs a readable archive, and the peer offers READABLE_INDEX/);
  assert.match(helloProblem(0x1n, 0x4n)!, /neither side asks for any operation/);
});

test('session rules: what may come when', () => {
  const at = { at: 0 };
  const client = () => new CaProtocolPeer('client', 0xc0n);
  const bad = (p: CaProtocolPeer, f: CaProtocolFrame, pattern: RegExp) =>
    assert.throws(() => p.accept(f), (e: unknown) => e instanceof WasyncError && e.code === 'EFORMAT' && pattern.test(e.message));
  const hello = (flags: bigint): CaProtocolFrame => ({ ...at, kind: 'hello', flags });
  const index: CaProtocolFrame = { ...at, kind: 'index', data: new Uint8Array(1) };
  const chunk: CaProtocolFrame = { ...at, kind: 'chunk', compressed: true, id: id(1), data: new Uint8Array(1) };
  const request: CaProtocolFrame = { ...at, kind: 'request', highPriority: true, ids: id(1) };

  let p = client();
  bad(p, index, /a index frame before CA_PROTOCOL_HELLO/);
  p.accept({ ...at, kind: 'abort', error: 0, reason: 'x' }); // any time
  bad(p, hello(0x4n), /the peer offers READABLE_INDEX/);
  p = client();
  p.accept(hello(0x5n));
  assert.equal(p.remote, 0x5n);
  bad(p, hello(0x5n), /a second CA_PROTOCOL_HELLO/);
  p.accept(index);
  p.accept(chunk);
  p.accept({ ...at, kind: 'missing', id: id(1) });
  bad(p, request, /CA_PROTOCOL_REQUEST, but no chunks flow to the peer/);
  bad(p, { ...at, kind: 'archive', data: new Uint8Array(1) }, /an archive frame, but no archive is being sent here/);
  p.accept({ ...at, kind: 'index-eof' });
  bad(p, index, /after CA_PROTOCOL_INDEX_EOF/);
  p.accept({ ...at, kind: 'goodbye' });
  bad(p, chunk, /after CA_PROTOCOL_GOODBYE/);

  // The push server's view: the client pushes an index and its chunks.
  const server = new CaProtocolPeer('server', 0xan);
  server.accept(hello(0xe00n));
  server.accept(index);
  server.accept(chunk);
  bad(server, request, /no chunks flow to the peer/);
  assert.throws(() => new CaProtocolPeer('x', 0xcn), /both readable and writable/);
});
