// A token service for the bearer-token registry of scripts/oci-test-registry.sh,
// as Docker Hub's or GHCR's: GET REALM?service=S&scope=repository:NAME:ACTIONS
// with Basic credentials answers {"token": JWT}.  The JWT is RS256, signed with
// the key the script made, its certificate in the x5c header (the registry
// trusts that certificate), and grants exactly the scopes asked for.  Wrong or
// missing credentials get 401.  Every request is recorded for the tests.

import { createPrivateKey, randomUUID, sign, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';

export interface TokenRequest {
  service: string | null;
  scopes: string[];
  /** the user name of the Basic credentials, or null without them */
  user: string | null;
  granted: boolean;
}

export interface TokenServer {
  requests: TokenRequest[];
  close(): Promise<void>;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/** Serves `realm` (as the script printed it) for user `user` with password `password`, keys from `dir`. */
export async function startTokenServer(realm: string, dir: string, user: string, password: string): Promise<TokenServer> {
  const key = createPrivateKey(readFileSync(join(dir, 'token.key')));
  const cert = new X509Certificate(readFileSync(join(dir, 'token.crt')));
  const requests: TokenRequest[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', realm);
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const [u, p] = basic ? Buffer.from(basic, 'base64').toString().split(/:(.*)/s) : [null, null];
    const scopes = url.searchParams.getAll('scope');
    const granted = u === user && p === password && url.pathname === new URL(realm).pathname;
    requests.push({ service: url.searchParams.get('service'), scopes, user: u, granted });
    if (!granted) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"incorrect username or password"}');
      return;
    }
    const now = Math.floor(Date.now() / 1000);
    const access = scopes.map((s) => {
      const [type, rest] = s.split(/:(.*)/s);
      const cut = rest.lastIndexOf(':');
      return { type, name: rest.slice(0, cut), actions: rest.slice(cut + 1).split(',') };
    });
    const header = { typ: 'JWT', alg: 'RS256', x5c: [cert.raw.toString('base64')] };
    const claims = { iss: 'wasync-test-issuer', sub: user, aud: url.searchParams.get('service'), exp: now + 300, nbf: now - 10, iat: now, jti: randomUUID(), access };
    const signed = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const token = `${signed}.${b64url(sign('sha256', Buffer.from(signed), key))}`;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, access_token: token, expires_in: 300 }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(new URL(realm).port), '127.0.0.1', resolve);
  });
  return { requests, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
