// The constants src/ shares with the wasm core come from one place,
// src/generated/core-constants.ts (scripts/build-wasm.mjs reads them out of
// assembly/constants.ts): src/format exports exactly those values under the
// core's names, the running core answers with them, and feature-flag
// normalization (the core's function, for the host as for the encoder and the
// decoder) follows casync's rules for every combination of the bits it touches.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as shared from '../src/generated/core-constants.ts';
import * as catar from '../src/format/catar-constants.ts';
import * as flags from '../src/format/feature-flags.ts';
import * as node from '../src/format/catar-node.ts';
import { Ev, instantiateDecoder } from '../src/format/catar-decoder-wasm.ts';
import type { EncoderCore } from '../src/format/catar-encoder-errors.ts';
import { BUZHASH_WINDOW } from '../src/chunker/sizes.ts';
import { instantiateCore } from '../src/wasm/core.ts';

const formatModules: Record<string, unknown>[] = [catar, flags, node];

test('src/format exports the generated values, and every CA_FORMAT_/S_IF constant of the core', () => {
  for (const [name, value] of Object.entries(shared)) {
    for (const m of formatModules) if (name in m) assert.equal(m[name], value, name);
    if (/^(CA_FORMAT_|S_IF)/.test(name)) assert.ok(formatModules.some((m) => name in m), `${name} is not exported`);
  }
  assert.equal(BUZHASH_WINDOW, shared.WINDOW_SIZE);
});

test('Ev has one entry per EV_ code of the core, with its value', () => {
  const evName = (key: string) => `EV_${key.replace(/(?<!^)([A-Z])/g, '_$1').toUpperCase()}`;
  assert.deepEqual(
    Object.fromEntries(Object.entries(Ev).map(([k, v]) => [evName(k), v])),
    Object.fromEntries(Object.entries(shared).filter(([n]) => n.startsWith('EV_'))),
  );
});

test('the running core answers with the generated codes', () => {
  const core = instantiateCore() as unknown as EncoderCore & { WINDOW_SIZE: WebAssembly.Global };
  assert.equal(core.WINDOW_SIZE.value, shared.WINDOW_SIZE);
  assert.equal(core.encoderBegin(shared.S_IFDIR | 0o755, 0, 0, 0n, 0n), shared.E_STATE);
  assert.equal(core.encoderInit(flags.CA_FORMAT_WITH_16BIT_UIDS | flags.CA_FORMAT_WITH_32BIT_UIDS), shared.E_FLAGS);
  assert.equal(core.encoderInit(flags.CA_FORMAT_DEFAULT), 0);
  assert.equal(core.encoderBegin(shared.S_IFREG | 0o644, 0, 0, 0n, 0n), shared.E_ROOT_NOT_DIR);

  const { core: decoder } = instantiateDecoder(4096, null);
  assert.equal(decoder.decoderStep(), shared.EV_MORE);
  decoder.decoderEof();
  assert.equal(decoder.decoderStep(), shared.EV_ERROR);
});

const f = flags;
// Every bit casync's normalization reads or writes (casync-format.md §3.3).
const NORMALIZED_BITS = [
  f.CA_FORMAT_WITH_16BIT_UIDS, f.CA_FORMAT_WITH_32BIT_UIDS, f.CA_FORMAT_WITH_USER_NAMES,
  f.CA_FORMAT_WITH_NSEC_TIME, f.CA_FORMAT_WITH_USEC_TIME, f.CA_FORMAT_WITH_SEC_TIME, f.CA_FORMAT_WITH_2SEC_TIME,
  f.CA_FORMAT_WITH_READ_ONLY, f.CA_FORMAT_WITH_PERMISSIONS, f.CA_FORMAT_WITH_ACL,
  f.CA_FORMAT_WITH_FLAG_NODUMP, f.CA_FORMAT_EXCLUDE_NODUMP, f.CA_FORMAT_WITH_SUBVOLUME, f.CA_FORMAT_WITH_SUBVOLUME_RO,
];
const TIMES = NORMALIZED_BITS.slice(3, 7);

/** casync's rules stated per group of bits, rather than as the core's sequence of steps. */
function expectedNormalization(v: bigint): bigint {
  const acl = v & f.CA_FORMAT_WITH_ACL;
  let ids = v & f.CA_FORMAT_WITH_32BIT_UIDS || v & f.CA_FORMAT_WITH_16BIT_UIDS;
  let names = v & f.CA_FORMAT_WITH_USER_NAMES;
  if (acl && !ids && !names) {
    ids = f.CA_FORMAT_WITH_32BIT_UIDS;
    names = f.CA_FORMAT_WITH_USER_NAMES;
  }
  const finestTime = TIMES.find((t) => v & t) ?? 0n;
  const permissions = acl ? 0n : v & f.CA_FORMAT_WITH_PERMISSIONS || v & f.CA_FORMAT_WITH_READ_ONLY;
  const exclude = v & f.CA_FORMAT_EXCLUDE_NODUMP;
  const nodump = exclude ? 0n : v & f.CA_FORMAT_WITH_FLAG_NODUMP;
  const ro = v & f.CA_FORMAT_WITH_SUBVOLUME_RO;
  const subvolume = ro ? f.CA_FORMAT_WITH_SUBVOLUME : v & f.CA_FORMAT_WITH_SUBVOLUME;
  const others = NORMALIZED_BITS.reduce((a, bit) => a & ~bit, v);
  return others | ids | names | finestTime | permissions | acl | exclude | nodump | ro | subvolume;
}

test("normalization: casync's rules for every combination, and the encoder refuses exactly what they change", () => {
  const core = instantiateCore() as unknown as EncoderCore;
  const others = f.CA_FORMAT_WITH_SYMLINKS | f.CA_FORMAT_WITH_XATTRS | f.CA_FORMAT_SHA512_256;
  for (let i = 0; i < 1 << NORMALIZED_BITS.length; i++) {
    const v = NORMALIZED_BITS.reduce((a, bit, j) => (i & (1 << j) ? a | bit : a), others);
    const n = f.normalizeFeatureFlags(v);
    assert.equal(n, expectedNormalization(v), f.hex64(v));
    assert.equal(core.encoderInit(v) === shared.E_FLAGS, n !== v, f.hex64(v));
  }
});
