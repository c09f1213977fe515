// `wasync push`: the far end of an ssh locator being written, on our stdin and
// stdout (casync-format.md §7.7).  We offer WRITABLE_STORE, WRITABLE_INDEX and
// WRITABLE_ARCHIVE as given.  The client's index arrives in INDEX frames; it
// is written under a temporary name beside its place and parsed as it comes,
// and, when the client asked for PUSH_INDEX_CHUNKS, every chunk it lists that
// none of our stores holds is requested (REQUEST, low priority, each id once).
// Each CHUNK is checked before it is stored: it must have been requested, and
// must decompress to the size the index gives it and hash to its id with the
// index's digest; then it goes into the write store under a temporary name,
// linked into place (LocalStore).  Nothing unverified is ever stored.  When
// the index is complete and every requested chunk is in, the index is renamed
// into place and we say GOODBYE.  An ARCHIVE is written and renamed the same
// way.  A chunk that is corrupt or MISSING, or a malformed frame, is answered
// with ABORT; the command fails and the old index, if any, stays.

import { toHex } from '../../../chunk/chunk-id.ts';
import type { DigestName } from '../../../chunk/digest.ts';
import { WasyncError, chunkCorrupt, formatError, networkError, usageError } from '../../../errors.ts';
import { CHUNK_ID_SIZE } from '../../../format/constants.ts';
import { digestOfFlags } from '../../../format/feature-flags.ts';
import { IndexParser, type IndexEntry } from '../../../format/index-file.ts';
import {
  ABORT_EBADMSG,
  ABORT_EIO,
  ABORT_ENOENT,
  CA_PROTOCOL_GOODBYE,
  CA_PROTOCOL_PUSH_ARCHIVE,
  CA_PROTOCOL_PUSH_INDEX,
  CA_PROTOCOL_PUSH_INDEX_CHUNKS,
  CA_PROTOCOL_WRITABLE_ARCHIVE,
  CA_PROTOCOL_WRITABLE_INDEX,
  CA_PROTOCOL_WRITABLE_STORE,
  REQUEST_IDS_MAX,
  encodeAbort,
  encodeEmpty,
  encodeHello,
  encodeRequest,
} from '../../../protocol/ca-protocol.ts';
import { CaProtocolPeer } from '../../../protocol/ca-protocol-peer.ts';
import { AtomicFile } from '../io/atomic-file.ts';
import { NodeChunks } from '../storage/node-check.ts';
import { checkStored } from '../../../stores/checked-store.ts';
import { storedUncompressed } from '../../../chunk/compression.ts';
import { writeFully } from '../io/file-io.ts';
import { LocalStore } from '../storage/local-store.ts';
import { FrameChannel } from './frame-channel.ts';
import type { ServeSpec } from './pull-server.ts';

interface Written {
  file: AtomicFile;
  at: number;
  done: boolean;
}

