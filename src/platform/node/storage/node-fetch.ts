// A fetch for HttpClient on Node, on node:http and node:https with kept-alive
// connections.  Node's global fetch (undici) spends about 1.5 ms of CPU per
// request in its WHATWG machinery (Request/Response objects, streams, abort
// signals), which for 64 KiB chunks costs more than hashing them; this one
// answers with the few Response members HttpClient uses (status, statusText,
// headers.get, body.getReader, body.cancel) and nothing else.  Used on Node
// only (httpClient): Bun's and Deno's fetch are native and cheap.

import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { HttpClient, type HttpOptions } from '../../../stores/http-client.ts';
import { RUNTIME } from '../io/runtime.ts';
import { s3Explain, s3Fetch } from '../../../stores/s3-fetch.ts';
import { s3Credentials } from './s3-credentials.ts';
import { ociFetch } from '../../../stores/oci-fetch.ts';
import { ociCredentials } from './oci-credentials.ts';

const agents = {
  'http:': new http.Agent({ keepAlive: true, maxSockets: 256 }),
  'https:': new https.Agent({ keepAlive: true, maxSockets: 256 }),
};

function responseOf(res: IncomingMessage) {
  const chunks = res[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const body = {
    getReader: () => ({
      read: async () => {
        const r = await chunks.next();
        return r.done ? { done: true as const, value: undefined } : { done: false as const, value: new Uint8Array(r.value.buffer, r.value.byteOffset, r.value.length) };
      },
    }),
    // Reading what is left keeps the connection for the next request.
    cancel: async () => void res.resume(),
  };
  return {
    status: res.statusCode ?? 0,
    statusText: res.statusMessage ?? '',
    headers: {
      get: (name: string) => {
        const v = res.headers[name.toLowerCase()];
        return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
      },
    },
    body,
  };
}

export const nodeFetch = ((input: string | URL, init: RequestInit = {}) => {
  const url = new URL(String(input));
  const mod = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(
      url,
      {
        method: init.method ?? 'GET',
        headers: init.headers as Record<string, string> | undefined,
        agent: agents[url.protocol as keyof typeof agents],
        signal: init.signal ?? undefined,
      },
      (res) => resolve(responseOf(res)),
    );
    req.on('error', reject);
    req.end(init.body as Uint8Array | undefined);
  });
}) as unknown as typeof fetch;

/** An HttpClient on this runtime's cheapest fetch, reaching S3 and OCI locators too (credentials: s3-credentials.ts, oci-credentials.ts). */
export const httpClient = (o: Omit<HttpOptions, 'fetch'> = {}) =>
  new HttpClient({
    ...o,
    fetch: ociFetch(s3Fetch(RUNTIME === 'node' ? nodeFetch : globalThis.fetch.bind(globalThis), s3Credentials), ociCredentials),
    explain: s3Explain,
  });
