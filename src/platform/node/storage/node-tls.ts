// TLS for the HTTP client on Node (and Bun and Deno, through node:https): an
// agent per TLS setting (--ca-cert, --client-cert, --client-key), and the
// failures of a TLS handshake as one line saying what to pass (the agents
// themselves are in node-agents.ts, loaded at a first request).
//
// Node's global fetch would need undici's Agent as its `dispatcher` for this,
// and undici is bundled inside Node without being importable as a package;
// node:https takes `ca`, `cert` and `key` itself, and node-fetch.ts already
// speaks node:https, so no dependency is added.  A TLS failure is a
// WasyncError: no retry mends a certificate, so HttpClient does not retry it.

import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { networkError, usageError } from '../../../errors.ts';
import type { TlsOptions } from '../../../stores/http-client.ts';

const pem = new Map<string, string>();

/** A store's TLS files from the configuration file as the PEM texts an agent takes (read once a thread); undefined: none. */
export function tlsFromFiles(f: { caCert?: string; clientCert?: string; clientKey?: string } | undefined): TlsOptions | undefined {
  if (!f || !(f.caCert || f.clientCert || f.clientKey)) return undefined;
  const read = (path: string | undefined, what: string) => {
    if (path === undefined) return undefined;
    let text = pem.get(path);
    if (text === undefined) {
      try {
        text = readFileSync(path, 'utf8');
      } catch (e) {
        throw usageError(`the configuration's ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      pem.set(path, text);
    }
    return text;
  };
  return { ca: read(f.caCert, 'ca-cert'), cert: read(f.clientCert, 'client-cert'), key: read(f.clientKey, 'client-key') };
}

/** Fails with one line, prefixed with `given` (the options), when the PEM texts cannot be used (a key not the certificate's, a file without a certificate). */
export function checkTls(tls: TlsOptions, given: string): void {
  try {
    createSecureContext({ ca: tls.ca, cert: tls.cert, key: tls.key });
  } catch (e) {
    throw usageError(`${given}: ${(e as Error).message.replace(/^error:[0-9A-F]+:[^:]*:[^:]*:/, '')}`);
  }
}

/** The server's certificate was not trusted. */
const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
]);

/** The server refused this client's certificate, or wanted one. */
const REFUSED = /^ERR_SSL_(TLSV13_ALERT_CERTIFICATE_REQUIRED|SSLV3_ALERT_HANDSHAKE_FAILURE|TLSV1_ALERT_UNKNOWN_CA|SSLV3_ALERT_BAD_CERTIFICATE|SSLV3_ALERT_CERTIFICATE_UNKNOWN|TLSV1_ALERT_ACCESS_DENIED|TLSV1_ALERT_DECRYPT_ERROR)$/;

/**
 * A TLS handshake failure as the one line to show, or null for any other error.
 * A server that refuses a client certificate of a CA it does not know (Node's
 * among them, in TLS 1.3) closes the connection without an alert: the reset of
 * a new connection that showed a certificate gets a hint, and stays retried.
 */
export function tlsFailure(e: unknown, url: string, tls: TlsOptions | undefined, reused = false): Error | null {
  const code = (e as { code?: string })?.code ?? (e as { cause?: { code?: string } })?.cause?.code ?? '';
  if (code === 'ECONNRESET' && tls?.cert && !reused && url.startsWith('https:')) {
    (e as Error).message += ' before an answer: the server may not accept the certificate given with --client-cert';
    return null;
  }
  const host = new URL(url).host;
  // Deno's fetch (rustls) says it in words only.
  const deno = /invalid peer certificate: (UnknownIssuer|BadSignature)/.exec(`${(e as Error)?.message} ${(e as { cause?: Error })?.cause?.message}`);
  if (UNTRUSTED.has(code) || deno) {
    const hint = tls?.ca ? 'the CA given with --ca-cert did not sign it' : 'pass --ca-cert=FILE with the CA that signed it';
    return networkError(`${url}: the certificate of ${host} is not trusted (${code || deno![1]}): ${hint}`);
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return networkError(`${url}: the certificate of ${host} is not for that name (${(e as Error).message})`);
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return networkError(`${url}: the certificate of ${host} is not valid now (${code})`);
  if (REFUSED.test(code)) {
    const hint = tls?.cert ? 'the server does not accept the certificate given with --client-cert' : 'the server wants a client certificate: pass --client-cert=FILE --client-key=FILE';
    return networkError(`${url}: ${host} refused the TLS connection (${code}): ${hint}`);
  }
  return null;
}
