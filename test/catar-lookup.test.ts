// Path lookups through GOODBYE tables (format/catar-lookup.ts): every path of a
// generated archive (a 500-entry directory, deep nesting, every node type, odd
// names) is found at the offsets a full decode reports, children come in archive
// order, a located node decodes on its own exactly as within the whole archive,
// missing paths are null, and archives with lying tables (patched bytes) are
// refused with a format error naming the file and offset: never a read outside
// the archive, never a loop.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WasyncError } from '../src/errors.ts';
import { BytesReadAt, type ReadAt } from '../src/engine/random-access.ts';
import { CatarDecoder, type CatarEvent } from '../src/format/catar-decoder.ts';
import { CatarLookup, goodbyeHash, goodbyeSearch, splitSeekPath, subtreeEvents, type CatarNodeLocation } from '../src/format/catar-lookup.ts';
import { S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFSOCK } from '../src/format/catar-node.ts';
import { rand } from './helpers.ts';
import { bytes, dir, encodeTree, file, plain, type Tree } from './catar-encoder-tree.ts';

const FLAGS = 0xb0000001ffeffe26n;
const te = (s: string) => new TextEncoder().encode(s);
const str = (parts: readonly Uint8Array[]) => parts.map((p) => Buffer.from(p).toString('latin1')).join('/');

/** A directory from (name, tree) pairs in any order; names may be bytes. */
function folder(children: [string | Uint8Array, Tree][], mode = 0o755): Tree {
  const sorted = children.map(([n, t]) => [bytes(n), t] as [Uint8Array, Tree]).sort((a, b) => Buffer.compare(a[0], b[0]));
  return { node: plain(S_IFDIR | mode, 1_000_000_000n), children: sorted };
}

function sampleTree(): Tree {
  const wide: [string | Uint8Array, Tree][] = [];
  for (let i = 0; i < 500; i++) wide.push([`f${i}`, file(0o644, `wide ${i}\n`)]);
  wide.push([Uint8Array.from([0xff, 0xfe, 0x20, 0x23]), file(0o600, 'raw name')]);
  wide.push(['zz', folder([['inner', file(0o644, 'x')]])]);
  let deep: Tree = folder([['leaf', file(0o644, 'leaf\n')]]);
  for (let i = 7; i >= 0; i--) deep = folder([[`d${i}`, deep], [`f${i}`, file(0o644, `${i}`)]]);
  return folder([
    ['wide', folder(wide)],
    ['deep', deep],
    ['empty', dir(0o1777, [])],
    ['a', file(0o644, 'hello\n')],
    ['big', file(0o644, rand('lookup-big', 200_000))],
    ['zero', file(0o444, '')],
    ['link', { node: plain(S_IFLNK | 0o777, 0n, { target: te('wide/f1') }) }],
    ['fifo', { node: plain(S_IFIFO | 0o644) }],
    ['sock', { node: plain(S_IFSOCK | 0o755) }],
    ['null', { node: plain(S_IFCHR | 0o666, 0n, { rdev: { major: 1, minor: 3 } }) }],
    ['sp ace', file(0o644, 'space')],
  ]);
}

const archive = encodeTree(FLAGS, sampleTree());

/** All events of a full decode, payload data copied. */
function decodeAll(bytes: Uint8Array): CatarEvent[] {
  const d = new CatarDecoder('sample');
  d.push(bytes);
  d.end();
  const out: CatarEvent[] = [];
  for (let e = d.next(); e; e = d.next()) out.push(e.type === 'payload' ? { ...e, data: e.data.slice() } : e);
  return out;
}
const events = decodeAll(archive);

/** Every node's location, from the full decode. */
function reference(buf: Buffer, evs: CatarEvent[]): Map<string, CatarNodeLocation & { index: number }> {
  const out = new Map<string, CatarNodeLocation & { index: number }>();
  const stack: (CatarNodeLocation & { index: number })[] = [];
  let open: (CatarNodeLocation & { index: number }) | null = null;
  evs.forEach((e, index) => {
    if (e.type === 'node') {
      const filenameOffset = e.name ? e.offset - (16 + e.name.length + 1) : null;
      if (open) open.end = filenameOffset!;
      stack.length = e.depth;
      const parent = stack[e.depth - 1];
      const isDir = (e.node.mode & 0o170000) === S_IFDIR;
      const loc = { path: e.name ? [...parent.path, e.name] : [], name: e.name ?? null, filenameOffset, entryOffset: e.offset, end: -1, mode: e.node.mode, goodbye: null, index };
      out.set(str(loc.path), loc);
      stack[e.depth] = loc;
      open = isDir ? null : loc;
    } else if (e.type === 'directory-end') {
      if (open) open.end = e.offset;
      open = null;
      const size = Number(buf.readBigUInt64LE(e.offset));
      stack[e.depth].end = e.offset + size;
      (stack[e.depth] as CatarNodeLocation).goodbye = { offset: e.offset, size };
    }
  });
  return out;
}
const ref = reference(archive, events);

