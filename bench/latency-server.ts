// A static file server that answers every request after a fixed delay, as a
// distant server would: `node latency-server.js ROOT DELAY_MS` prints its port.
// Run as its own process so the timed clients cannot stall it.

import { createServer } from 'node:http';
import { createReadStream, statSync } from 'node:fs';
import { join, normalize } from 'node:path';
import type { AddressInfo } from 'node:net';

const [root, delay] = [process.argv[2], Number(process.argv[3] ?? 20)];
let requests = 0;
const server = createServer((req, res) => {
  requests++;
  const path = join(root, normalize(decodeURIComponent(new URL(req.url!, 'http://x').pathname)));
  setTimeout(() => {
    const st = statSync(path, { throwIfNoEntry: false });
    if (!path.startsWith(root) || !st?.isFile()) return res.writeHead(404).end();
    res.writeHead(200, { 'content-length': st.size });
    createReadStream(path).pipe(res);
  }, delay);
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => console.log((server.address() as AddressInfo).port));
process.on('SIGTERM', () => {
  console.error(`requests: ${requests}`);
  process.exit(0);
});