export async function servePush(spec: ServeSpec): Promise<void> {
  const flags =
    (spec.store !== null ? CA_PROTOCOL_WRITABLE_STORE : 0n) |
    (spec.index !== null ? CA_PROTOCOL_WRITABLE_INDEX : 0n) |
    (spec.archive !== null ? CA_PROTOCOL_WRITABLE_ARCHIVE : 0n);
  if (!flags) throw usageError('push: nothing to do');
  const channel = new FrameChannel('wasync push (standard input)', spec.input, spec.output);
  const peer = new CaProtocolPeer(channel.name, flags);
  const write = spec.store === null ? null : new LocalStore(spec.store);
  const stores = [...(write ? [write] : []), ...spec.extra.map((s) => new LocalStore(s))];
  const chunks = new NodeChunks();
  const parser = spec.index === null ? null : new IndexParser(`${spec.index} (pushed)`);
  /** requested and not yet received: id → chunk size */
  const wanted = new Map<string, number>();
  /** every id of the index looked at so far */
  const seen = new Set<string>();
  let index: Written | null = null;
  let archive: Written | null = null;
  let digest: DigestName | null = null;
  let pushChunks = false;
  let finished = false;

  await channel.send(encodeHello(flags));
  try {
    for await (const f of channel.frames()) {
      peer.accept(f);
      switch (f.kind) {
        case 'hello':
          // Like casync, create the files only once the client has said what it pushes.
          if (peer.has('remote', CA_PROTOCOL_PUSH_INDEX)) index = { file: new AtomicFile(spec.index!), at: 0, done: false };
          if (peer.has('remote', CA_PROTOCOL_PUSH_ARCHIVE)) archive = { file: new AtomicFile(spec.archive!), at: 0, done: false };
          pushChunks = write !== null && peer.has('remote', CA_PROTOCOL_PUSH_INDEX_CHUNKS);
          break;
        case 'index':
          append(index!, f.data);
          await request(parser!.push(f.data));
          break;
        case 'index-eof':
          parser!.end();
          index!.done = true;
          break;
        case 'archive':
          append(archive!, f.data);
          break;
        case 'archive-eof':
          archive!.done = true;
          break;
        case 'chunk':
          await receive(f.id, f.data, f.compressed, f.at);
          break;
        case 'missing':
          throw new WasyncError('ECHUNKMISSING', `push: chunk ${toHex(f.id)} is missing: the client does not have it`);
        case 'goodbye':
          throw networkError('push: the client said goodbye before the push was complete');
        case 'abort':
          throw networkError(`push: the client aborted: ${f.reason || 'no reason given'}`);
        case 'request':
          break; // refused by peer.accept(): we push no chunks
      }
      if (peer.remote !== null && complete()) {
        index?.file.commit();
        archive?.file.commit();
        finished = true;
        await channel.send(encodeEmpty(CA_PROTOCOL_GOODBYE));
        break;
      }
    }
    if (!finished) {
      channel.parser.end();
      const what = [index && !index.done ? 'index' : '', archive && !archive.done ? 'archive' : '', wanted.size ? `${wanted.size} chunks` : '']
        .filter(Boolean)
        .join(', ');
      throw networkError(`push: the client ended the session before it sent everything (still missing: ${what || 'its HELLO'})`);
    }
  } catch (e) {
    if (!channel.isBroken(e) && !(e instanceof WasyncError && /^push: the client (aborted|ended)/.test(e.message))) {
      const kind = e instanceof WasyncError ? e.code : null;
      const code = kind === 'ECHUNKMISSING' ? ABORT_ENOENT : kind === 'EINPUT' || kind === 'EOUTPUT' ? ABORT_EIO : ABORT_EBADMSG;
      await channel.send(encodeAbort(code, (e as Error).message)).catch(() => {});
    }
    throw e;
  } finally {
    if (!finished) {
      index?.file.abort();
      archive?.file.abort();
    }
    channel.end();
  }
  return;

  function complete(): boolean {
    return (!index || (index.done && !wanted.size)) && (!archive || archive.done);
  }

  function append(w: Written, data: Uint8Array) {
    writeFully({ fd: w.file.fd, path: w.file.tmpPath }, data, w.at);
    w.at += data.length;
  }

  async function request(entries: IndexEntry[]) {
    digest ??= parser!.header && digestOfFlags(parser!.header.flags);
    if (!pushChunks) return;
    const ids: Uint8Array[] = [];
    for (const e of entries) {
      const hex = toHex(e.id);
      if (seen.has(hex)) continue;
      seen.add(hex);
      if (await hasAny(hex)) continue;
      wanted.set(hex, e.size);
      ids.push(e.id);
    }
    for (let i = 0; i < ids.length; i += REQUEST_IDS_MAX) {
      const batch = ids.slice(i, i + REQUEST_IDS_MAX);
      const packed = new Uint8Array(batch.length * CHUNK_ID_SIZE);
      batch.forEach((id, k) => packed.set(id, k * CHUNK_ID_SIZE));
      await channel.send(encodeRequest(packed, false));
    }
  }

  async function receive(id: Uint8Array, data: Uint8Array, compressed: boolean, at: number) {
    const hex = toHex(id);
    const size = wanted.get(hex);
    if (size === undefined) {
      if (seen.has(hex)) return; // a second copy of one we have
      throw formatError(channel.name, at, `CA_PROTOCOL_CHUNK for chunk ${hex}, which was not requested`);
    }
    const plain = await checkStored(chunks.check(digest!), hex, size, compressed ? data : storedUncompressed(data));
    if (typeof plain === 'string') throw chunkCorrupt(hex, 'the pushed stream', plain);
    await write!.put(hex, compressed ? data : await chunks.codec.compress('zstd', plain));
    wanted.delete(hex);
  }

  async function hasAny(hex: string): Promise<boolean> {
    for (const s of stores) if (await s.has(hex)) return true;
    return false;
  }
}