test('goodbye hashes and seek paths as casync has them', () => {
  assert.equal(goodbyeHash(te('')), 0xb64acab6ca921906n);
  assert.equal(goodbyeHash(te('a.txt')), 0x30dbb40a12778187n);
  assert.equal(goodbyeHash(te('ünïcode')), 0x6a9844eb63bfeeaan);
  assert.equal(goodbyeHash(new Uint8Array(300).fill(0x61)), goodbyeHash(new Uint8Array(300).fill(0x61)));
  assert.deepEqual(splitSeekPath('//b///c.bin/').map((b) => Buffer.from(b).toString()), ['b', 'c.bin']);
  assert.deepEqual(splitSeekPath('/'), []);
  assert.deepEqual(splitSeekPath('./x').map((b) => Buffer.from(b).toString()), ['.', 'x']);
});

test('the search visits every item with the hash, in both subtrees', async () => {
  // Sorted hashes with runs of equal values, laid out as casync's BST array.
  for (let n = 1; n <= 70; n++) {
    const sorted = Array.from({ length: n }, (_, i) => BigInt(Math.floor(i / 3) * 10));
    const table: bigint[] = new Array(n);
    let next = 0;
    const inorder = (i: number) => {
      if (i >= n) return;
      inorder(2 * i + 1);
      table[i] = sorted[next++];
      inorder(2 * i + 2);
    };
    inorder(0);
    for (const h of [...new Set(sorted), 5n, -1n + 0n, 10_000n]) {
      const got: number[] = [];
      let probes = 0;
      for await (const i of goodbyeSearch(n, h, (i) => (probes++, table[i]))) got.push(i);
      const want = table.flatMap((x, i) => (x === h ? [i] : []));
      assert.deepEqual([...got].sort((a, b) => a - b), want, `n=${n} h=${h}`);
      assert.ok(probes <= n, 'each item at most once');
    }
  }
});

test('every path is found at the offsets a full decode reports', async () => {
  const lookup = new CatarLookup(new BytesReadAt(archive), 'sample.catar');
  assert.ok(ref.size > 530);
  for (const [path, want] of ref) {
    const got = await lookup.lookup(want.path);
    assert.ok(got, `found ${path}`);
    const { index: _i, ...w } = want;
    const names = (l: CatarNodeLocation) => ({ path: str(l.path), name: l.name && Buffer.from(l.name).toString('latin1') });
    assert.deepEqual({ ...got, ...names(got) }, { ...w, ...names(w) }, path);
  }
  // children() lists each directory as the decode met them.
  for (const [path, loc] of ref) {
    if (!loc.goodbye) continue;
    const kids = (await lookup.children(loc)).map((c) => str(c.path));
    const want = [...ref.keys()].filter((k) => k !== path && k.startsWith(path ? `${path}/` : '') && !k.slice(path ? path.length + 1 : 0).includes('/'));
    assert.deepEqual(kids, want, `children of ${path || '.'}`);
  }
});

test('missing paths are null', async () => {
  const lookup = new CatarLookup(new BytesReadAt(archive), 'sample.catar');
  for (const p of ['nope', 'wide/f500', 'wide/f1/below-a-file', 'link/f1', 'null/x', 'deep/d0/d1/nope', '.', '..', 'deep/./d0', 'x'.repeat(300), 'A']) {
    assert.equal(await lookup.lookup(p), null, p);
  }
  assert.equal(str((await lookup.lookup('/deep//d0/'))!.path), 'deep/d0');
  assert.equal((await lookup.lookup(''))!.entryOffset, 0);
});

