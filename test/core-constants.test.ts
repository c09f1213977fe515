// The constants src/ shares with the wasm core come from one place,
// src/generated/core-constants.ts (scripts/build-wasm.mjs reads them out of
// assembly/constants.ts): src/format exports exactly those values under the
// core's names, and the running core answers with them.

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
  const dir = shared.S_IFDIR | 0o755;
  assert.equal(core.encoderBegin(dir, 0, 0, 0n, 0n), shared.E_STATE);
  assert.equal(core.encoderInit(flags.CA_FORMAT_WITH_16BIT_UIDS | flags.CA_FORMAT_WITH_32BIT_UIDS), shared.E_FLAGS);
  assert.equal(core.encoderInit(flags.CA_FORMAT_DEFAULT), 0);
  assert.equal(core.encoderBegin(shared.S_IFREG | 0o644, 0, 0, 0n, 0n), shared.E_ROOT_NOT_DIR);

  const { core: decoder } = instantiateDecoder(4096, null);
  assert.equal(decoder.decoderStep(), shared.EV_MORE);
  decoder.decoderEof();
  assert.equal(decoder.decoderStep(), shared.EV_ERROR);
});
