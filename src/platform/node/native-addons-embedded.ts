// native-addons.ts as the single executable has it (scripts/build-exe.mjs puts
// this file in its place).  bun build bundles what a bare require() names and
// embeds the .node files those packages load, once its plugins have made their
// run-time path choices static; Bun's require exists in ES modules.  koffi is
// its addon itself, by the path Bun gives the embedded file: eval'd worker
// threads (the FUSE readers, the blocking ioctl) cannot import bundled modules,
// and koffi's loader, bundled, finds a module it takes for another version.
// Its JavaScript only adds deprecated aliases, which wasync does not use.
// beforeThreads() loads zstd-napi and lzma-native once on the main thread
// (some 20 ms, only where a pool starts): under load, two workers decoding
// their first xz chunks at once got an empty lzma-native in one of them.

import type { NativeAddons } from './native-addons.ts';
// @ts-expect-error: Bun's file import (a path inside the executable); tsc knows no .node modules.
import koffiAddon from '@koromix/koffi-linux-x64/linux_x64/koffi.node' with { type: 'file' };

export const nativeAddons: NativeAddons = {
  zstdBinding: () => require('zstd-napi/binding'),
  zstd: () => require('zstd-napi'),
  lzma: () => require('lzma-native'),
  koffi: () => require(koffiAddon),
  koffiPath: () => koffiAddon as string,
  beforeThreads: () => {
    for (const load of [nativeAddons.zstdBinding, nativeAddons.lzma]) {
      try {
        load();
      } catch {
        // Said by the job that needs the codec (chunk-codec.ts), not by every pool.
      }
    }
  },
};