test('a located node decodes on its own as within the whole archive', async () => {
  const lookup = new CatarLookup(new BytesReadAt(archive), 'sample.catar');
  const pick = [...ref.values()].filter((l, i) => !str(l.path).startsWith('wide/f') || i % 50 === 0);
  for (const loc of pick) {
    const got: CatarEvent[] = [];
    for await (const e of subtreeEvents(lookup, (await lookup.lookup(loc.path))!)) got.push(e.type === 'payload' ? { ...e, data: e.data.slice() } : e);
    // The same events as in the full decode, from the node to its end, depths shifted.
    const base = events[loc.index] as Extract<CatarEvent, { type: 'node' }>;
    const want: CatarEvent[] = [];
    for (let i = loc.index; i < events.length; i++) {
      const e = events[i];
      if (i > loc.index && ((e.type === 'node' && e.depth <= base.depth) || (e.type === 'directory-end' && e.depth < base.depth))) break;
      if (e.type === 'node') want.push({ ...e, depth: e.depth - base.depth, name: e.depth === base.depth ? got[0].type === 'node' ? (got[0] as typeof e).name : null : e.name });
      else if (e.type === 'directory-end') want.push({ ...e, depth: e.depth - base.depth });
      else if (e.type !== 'end') want.push(e);
      if (e.type === 'directory-end' && e.depth === base.depth) break;
    }
    want.push({ type: 'end' });
    const flat = (evs: CatarEvent[]) => {
      // Payload may be split differently; compare its bytes (and first offset) as one.
      const out: unknown[] = [];
      for (const e of evs) {
        const last = out[out.length - 1] as { type: string; data: Buffer; offset: number } | undefined;
        if (e.type === 'payload' && last?.type === 'payload' && last.offset + last.data.length === e.offset) last.data = Buffer.concat([last.data, e.data]);
        else out.push(e.type === 'payload' ? { type: 'payload', offset: e.offset, data: Buffer.from(e.data) } : e);
      }
      return out;
    };
    assert.deepEqual(flat(got), flat(want), str(loc.path));
  }
});

// ---------------------------------------------------------------------------
// Lying tables.

/** A ReadAt that insists on in-range reads and counts them. */
class Guarded implements ReadAt {
  reads = 0;
  constructor(private readonly inner: BytesReadAt) {}
  get size() {
    return this.inner.size;
  }
  read(offset: number, length: number) {
    if (++this.reads > 100_000) throw new Error('too many reads: a loop?');
    assert.ok(offset >= 0 && length >= 0 && offset + length <= this.size, `read(${offset}, ${length}) outside [0, ${this.size})`);
    return this.inner.read(offset, length);
  }
}

const G = archive.length - Number(archive.readBigUInt64LE(archive.length - 16));
const rootItem = (i: number) => G + 16 + 24 * i;

function patched(edit: (b: Buffer) => void): Buffer {
  const b = Buffer.from(archive);
  edit(b);
  return b;
}

async function refuses(b: Buffer, path: string, re: RegExp, how: 'lookup' | 'children' = 'lookup') {
  const lookup = new CatarLookup(new Guarded(new BytesReadAt(b)), 'lying.catar');
  const run = how === 'lookup' ? lookup.lookup(path) : lookup.lookup(path).then((l) => lookup.children(l!));
  await assert.rejects(run, (e: unknown) => {
    assert.ok(e instanceof WasyncError, `a WasyncError, not ${e}`);
    assert.equal(e.code, 'EFORMAT');
    assert.match(e.message, /^lying\.catar: .* \(at byte \d+\)$/);
    assert.match(e.message, re);
    return true;
  });
}

