// Where a frame may come in a CA_PROTOCOL session, from one side's point of
// view: casync's ca_remote_process_message() rules.  HELLO comes first and only
// once, and its flags must fit ours (ca-protocol.ts helloProblem); then INDEX
// and INDEX_EOF only when this side pulls an index or the peer pushes one (and
// nothing of the index after its EOF), likewise ARCHIVE; REQUEST only when this
// side pushes chunks or the peer pulls them; CHUNK and MISSING only when this
// side pulls chunks or the peer pushes them; nothing after GOODBYE.  ABORT may
// come at any time.  Runtime-neutral: the transports call accept() on every
// frame the parser returns.

import { formatError } from '../errors.ts';
import {
  CA_PROTOCOL_PULL_ARCHIVE,
  CA_PROTOCOL_PULL_CHUNKS,
  CA_PROTOCOL_PULL_INDEX,
  CA_PROTOCOL_PUSH_ARCHIVE,
  CA_PROTOCOL_PUSH_CHUNKS,
  CA_PROTOCOL_PUSH_INDEX,
  describeHelloFlags,
  helloProblem,
  localHelloProblem,
} from './ca-protocol.ts';
import type { CaProtocolFrame } from './frame-parser.ts';

export class CaProtocolPeer {
  /** the peer's HELLO flags, once its HELLO is in */
  remote: bigint | null = null;
  private indexDone = false;
  private archiveDone = false;
  private ended = false;

  /** `name` is the stream's name in messages; `local` this side's HELLO flags. */
  constructor(
    readonly name: string,
    readonly local: bigint,
  ) {
    const problem = localHelloProblem(local);
    if (problem) throw new RangeError(problem);
  }

  /** Whether the local or remote flags hold `bit`. */
  has(side: 'local' | 'remote', bit: bigint): boolean {
    return ((side === 'local' ? this.local : (this.remote ?? 0n)) & bit) !== 0n;
  }

  /** Throws a WasyncError naming the frame and its offset if `f` may not come now. */
  accept(f: CaProtocolFrame): void {
    const bad = (why: string) => formatError(this.name, f.at, why);
    if (f.kind === 'abort') return;
    if (this.ended) throw bad(`a frame (${f.kind}) after CA_PROTOCOL_GOODBYE`);
    if (f.kind === 'hello') {
      if (this.remote !== null) throw bad('a second CA_PROTOCOL_HELLO');
      const problem = helloProblem(this.local, f.flags);
      if (problem) throw bad(`CA_PROTOCOL_HELLO: ${problem}`);
      this.remote = f.flags;
      return;
    }
    if (this.remote === null) throw bad(`a ${f.kind} frame before CA_PROTOCOL_HELLO`);
    const flows = (pull: bigint, push: bigint) => this.has('local', pull) || this.has('remote', push);
    switch (f.kind) {
      case 'index':
      case 'index-eof':
        if (!flows(CA_PROTOCOL_PULL_INDEX, CA_PROTOCOL_PUSH_INDEX)) throw bad(`an index frame, but no index is being sent here ${this.flags()}`);
        if (this.indexDone) throw bad(`a ${f.kind} frame after CA_PROTOCOL_INDEX_EOF`);
        if (f.kind === 'index-eof') this.indexDone = true;
        return;
      case 'archive':
      case 'archive-eof':
        if (!flows(CA_PROTOCOL_PULL_ARCHIVE, CA_PROTOCOL_PUSH_ARCHIVE)) {
          throw bad(`an archive frame, but no archive is being sent here ${this.flags()}`);
        }
        if (this.archiveDone) throw bad(`a ${f.kind} frame after CA_PROTOCOL_ARCHIVE_EOF`);
        if (f.kind === 'archive-eof') this.archiveDone = true;
        return;
      case 'request':
        if (!(this.has('local', CA_PROTOCOL_PUSH_CHUNKS) || this.has('remote', CA_PROTOCOL_PULL_CHUNKS))) {
          throw bad(`CA_PROTOCOL_REQUEST, but no chunks flow to the peer ${this.flags()}`);
        }
        return;
      case 'chunk':
      case 'missing':
        if (!flows(CA_PROTOCOL_PULL_CHUNKS, CA_PROTOCOL_PUSH_CHUNKS)) {
          throw bad(`a ${f.kind} frame, but no chunks flow to this side ${this.flags()}`);
        }
        return;
      case 'goodbye':
        this.ended = true;
        return;
    }
  }

  private flags(): string {
    return `(this side ${describeHelloFlags(this.local)}, the peer ${describeHelloFlags(this.remote ?? 0n)})`;
  }
}
