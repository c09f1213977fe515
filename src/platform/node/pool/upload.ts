// Chunks made for a remote store (make --store=http://…): the store is asked
// which chunks it has (HEAD, all at once under the thread's share of
// --concurrency), and only the others are compressed and sent (PUT).

import type { Semaphore } from '../../../stores/semaphore.ts';
import type { RemoteStore } from '../stores/store-set.ts';

export async function uploadChunks(
  store: RemoteStore,
  gate: Semaphore,
  chunks: { hex: string; chunk: Uint8Array }[],
  compress: (chunk: Uint8Array) => Uint8Array | Promise<Uint8Array>,
): Promise<{ stored: number; storedBytes: number }> {
  if (!store.has || !store.put) throw new Error(`${store.name}: this store cannot be written to`);
  const unique = [...new Map(chunks.map((c) => [c.hex, c])).values()];
  const present = await Promise.all(unique.map((c) => gate.run(() => store.has!(c.hex))));
  let stored = 0;
  let storedBytes = 0;
  const sends: Promise<void>[] = [];
  for (let i = 0; i < unique.length; i++) {
    if (present[i]) continue;
    // The codec may reuse its output buffer: each body is a copy.
    const body = Uint8Array.prototype.slice.call(await compress(unique[i].chunk));
    sends.push(
      gate.run(async () => {
        if (await store.put!(unique[i].hex, body)) {
          stored++;
          storedBytes += body.length;
        }
      }),
    );
  }
  await Promise.all(sends);
  return { stored, storedBytes };
}