test('lying GOODBYE tables and records are refused with file and offset', async () => {
  const S = archive.length;
  const deep = ref.get('deep')!;
  const item0 = { offset: archive.readBigUInt64LE(rootItem(0)), size: archive.readBigUInt64LE(rootItem(0) + 8) };
  await refuses(patched((b) => b.writeBigUInt64LE(0n, S - 8)), '', /no GOODBYE tail marker/);
  await refuses(archive.subarray(0, S - 1) as Buffer, '', /no GOODBYE tail marker/);
  await refuses(patched((b) => b.writeBigUInt64LE(BigInt(S), S - 16)), '', /bad GOODBYE size/);
  await refuses(patched((b) => b.writeBigUInt64LE(BigInt(S - G + 5), S - 16)), '', /bad GOODBYE size/);
  await refuses(patched((b) => b.writeBigUInt64LE(BigInt(G - 8), S - 24)), '', /GOODBYE tail points/);
  await refuses(patched((b) => b.writeBigUInt64LE(0n, G)), '', /expected a GOODBYE record/);
  await refuses(patched((b) => b.writeBigUInt64LE(0o100644n, 24)), '', /does not start with a directory/);
  await refuses(patched((b) => b.writeBigUInt64LE(0x1n << 40n, 16)), '', /unknown feature flag bits/);
  await refuses(archive.subarray(0, 50) as Buffer, '', /too few/);
  // Items pointing outside the directory, at its own ENTRY, or into the middle of a record.
  const name0 = [...ref.values()].find((l) => l.filenameOffset === G - Number(item0.offset))!;
  const p0 = str(name0.path);
  await refuses(patched((b) => b.writeBigUInt64LE(BigInt(G + 100), rootItem(0))), p0, /points outside the directory/);
  await refuses(patched((b) => b.writeBigUInt64LE(BigInt(G), rootItem(0))), p0, /points outside the directory/);
  await refuses(patched((b) => b.writeBigUInt64LE(item0.offset + 1n, rootItem(0) + 8)), p0, /points outside the directory/);
  await refuses(patched((b) => b.writeBigUInt64LE(item0.offset - 8n, rootItem(0))), p0, /does not point at a FILENAME/);
  // A hash that is not the name's: the item is the BST root, visited first.
  await refuses(patched((b) => b.writeBigUInt64LE(goodbyeHash(te('not-there')), rootItem(0) + 16)), 'not-there', /is not that of the name/);
  // A child directory's tail, and an ENTRY whose flags differ.
  await refuses(patched((b) => b.writeBigUInt64LE(0n, deep.end - 8)), 'deep/d0', /no GOODBYE tail marker/);
  await refuses(patched((b) => b.writeBigUInt64LE(FLAGS ^ 0x2n, deep.entryOffset + 16)), 'deep', /differ from the archive's/);
  // Items that do not tile the directory.
  const wide = ref.get('wide')!;
  const wItem = wide.goodbye!.offset + 16;
  await refuses(patched((b) => b.writeBigUInt64LE(b.readBigUInt64LE(wItem + 8) + 1n, wItem + 8)), 'wide', /do not tile|points outside|FILENAME|GOODBYE/, 'children');
});

test('random damage to GOODBYE records ends in an answer, null or a format error', async () => {
  const rnd = (() => {
    let s = 12345;
    return () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
  })();
  const goodbyes = [...ref.values()].filter((l) => l.goodbye).map((l) => l.goodbye!);
  const paths = [...ref.keys()].filter((k, i) => !k.startsWith('wide/f') || i % 40 === 0);
  let errors = 0;
  for (let k = 0; k < 300; k++) {
    const g = goodbyes[Math.floor(rnd() * goodbyes.length)];
    const at = g.offset + 8 * Math.floor((rnd() * g.size) / 8);
    const values = [0n, 1n, 0xffffffffffffffffn, BigInt(Math.floor(rnd() * archive.length)), archive.readBigUInt64LE(at) ^ (1n << BigInt(Math.floor(rnd() * 64)))];
    const b = patched((x) => x.writeBigUInt64LE(values[k % values.length], at));
    const lookup = new CatarLookup(new Guarded(new BytesReadAt(b)), 'fuzz.catar');
    for (const p of paths) {
      try {
        const loc = await lookup.lookup(p);
        if (loc) assert.equal(str(loc.path), p);
      } catch (e) {
        assert.ok(e instanceof WasyncError && e.code === 'EFORMAT', `patch at ${at}, ${p}: ${e}`);
        errors++;
      }
    }
  }
  assert.ok(errors > 100, `${errors} refusals`);
});

test('errors inside a decoded subtree name archive offsets', async () => {
  for (const [subtree, victim] of [['deep', 'deep/d0/f1'], ['a', 'a'], ['', 'wide/f7']]) {
    const at = ref.get(victim)!.entryOffset;
    const b = patched((x) => x.writeBigUInt64LE(0o170644n, at + 24));
    const lookup = new CatarLookup(new Guarded(new BytesReadAt(b)), 'bad.catar');
    const loc = (await lookup.lookup(subtree))!;
    await assert.rejects(
      (async () => {
        for await (const _ of subtreeEvents(lookup, loc));
      })(),
      (e: unknown) => {
        assert.ok(e instanceof WasyncError && e.code === 'EFORMAT', String(e));
        const m = /^bad\.catar: .* \(at byte (\d+)\)$/.exec(e.message);
        assert.ok(m, e.message);
        assert.ok(Number(m[1]) >= at && Number(m[1]) < at + 64, `${e.message} (ENTRY at ${at})`);
        return true;
      },
    );
  }
});
