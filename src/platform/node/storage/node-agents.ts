// The kept-alive node:http and node:https agents of node-fetch.ts, an agent per
// TLS setting.  Apart from node-fetch.ts so that it is imported at a first
// request only: node:http, node:https and node:tls cost every process and
// worker thread some 12 ms of CPU to load, and most operations have local
// stores only.

import http from 'node:http';
import https from 'node:https';
import type { TlsOptions } from '../../../stores/http-client.ts';

export { http, https };

const plain = new http.Agent({ keepAlive: true, maxSockets: 256 });
const agents = new Map<string, https.Agent>();

const keyOf = (tls: TlsOptions | undefined) => (tls ? `${tls.ca ?? ''}\0${tls.cert ?? ''}\0${tls.key ?? ''}` : '');

/** The kept-alive agent for `protocol` ('http:' or 'https:') with these TLS settings. */
export function agentFor(protocol: string, tls: TlsOptions | undefined): http.Agent {
  if (protocol !== 'https:') return plain;
  const key = keyOf(tls);
  let a = agents.get(key);
  if (!a) agents.set(key, (a = new https.Agent({ keepAlive: true, maxSockets: 256, ca: tls?.ca, cert: tls?.cert, key: tls?.key })));
  return a;
}
