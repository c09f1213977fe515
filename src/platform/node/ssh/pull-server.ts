// `wasync pull`: the far end of an ssh locator being read, on our stdin and
// stdout (casync-format.md §7.7).  We offer READABLE_STORE (when given stores),
// READABLE_INDEX and READABLE_ARCHIVE in our HELLO; once the client's HELLO
// is in and fits, the index or archive it asked for goes out in 64 KiB INDEX
// (ARCHIVE) frames and INDEX_EOF (ARCHIVE_EOF), while each REQUEST is answered
// in order: a CHUNK with the first store's stored bytes (an uncompressed chunk
// file as a zstd frame of raw blocks, which any zstd decoder reads), or
// MISSING.  The client may end with GOODBYE or just close the stream, as
// casync allows.  A malformed or misplaced frame is answered with ABORT, and
// the command fails.

import { createReadStream } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { WasyncError, ioError, usageError } from '../../../errors.ts';
import { CHUNK_ID_SIZE } from '../../../format/constants.ts';
import { toHex } from '../../../chunk/chunk-id.ts';
import {
  ABORT_EBADMSG,
  ABORT_ENOENT,
  CA_PROTOCOL_ARCHIVE,
  CA_PROTOCOL_ARCHIVE_EOF,
  CA_PROTOCOL_FILE_PIECE,
  CA_PROTOCOL_INDEX,
  CA_PROTOCOL_INDEX_EOF,
  CA_PROTOCOL_PULL_ARCHIVE,
  CA_PROTOCOL_PULL_INDEX,
  CA_PROTOCOL_READABLE_ARCHIVE,
  CA_PROTOCOL_READABLE_INDEX,
  CA_PROTOCOL_READABLE_STORE,
  encodeAbort,
  encodeChunk,
  encodeEmpty,
  encodeFile,
  encodeHello,
  encodeMissing,
} from '../../../protocol/ca-protocol.ts';
import { CaProtocolPeer } from '../../../protocol/ca-protocol-peer.ts';
import type { RateLimiter } from '../../../stores/rate-limiter.ts';
import { LocalStore } from '../storage/local-store.ts';
import { FrameChannel } from './frame-channel.ts';

export interface ServeSpec {
  archive: string | null;
  index: string | null;
  /** the write store (or null), then further stores to read */
  store: string | null;
  extra: string[];
  input: Readable;
  output: Writable;
  limiter?: RateLimiter | null;
}

export async function servePull(spec: ServeSpec): Promise<void> {
  const paths = [...(spec.store === null ? [] : [spec.store]), ...spec.extra];
  if (spec.archive === null && spec.index === null && !paths.length) throw usageError('pull: nothing to do');
  const flags =
    (paths.length ? CA_PROTOCOL_READABLE_STORE : 0n) |
    (spec.index !== null ? CA_PROTOCOL_READABLE_INDEX : 0n) |
    (spec.archive !== null ? CA_PROTOCOL_READABLE_ARCHIVE : 0n);
  const channel = new FrameChannel('wasync pull (standard input)', spec.input, spec.output, spec.limiter ?? null);
  const peer = new CaProtocolPeer(channel.name, flags);
  const stores = paths.map((s) => new LocalStore(s));
  const senders: Promise<void>[] = [];
  let stop = false;
  let fileError: WasyncError | null = null;
  await channel.send(encodeHello(flags));
  try {
    for await (const f of channel.frames()) {
      peer.accept(f);
      if (f.kind === 'hello') {
        if (peer.has('remote', CA_PROTOCOL_PULL_INDEX)) senders.push(sendFile(spec.index!, CA_PROTOCOL_INDEX, CA_PROTOCOL_INDEX_EOF));
        if (peer.has('remote', CA_PROTOCOL_PULL_ARCHIVE)) {
          senders.push(sendFile(spec.archive!, CA_PROTOCOL_ARCHIVE, CA_PROTOCOL_ARCHIVE_EOF));
        }
      } else if (f.kind === 'request') {
        for (let o = 0; o < f.ids.length; o += CHUNK_ID_SIZE) await answer(f.ids.subarray(o, o + CHUNK_ID_SIZE));
      } else if (f.kind === 'goodbye') {
        break;
      } else if (f.kind === 'abort') {
        stop = true;
        throw new WasyncError('ENETWORK', `pull: the client aborted: ${f.reason || 'no reason given'}`);
      }
      if (fileError) break;
    }
    if (!fileError) channel.parser.end();
  } catch (e) {
    // A client that has what it wanted may go away at any time, as casync allows.
    if (!fileError && channel.isBroken(e)) return;
    if (!stop && !fileError) await channel.send(encodeAbort(ABORT_EBADMSG, (e as Error).message)).catch(() => {});
    throw fileError ?? e;
  } finally {
    stop = true;
    await Promise.all(senders);
    channel.end();
  }
  if (fileError) throw fileError;

  /** Sends a file; never rejects: a file that cannot be read is an ABORT and `fileError`. */
  async function sendFile(path: string, data: bigint, eof: bigint) {
    try {
      for await (const piece of createReadStream(path, { highWaterMark: CA_PROTOCOL_FILE_PIECE })) {
        if (stop) return;
        await channel.send(encodeFile(data as typeof CA_PROTOCOL_INDEX, piece as Buffer));
      }
      if (!stop) await channel.send(encodeEmpty(eof as typeof CA_PROTOCOL_INDEX_EOF));
    } catch (e) {
      if (channel.isBroken(e) || stop) return;
      fileError = ioError('EINPUT', path, e);
      await channel.send(encodeAbort(ABORT_ENOENT, fileError.message)).catch(() => {});
      spec.input.destroy(); // ends the frame loop even if the client waits silently
    }
  }

  async function answer(id: Uint8Array) {
    const hex = toHex(id);
    for (const store of stores) {
      const stored = await store.get(hex);
      if (!stored) continue;
      await channel.send(encodeChunk(id, stored, true));
      return;
    }
    await channel.send(encodeMissing(id));
  }
}
