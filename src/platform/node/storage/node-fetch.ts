// A fetch for HttpClient on Node, on node:http and node:https with kept-alive
// connections.  Node's global fetch (undici) spends about 1.5 ms of CPU per
// request in its WHATWG machinery (Request/Response objects, streams, abort
// signals), which for 64 KiB chunks costs more than hashing them; this one
// answers with the few Response members HttpClient uses (status, statusText,
// headers.get, body.getReader, body.cancel) and nothing else.  Used on Node
// only (httpClient): Bun's and Deno's fetch are native and cheap, but with TLS
// settings (node-tls.ts) every runtime uses this one, node:https being where
// all three take a CA and a client certificate.

import type { IncomingMessage } from 'node:http';
import { HttpClient, type HttpOptions, type TlsOptions } from '../../../stores/http-client.ts';
import { RUNTIME } from '../io/runtime.ts';
import { s3Explain, s3Fetch } from '../../../stores/s3-fetch.ts';
import { s3Credentials } from './s3-credentials.ts';
import type { LeafSettings } from '../../../stores/config-match.ts';
import type { WasyncConfig } from '../../../stores/store-config.ts';
import { tlsFailure, tlsFromFiles } from './node-tls.ts';
import { ociFetch } from '../../../stores/oci-fetch.ts';
import { ociCredentials } from './oci-credentials.ts';

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

let transport: Promise<typeof import('./node-agents.ts')> | undefined;

/** A fetch on node:http and node:https, with these TLS settings for https:// URLs. */
export const nodeFetch = (tls?: TlsOptions) => (async (input: string | URL, init: RequestInit = {}) => {
  const url = new URL(String(input));
  const { http, https, agentFor } = await (transport ??= import('./node-agents.ts'));
  const mod = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(
      url,
      {
        method: init.method ?? 'GET',
        headers: init.headers as Record<string, string> | undefined,
        agent: agentFor(url.protocol, tls),
        signal: init.signal ?? undefined,
      },
      (res) => resolve(responseOf(res)),
    );
    req.on('error', (e) => reject(tlsFailure(e, url.href, tls, req.reusedSocket) ?? e));
    req.end(init.body as Uint8Array | undefined);
  });
}) as unknown as typeof fetch;

const plainFetch = nodeFetch();

/** Bun's and Deno's own fetch, its certificate failures said as node:https's are. */
const runtimeFetch = ((input: string | URL, init?: RequestInit) =>
  globalThis.fetch(input, init).catch((e) => {
    throw tlsFailure(e, String(input), undefined) ?? e;
  })) as typeof fetch;

export interface NodeHttpOptions extends Omit<HttpOptions, 'fetch'> {
  /** the configuration whose s3-credentials sign S3 requests (after the environment's) */
  config?: WasyncConfig;
  /** the store's TLS files from the configuration (config-match.ts), used when `tls` is not given */
  tlsFiles?: LeafSettings['tls'];
}

/** An HttpClient on this runtime's cheapest fetch, reaching S3 and OCI locators too (credentials: s3-credentials.ts, oci-credentials.ts). */
export const httpClient = ({ config, tlsFiles, ...o }: NodeHttpOptions = {}) => {
  const tls = o.tls ?? tlsFromFiles(tlsFiles);
  return new HttpClient({
    ...o,
    tls,
    fetch: ociFetch(s3Fetch(tls ? nodeFetch(tls) : RUNTIME === 'node' ? plainFetch : runtimeFetch, (endpoint) => s3Credentials(process.env, config, endpoint)), ociCredentials),
    explain: s3Explain,
  });
};
