// Option haggling of the fixed newstyle NBD handshake for one read-only export,
// as a function from (option, data) to the replies and what happens next; the
// framing (reading option headers, skipping oversized data) is session.ts's.
// Runtime-neutral.
//
// The export answers to its canonical name and to "" (the default export).  What
// is offered: NBD_OPT_EXPORT_NAME, NBD_OPT_GO and NBD_OPT_INFO (with
// NBD_INFO_NAME, NBD_INFO_DESCRIPTION and NBD_INFO_BLOCK_SIZE when asked),
// NBD_OPT_LIST, NBD_OPT_ABORT and NBD_OPT_STRUCTURED_REPLY.  Everything else
// (STARTTLS, metadata contexts, extended headers, unknown options) is refused
// with NBD_REP_ERR_UNSUP and a message, which well-behaved clients fall back from.
//
// Transmission flags are honest for a read-only export served from a shared
// verified-chunk cache: NBD_FLAG_READ_ONLY, NBD_FLAG_CAN_MULTI_CONN (every
// connection sees the same immutable bytes), and NBD_FLAG_SEND_DF once structured
// replies are on (a read is always answered in one data chunk).

import {
  NBD_FLAG_CAN_MULTI_CONN,
  NBD_FLAG_HAS_FLAGS,
  NBD_FLAG_READ_ONLY,
  NBD_FLAG_SEND_DF,
  NBD_INFO_BLOCK_SIZE,
  NBD_INFO_DESCRIPTION,
  NBD_INFO_NAME,
  NBD_OPT_ABORT,
  NBD_OPT_EXPORT_NAME,
  NBD_OPT_GO,
  NBD_OPT_INFO,
  NBD_OPT_LIST,
  NBD_OPT_STRUCTURED_REPLY,
  NBD_REP_ACK,
  NBD_REP_ERR_INVALID,
  NBD_REP_ERR_UNKNOWN,
  NBD_REP_ERR_UNSUP,
  NBD_REP_INFO,
  NBD_REP_SERVER,
  decodeInfoRequest,
  decodeString,
  encodeExportNameReply,
  encodeInfoBlockSize,
  encodeInfoExport,
  encodeInfoString,
  encodeOptionError,
  encodeOptionReply,
  encodeServerReply,
  optionName,
} from './nbd-protocol.ts';

/** What a client learns about the export. */
export interface ExportInfo {
  /** the canonical name (NBD_OPT_LIST, NBD_INFO_NAME) */
  name: string;
  /** for humans (NBD_OPT_LIST, NBD_INFO_DESCRIPTION) */
  description: string;
  /** bytes */
  size: number;
}

/** Size constraints: any alignment, 4 KiB preferred, the protocol's default maximum payload. */
export const MIN_BLOCK = 1;
export const PREFERRED_BLOCK = 4096;
export const MAX_PAYLOAD = 1 << 25;

export interface OptionOutcome {
  replies: Uint8Array[];
  /**
   * continue: read the next option; transmission: the export was chosen;
   * close: end the session after the replies (NBD_OPT_ABORT); drop: hard
   * disconnect without a reply (NBD_OPT_EXPORT_NAME of an unknown export).
   */
  then: 'continue' | 'transmission' | 'close' | 'drop';
  /** why the session ends, for the log */
  why?: string;
}

export class Negotiation {
  structuredReplies = false;
  /** the client set NBD_FLAG_C_NO_ZEROES */
  noZeroes = false;

  constructor(private readonly exp: ExportInfo) {}

  /** The transmission flags for what has been negotiated so far. */
  transmissionFlags(): number {
    return NBD_FLAG_HAS_FLAGS | NBD_FLAG_READ_ONLY | NBD_FLAG_CAN_MULTI_CONN | (this.structuredReplies ? NBD_FLAG_SEND_DF : 0);
  }

  private known(name: string): boolean {
    return name === '' || name === this.exp.name;
  }

  answer(option: number, data: Uint8Array): OptionOutcome {
    const reply = (type: number, payload?: Uint8Array) => encodeOptionReply(option, type, payload);
    const refuse = (type: number, message: string): OptionOutcome => ({
      replies: [encodeOptionError(option, type, message)],
      then: 'continue',
    });
    switch (option) {
      case NBD_OPT_EXPORT_NAME: {
        const name = decodeString(data);
        if (name === null || !this.known(name)) {
          return { replies: [], then: 'drop', why: `NBD_OPT_EXPORT_NAME of an unknown export ${JSON.stringify(name ?? '?')}` };
        }
        return { replies: [encodeExportNameReply(this.exp.size, this.transmissionFlags(), this.noZeroes)], then: 'transmission' };
      }
      case NBD_OPT_ABORT:
        // Data, if any, is ignored, as the protocol asks.
        return { replies: [reply(NBD_REP_ACK)], then: 'close', why: 'NBD_OPT_ABORT' };
      case NBD_OPT_LIST:
        if (data.length) return refuse(NBD_REP_ERR_INVALID, 'NBD_OPT_LIST takes no data');
        return {
          replies: [reply(NBD_REP_SERVER, encodeServerReply(this.exp.name, this.exp.description)), reply(NBD_REP_ACK)],
          then: 'continue',
        };
      case NBD_OPT_STRUCTURED_REPLY:
        if (data.length) return refuse(NBD_REP_ERR_INVALID, 'NBD_OPT_STRUCTURED_REPLY takes no data');
        this.structuredReplies = true;
        return { replies: [reply(NBD_REP_ACK)], then: 'continue' };
      case NBD_OPT_INFO:
      case NBD_OPT_GO: {
        const req = decodeInfoRequest(data);
        if (typeof req === 'string') return refuse(NBD_REP_ERR_INVALID, `${optionName(option)}: ${req}`);
        if (!this.known(req.name)) {
          return refuse(
            NBD_REP_ERR_UNKNOWN,
            `no export ${JSON.stringify(req.name)} here; this server exports ${JSON.stringify(this.exp.name)} (also the default export "")`,
          );
        }
        const replies = [reply(NBD_REP_INFO, encodeInfoExport(this.exp.size, this.transmissionFlags()))];
        // Each information type at most once, whatever the client repeated.
        for (const info of new Set(req.infos)) {
          if (info === NBD_INFO_NAME) replies.push(reply(NBD_REP_INFO, encodeInfoString(NBD_INFO_NAME, this.exp.name)));
          else if (info === NBD_INFO_DESCRIPTION) replies.push(reply(NBD_REP_INFO, encodeInfoString(NBD_INFO_DESCRIPTION, this.exp.description)));
          else if (info === NBD_INFO_BLOCK_SIZE) replies.push(reply(NBD_REP_INFO, encodeInfoBlockSize(MIN_BLOCK, PREFERRED_BLOCK, MAX_PAYLOAD)));
        }
        replies.push(reply(NBD_REP_ACK));
        return { replies, then: option === NBD_OPT_GO ? 'transmission' : 'continue' };
      }
      default:
        return refuse(NBD_REP_ERR_UNSUP, `${optionName(option)} is not supported by this server (read-only, no TLS, no metadata contexts)`);
    }
  }
}
