// `make X.catar|X.caidx T.tar`: the tar source beside the directory source
// (encode-tree.ts), for the same catar encoder and sink.  The tar is read
// whole first (tar-reader.ts), its entries gathered into the tree extraction
// would leave (tar-tree.ts), file data left in the tar when it is seekable or
// copied to a spool (tar-input.ts); then the tree is written in casync's
// order, each directory's children sorted by raw name bytes, with casync's
// exclusions that a tree can carry: node types without their feature flag and
// .caexclude files.  So the catar is the one `casync make` gives of the tree
// unpacked, without unpacking it.

import { readSync } from 'node:fs';
import { ioError } from '../../../errors.ts';
import { CatarEncoder } from '../../../format/catar-encoder.ts';
import { S_IFMT, S_IFREG } from '../../../format/catar-node.ts';
import { ExcludeRules } from '../../../format/exclude.ts';
import { CA_FORMAT_EXCLUDE_FILE } from '../../../format/feature-flags.ts';
import { TarReader } from '../../../format/tar-reader.ts';
import type { LinuxFs } from '../linux/index.ts';
import { CatarOutput } from './catar-output.ts';
import type { CatarSink, EncodeTreeResult } from './encode-tree.ts';
import { openTarInput, TarSpool } from './tar-input.ts';
import { TarTree, type TarTreeNode } from './tar-tree.ts';

export interface EncodeTarOptions {
  /** a path, '-' for standard input, or the bytes */
  source: string | Uint8Array | AsyncIterable<Uint8Array>;
  /** what messages call it */
  file: string;
  featureFlags: bigint;
  sink: CatarSink;
  linux: LinuxFs | null;
}

const CAEXCLUDE = '.caexclude';
const SPOOL_PIECE = 1 << 20;

export async function encodeTar(o: EncodeTarOptions): Promise<EncodeTreeResult> {
  const input = openTarInput(o.source, o.file);
  let spool: TarSpool | null = null;
  try {
    if (input.fd === null) spool = new TarSpool();
    const reader = new TarReader(input.source, o.file);
    const tree = new TarTree(o.featureFlags, o.linux, o.file);
    for (let e = await reader.next(); e; e = await reader.next()) {
      let at = e.dataOffset;
      if (spool && e.type === 'file') {
        at = spool.size;
        for (let left = e.storedSize; left > 0; ) {
          const b = await reader.readData(Math.min(left, SPOOL_PIECE));
          spool.append(b);
          left -= b.length;
        }
      }
      tree.add(e, at);
    }
    return await new TarWriter(o, spool ? spool.fd : input.fd!).run(tree);
  } finally {
    input.close();
    spool?.close();
  }
}

class TarWriter {
  private readonly enc: CatarEncoder;
  private readonly out: CatarOutput;
  private entries = 0;

  constructor(
    private readonly o: EncodeTarOptions,
    private readonly dataFd: number,
  ) {
    // Lent records: CatarOutput copies each at once.
    this.enc = new CatarEncoder(o.featureFlags, true);
    this.out = new CatarOutput(o.sink);
  }

  async run(tree: TarTree): Promise<EncodeTreeResult> {
    await this.directory(tree.root, () => '', ExcludeRules.root());
    await this.out.flush();
    return { bytes: this.enc.offset, entries: this.entries };
  }

  /** `path`: the directory's path with a trailing '/' ('' for the top), made only for messages (a deep tree's would fill memory). */
  private async directory(dir: TarTreeNode, path: () => string, rules: ExcludeRules) {
    await this.out.records(this.enc.node(dir.node));
    this.entries++;
    const children = [...dir.children!.values()].sort((a, b) => Buffer.compare(a.name, b.name));
    const exclude = dir.children!.get(CAEXCLUDE);
    if (this.o.featureFlags & CA_FORMAT_EXCLUDE_FILE && exclude && !exclude.children && (exclude.node.mode & S_IFMT) === S_IFREG) {
      rules = rules.withFile(this.read(exclude, `${path()}${CAEXCLUDE}`), `${this.o.file}: ${path()}${CAEXCLUDE}`);
    }
    for (const c of children) {
      if (!CatarEncoder.archives(this.o.featureFlags, c.node.mode)) continue;
      const isDir = c.children !== null;
      if (rules.excludes(c.name, isDir)) continue;
      await this.out.records(this.enc.filename(c.name));
      const cpath = () => `${path()}${c.name.toString()}`;
      if (isDir) {
        await this.directory(c, () => `${cpath()}/`, rules.enter(c.name));
        continue;
      }
      await this.out.records(this.enc.node(c.node));
      this.entries++;
      if (c.node.size !== undefined) {
        await this.out.payload(c.name, this.dataFd, c.dataAt, c.node.size, () => `${this.o.file}: ${cpath()}`, c.sparse);
        this.enc.payloadDone(c.node.size);
      }
    }
    await this.out.records(this.enc.endDirectory());
  }

  /** A small file's data (a .caexclude), whole. */
  private read(f: TarTreeNode, path: string): Buffer {
    const b = Buffer.alloc(f.node.size!);
    for (let done = 0; done < b.length; ) {
      let r: number;
      try {
        r = readSync(this.dataFd, b, done, b.length - done, f.dataAt + done);
      } catch (e) {
        throw ioError('EINPUT', `${this.o.file}: ${path}`, e);
      }
      if (r === 0) break;
      done += r;
    }
    return b;
  }
}
