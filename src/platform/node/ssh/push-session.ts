// The client side of `casync push` over ssh (casync-format.md §7.7): the index
// or archive, made locally first, goes to the host, and the server asks for
// the chunks its stores lack.  We send HELLO with PUSH_INDEX (plus PUSH_CHUNKS
// and PUSH_INDEX_CHUNKS when the store is on the same host) or PUSH_ARCHIVE,
// then, once the server's HELLO is in, the file in INDEX (ARCHIVE) frames of
// 64 KiB and INDEX_EOF (ARCHIVE_EOF).  Meanwhile every REQUEST is answered from
// the local store the chunks were made into: CHUNK with the stored bytes, or
// MISSING.  The server says GOODBYE once it has everything; the push has
// succeeded only when, after that, the remote command exits with status 0
// (casync installs the index after its GOODBYE).

import { toHex } from '../../../chunk/chunk-id.ts';
import { WasyncError, networkError } from '../../../errors.ts';
import { CHUNK_ID_SIZE } from '../../../format/constants.ts';
import {
  CA_PROTOCOL_ARCHIVE,
  CA_PROTOCOL_ARCHIVE_EOF,
  CA_PROTOCOL_FILE_PIECE,
  CA_PROTOCOL_INDEX,
  CA_PROTOCOL_INDEX_EOF,
  CA_PROTOCOL_PUSH_ARCHIVE,
  CA_PROTOCOL_PUSH_CHUNKS,
  CA_PROTOCOL_PUSH_INDEX,
  CA_PROTOCOL_PUSH_INDEX_CHUNKS,
  encodeChunk,
  encodeEmpty,
  encodeFile,
  encodeHello,
  encodeMissing,
} from '../../../protocol/ca-protocol.ts';
import { CaProtocolPeer } from '../../../protocol/ca-protocol-peer.ts';
import type { LocalStore } from '../storage/local-store.ts';
import { SshProcess, type SessionSpec } from './ssh-process.ts';

export interface PushResult {
  /** chunks the server asked for and got */
  sent: number;
  sentBytes: number;
  /** chunks the server asked for that the local store lacked */
  missing: string[];
}

/**
 * Pushes `file` (the index or archive bytes) and serves the server's requests
 * from `chunks`; resolves once the remote command has exited successfully.
 * `spec` names the archive or the index (one of the two), and the store when
 * there is one on the host (chunks are then pushed).
 */
export async function pushSession(spec: SessionSpec, file: AsyncIterable<Uint8Array>, chunks: LocalStore | null): Promise<PushResult> {
  if ((spec.index === null) === (spec.archive === null)) throw new RangeError('push either an index or an archive');
  const flags =
    spec.index !== null
      ? CA_PROTOCOL_PUSH_INDEX | (spec.store !== null ? CA_PROTOCOL_PUSH_CHUNKS | CA_PROTOCOL_PUSH_INDEX_CHUNKS : 0n)
      : CA_PROTOCOL_PUSH_ARCHIVE;
  const proc = new SshProcess(
    spec.host,
    { verb: 'push', archive: spec.archive, index: spec.index, store: spec.store, rateLimitBps: spec.rateLimitBps },
    { limiter: spec.limiter, verbose: spec.verbose },
  );
  const peer = new CaProtocolPeer(proc.name, flags);
  const result: PushResult = { sent: 0, sentBytes: 0, missing: [] };
  let helloIn!: () => void;
  const hello = new Promise<void>((r) => (helloIn = r));
  let goodbye = false;
  let failed: unknown = null;
  // A failed send means the child's end is gone: the receiving loop reports why.
  proc.channel.send(encodeHello(flags)).catch(() => {});
  const sender = (async () => {
    await hello;
    const [data, eof] = spec.index !== null ? [CA_PROTOCOL_INDEX, CA_PROTOCOL_INDEX_EOF] : [CA_PROTOCOL_ARCHIVE, CA_PROTOCOL_ARCHIVE_EOF];
    for await (const piece of file) {
      for (let o = 0; o < piece.length; o += CA_PROTOCOL_FILE_PIECE) {
        await proc.channel.send(encodeFile(data as typeof CA_PROTOCOL_INDEX, piece.subarray(o, o + CA_PROTOCOL_FILE_PIECE)));
      }
    }
    await proc.channel.send(encodeEmpty(eof as typeof CA_PROTOCOL_INDEX_EOF));
  })();
  sender.catch((e) => {
    // Reading the local file failed, or the pipe broke (reported by the loop below).
    if (!(e instanceof WasyncError && e.code === 'ENETWORK')) {
      failed ??= e;
      proc.kill();
    }
  });
  try {
    for await (const f of proc.channel.frames()) {
      peer.accept(f);
      if (f.kind === 'hello') helloIn();
      else if (f.kind === 'request') await answer(f.ids);
      else if (f.kind === 'goodbye') {
        goodbye = true;
        proc.channel.end();
      }
      else if (f.kind === 'abort') {
        throw networkError(`${proc.name}: the remote aborted: ${f.reason || 'no reason given'}${f.error ? ` (error ${f.error})` : ''}`);
      }
    }
  } catch (e) {
    if (proc.channel.isBroken(e)) throw await proc.failure('the session early');
    proc.kill();
    throw e;
  }
  if (failed) throw failed;
  const { code, signal } = await proc.finish();
  if (!code && !signal) proc.channel.parser.end();
  if (!goodbye || code || signal) {
    throw await proc.failure(peer.remote === null ? 'before its HELLO' : 'before its GOODBYE');
  }
  return result;

  async function answer(ids: Uint8Array) {
    for (let o = 0; o < ids.length; o += CHUNK_ID_SIZE) {
      const id = ids.subarray(o, o + CHUNK_ID_SIZE);
      const hex = toHex(id);
      const stored = (await chunks?.get(hex)) ?? null;
      if (!stored) {
        result.missing.push(hex);
        await proc.channel.send(encodeMissing(id));
        continue;
      }
      let frame: Uint8Array;
      try {
        frame = encodeChunk(id, stored, true);
      } catch (e) {
        throw networkError(`${proc.name}: chunk ${hex} cannot be sent: ${(e as Error).message}`);
      }
      await proc.channel.send(frame);
      result.sent++;
      result.sentBytes += stored.length;
    }
  }
}
