// Sequential output (a .catar being written, an index to stdout) that gathers
// the many small catar records into large writes.

import { writeFully } from './file-io.ts';
import { writeStdout } from './stdout.ts';

const BUFFER = 1 << 20;

export class BufferedOutput {
  private buf = Buffer.allocUnsafe(BUFFER);
  private used = 0;
  private pos = 0;

  /** To a file descriptor (named `path` in errors), or to standard output when fd is null. */
  constructor(
    private readonly fd: number | null,
    private readonly path: string,
  ) {}

  async write(bytes: Uint8Array): Promise<void> {
    if (this.used + bytes.length > BUFFER || bytes.length >= BUFFER / 2) await this.flush();
    if (bytes.length >= BUFFER / 2) return this.out(bytes);
    this.buf.set(bytes, this.used);
    this.used += bytes.length;
  }

  async flush(): Promise<void> {
    if (!this.used) return;
    const data = this.buf.subarray(0, this.used);
    this.used = 0;
    await this.out(data); // resolves once the bytes are handed to the kernel
  }

  private async out(data: Uint8Array) {
    if (this.fd === null) await writeStdout(data);
    else writeFully({ fd: this.fd, path: this.path }, data, this.pos);
    this.pos += data.length;
  }
}
