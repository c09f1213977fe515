// OCI registries as a transport under HttpClient, as s3-fetch.ts does for S3:
// a fetch that takes `oci+http(s)://` locators (oci-location.ts) and speaks
// the distribution API for them, passing every other URL on unchanged.  Each
// chunk or file is desync's artifact: a blob holding its bytes, referenced by
// an image manifest tagged with its name, whose config is the spec's empty
// JSON blob.  A GET reads the manifest by tag, then the blob (with the Range
// the client asks for when it resumes); a HEAD reads the manifest; a PUT
// pushes the blob (POST, then PUT with its digest) and then the manifest, so
// a tag never names a blob the registry lacks; a DELETE deletes the manifest
// by digest and leaves the blob to the registry's garbage collection.
//
// Because it sits under the client, every request gets the client's retries,
// timeout and rate limit: a step answered 5xx, 429 or 408 hands that answer
// up, and the client repeats the whole operation.  Any other failure is one
// line naming registry, repository and tag.  A tag of another artifact type
// counts as absent (desync's rule: a foreign artifact may share the repository).
//
// Authentication as registries ask for it: anonymous first; on 401 the
// challenge says Basic (the credentials are sent as they are) or Bearer
// (a token is asked of the realm for the challenge's scope, with the
// credentials if there are any).  The answer is kept per repository, so
// later requests send it at once.

import { networkError } from '../errors.ts';
import { isOciLocator, ociWhere, parseOciLocator, type OciCredentials, type OciLocation } from './oci-location.ts';

/** desync's artifact type of chunk manifests (oci.go), so that both tools read each other's chunks. */
export const OCI_CHUNK_TYPE = 'application/vnd.desync.chunk.v1';
/** wasync's artifact type of an index or archive kept in a repository (desync keeps none there). */
export const OCI_FILE_TYPE = 'application/vnd.wasync.file.v1';
export const OCI_MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';
const EMPTY_CONFIG = { mediaType: 'application/vnd.oci.empty.v1+json', digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', size: 2 };
const TITLE = 'org.opencontainers.image.title';
/** Tags listed per request by a store's listing (oci-store.ts); desync's page size too. */
export const OCI_TAG_PAGE = 1000;

const isChunkTag = (tag: string) => /^[0-9a-f]{64}\.cacnk/.test(tag);
const RETRY = (s: number) => s >= 500 || s === 429 || s === 408;

/** Where credentials for a registry come from (the platform's: the environment, docker's config). */
export type OciCredentialSource = (host: string) => OciCredentials | null;

/** `base` with oci+ locators spoken as the distribution API; `credentials` asked once per registry. */
export function ociFetch(base: typeof fetch, credentials: OciCredentialSource): typeof fetch {
  const registry = new OciRegistry(base, credentials);
  return ((input: string | URL, init: RequestInit = {}) => {
    const loc = String(input);
    return isOciLocator(loc) ? registry.handle(loc, init) : base(input, init);
  }) as typeof fetch;
}

/** A step's answer that the client retries (5xx, 429, 408), handed up as the operation's. */
class Retry {
  constructor(readonly res: Response) {}
}

interface Manifest {
  digest: string;
  layer: { mediaType: string; digest: string; size: number };
}

class OciRegistry {
  /** by registry and repository: the Authorization in use and the actions its token grants */
  private readonly auth = new Map<string, Grant>();
  private readonly creds = new Map<string, OciCredentials | null>();
  private readonly configs = new Map<string, Promise<void>>();
  private readonly repos = new Set<string>();

  constructor(
    private readonly base: typeof fetch,
    private readonly credentials: OciCredentialSource,
  ) {}

  async handle(loc: string, init: RequestInit): Promise<Response> {
    const l = parseOciLocator(loc);
    const method = (init.method ?? 'GET').toUpperCase();
    const headers = (init.headers as Record<string, string> | undefined) ?? {};
    const signal = init.signal ?? undefined;
    try {
      if (l.tag === null) {
        if (method !== 'GET' || !new URLSearchParams(l.query).has('tags')) throw networkError(`${ociWhere(l)}: a repository is not a file; name one as …/NAME.caibx`);
        return await this.tags(l, new URLSearchParams(l.query).get('last'), signal);
      }
      switch (method) {
        case 'GET':
          return await this.get(l, headers.range, signal);
        case 'HEAD':
          return answer((await this.manifest(l, signal)) ? 200 : 404);
        case 'PUT':
          return await this.push(l, (init.body as Uint8Array | undefined) ?? new Uint8Array(0), signal);
        case 'DELETE':
          return await this.remove(l, signal);
        default:
          throw networkError(`${ociWhere(l)}: ${method} is not an operation on an OCI artifact`);
      }
    } catch (e) {
      if (e instanceof Retry) return e.res;
      throw e;
    }
  }

  /** The blob of the tag's artifact; 404 if there is none (in a repository that exists). */
  private async get(l: OciLocation, range: string | undefined, signal?: AbortSignal): Promise<Response> {
    const m = await this.manifest(l, signal);
    if (!m) {
      await this.repositoryExists(l, signal);
      return answer(404);
    }
    const res = await this.request(l, 'GET', `blobs/${m.layer.digest}`, { headers: range ? { range } : {}, signal });
    // A manifest whose blob is gone is a missing chunk, as desync has it, so that other stores are tried.
    if (res.status === 404) return drained(res, answer(404));
    return this.check(res, l, 'GET blob', [200, 206]);
  }

  /** The tag's manifest if it is an artifact of the kind its name says, else null. */
  private async manifest(l: OciLocation, signal?: AbortSignal): Promise<Manifest | null> {
    const res = await this.request(l, 'GET', `manifests/${l.tag}`, { headers: { accept: OCI_MANIFEST_TYPE }, signal });
    if (res.status === 404) return drained(res, null);
    const body = await readAll(await this.check(res, l, 'GET manifest', [200]), 1 << 20);
    let m: { artifactType?: string; layers?: Manifest['layer'][] };
    try {
      m = JSON.parse(new TextDecoder().decode(body));
    } catch {
      throw networkError(`${ociWhere(l)}: the manifest is not JSON`);
    }
    if (m.artifactType !== (isChunkTag(l.tag!) ? OCI_CHUNK_TYPE : OCI_FILE_TYPE)) return null;
    const layer = m.layers?.[0];
    if (m.layers?.length !== 1 || typeof layer?.digest !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(layer.digest)) {
      throw networkError(`${ociWhere(l)}: the manifest references ${m.layers?.length ?? 0} blobs, expected exactly one`);
    }
    return { digest: res.headers.get('docker-content-digest') ?? `sha256:${await sha256Hex(body)}`, layer };
  }

  /** Once per repository that has not been seen: a missing tag in a missing repository is an error, not an absence. */
  private async repositoryExists(l: OciLocation, signal?: AbortSignal): Promise<void> {
    const key = `${l.registry} ${l.repo}`;
    if (this.repos.has(key)) return;
    const res = await this.request(l, 'GET', 'tags/list?n=1', { signal });
    await this.check(res, l, 'GET tags/list', [200]).then((r) => r.body?.cancel());
    this.repos.add(key);
  }

  /** A page of the repository's tags after `last`, as the registry answers it. */
  private async tags(l: OciLocation, last: string | null, signal?: AbortSignal): Promise<Response> {
    const q = `n=${OCI_TAG_PAGE}${last ? `&last=${encodeURIComponent(last)}` : ''}`;
    return this.check(await this.request(l, 'GET', `tags/list?${q}`, { signal }), l, 'GET tags/list', [200]);
  }

  private async push(l: OciLocation, body: Uint8Array, signal?: AbortSignal): Promise<Response> {
    await this.config(l, signal);
    const digest = `sha256:${await sha256Hex(body)}`;
    await this.upload(l, digest, body, signal);
    // Keys in the order Go writes desync's manifest, so that both tools make the same manifest of the same chunk.
    const manifest = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST_TYPE,
      artifactType: isChunkTag(l.tag!) ? OCI_CHUNK_TYPE : OCI_FILE_TYPE,
      config: EMPTY_CONFIG,
      layers: [{ mediaType: 'application/octet-stream', digest, size: body.length }],
      annotations: { [TITLE]: l.tag },
    };
    const bytes = new TextEncoder().encode(JSON.stringify(manifest));
    const res = await this.request(l, 'PUT', `manifests/${l.tag}`, { headers: { 'content-type': OCI_MANIFEST_TYPE }, body: bytes, signal });
    await this.check(res, l, 'PUT manifest', [200, 201]).then((r) => r.body?.cancel());
    this.repos.add(`${l.registry} ${l.repo}`);
    return answer(201);
  }

  /** The empty config blob every manifest references, pushed once per repository if the registry lacks it. */
  private config(l: OciLocation, signal?: AbortSignal): Promise<void> {
    const key = `${l.registry} ${l.repo}`;
    let p = this.configs.get(key);
    if (!p) {
      p = (async () => {
        const res = await this.request(l, 'HEAD', `blobs/${EMPTY_CONFIG.digest}`, { signal });
        await res.body?.cancel();
        if (res.status === 200) return;
        if (res.status !== 404) await this.check(res, l, 'HEAD config blob', [200]);
        await this.upload(l, EMPTY_CONFIG.digest, new TextEncoder().encode('{}'), signal);
      })();
      this.configs.set(key, p);
      p.catch(() => this.configs.delete(key));
    }
    return p;
  }

  /** A blob pushed in one piece: POST opens the upload, PUT with the digest closes it. */
  private async upload(l: OciLocation, digest: string, body: Uint8Array, signal?: AbortSignal): Promise<void> {
    const open = await this.check(await this.request(l, 'POST', 'blobs/uploads/', { signal }), l, 'POST blob upload', [202]);
    await open.body?.cancel();
    const where = open.headers.get('location');
    if (!where) throw networkError(`${ociWhere(l)}: the blob upload was answered without a Location`);
    const url = new URL(where, `${l.registry}/v2/`);
    url.searchParams.set('digest', digest);
    const headers = { 'content-type': 'application/octet-stream', 'content-length': String(body.length) };
    const res = await this.request(l, 'PUT', url.href, { headers, body, signal });
    await this.check(res, l, 'PUT blob', [201, 204]).then((r) => r.body?.cancel());
  }

  private async remove(l: OciLocation, signal?: AbortSignal): Promise<Response> {
    const m = await this.manifest(l, signal);
    if (!m) return answer(404);
    const res = await this.request(l, 'DELETE', `manifests/${m.digest}`, { signal });
    if (res.status === 404) return drained(res, answer(404));
    await this.check(res, l, 'DELETE manifest', [200, 202, 204]).then((r) => r.body?.cancel());
    return answer(204);
  }

  /**
   * A request to the repository's API (`path` below /v2/<repo>/, or an absolute
   * URL), authenticated as the registry asks and following redirects.
   */
  private async request(l: OciLocation, method: string, path: string, o: { headers?: Record<string, string>; body?: Uint8Array; signal?: AbortSignal }): Promise<Response> {
    const url = /^https?:\/\//.test(path) ? path : `${l.registry}/v2/${l.repo}/${path}`;
    const key = `${l.registry} ${l.repo}`;
    // Two rounds of refusal at most: a token for pull may be refused for push.
    for (let round = 0; ; round++) {
      const held = this.auth.get(key);
      const auth = held && (await held.header);
      const res = await this.follow(method, url, { ...o.headers, ...(auth ? { authorization: auth } : {}) }, o.body, o.signal);
      const challenge = res.headers.get('www-authenticate');
      if (res.status !== 401 || round > 1 || !challenge) return res;
      await res.body?.cancel();
      // Requests refused together share one new token: only the first refused
      // with the grant in use asks; the others retry with what it gets.
      if (this.auth.get(key) !== held) continue;
      const grant = this.authorize(l, challenge, held?.actions ?? [], method !== 'GET' && method !== 'HEAD', o.signal);
      this.auth.set(key, grant);
      grant.header.catch(() => this.auth.get(key) === grant && this.auth.delete(key));
    }
  }

  /** fetch, following redirects (a registry may send blobs from elsewhere); credentials stay with their origin. */
  private async follow(method: string, url: string, headers: Record<string, string>, body?: Uint8Array, signal?: AbortSignal): Promise<Response> {
    const origin = new URL(url).origin;
    for (let hops = 0; ; hops++) {
      const res = await this.base(url, { method, headers, body: body as BodyInit | undefined, signal });
      const to = res.headers.get('location');
      if (![301, 302, 303, 307, 308].includes(res.status) || !to || hops >= 5 || method !== 'GET') return res;
      await res.body?.cancel();
      url = new URL(to, url).href;
      if (new URL(url).origin !== origin) {
        headers = { ...headers };
        delete headers.authorization;
      }
    }
  }

  /**
   * The Authorization a 401's challenge asks for.  A token asked for keeps the
   * actions of the one it replaces (`held`), so that pull, push and delete
   * during one operation do not trade one token for another at every turn.
   */
  private authorize(l: OciLocation, challenge: string, held: readonly string[], write: boolean, signal?: AbortSignal): Grant {
    const scheme = /^\s*(\w+)/.exec(challenge)?.[1].toLowerCase();
    const params: Record<string, string> = {};
    for (const m of challenge.matchAll(/(\w+)="([^"]*)"/g)) params[m[1].toLowerCase()] = m[2];
    if (!l.credentials && !this.creds.has(l.host)) this.creds.set(l.host, this.credentials(l.host));
    const creds = l.credentials ?? this.creds.get(l.host) ?? null;
    const basic = creds ? `Basic ${base64(`${creds.username}:${creds.password}`)}` : null;
    if (scheme === 'basic') {
      if (!basic) return refusal(networkError(`${ociWhere(l)}: the registry asks for a user name and password (${CREDENTIALS_HINT})`));
      return { header: Promise.resolve(basic), actions: [] };
    }
    if (scheme !== 'bearer' || !params.realm) return refusal(networkError(`${ociWhere(l)}: the registry asks for authentication this client cannot give (${challenge})`));
    const ours = `repository:${l.repo}:`;
    const asked = params.scope?.startsWith(ours) ? params.scope.slice(ours.length).split(',') : params.scope ? null : write ? ['pull', 'push'] : ['pull'];
    const actions = asked ? [...new Set([...held, ...asked])].sort((a, b) => rank(a) - rank(b)) : [];
    const url = new URL(params.realm);
    if (params.service) url.searchParams.set('service', params.service);
    url.searchParams.set('scope', asked ? ours + actions.join(',') : params.scope);
    return { header: this.token(l, url, basic, creds !== null, signal), actions };
  }

  /** A bearer token from the token service at `url`. */
  private async token(l: OciLocation, url: URL, basic: string | null, haveCreds: boolean, signal?: AbortSignal): Promise<string> {
    const res = await this.follow('GET', url.href, basic ? { authorization: basic } : {}, undefined, signal);
    if (RETRY(res.status)) throw new Retry(res);
    if (res.status !== 200) {
      await res.body?.cancel();
      throw networkError(`${ociWhere(l)}: the token service ${url.origin}${url.pathname} answered ${res.status}${haveCreds ? ' (it refused the credentials)' : ` (${CREDENTIALS_HINT})`}`);
    }
    const answerJson = JSON.parse(new TextDecoder().decode(await readAll(res, 1 << 20))) as { token?: string; access_token?: string };
    const token = answerJson.token ?? answerJson.access_token;
    if (!token) throw networkError(`${ociWhere(l)}: the token service ${url.origin}${url.pathname} answered without a token`);
    return `Bearer ${token}`;
  }

  /** `res` if its status is one of `ok`; a retryable one handed up; any other an error naming the artifact. */
  private async check(res: Response, l: OciLocation, what: string, ok: number[]): Promise<Response> {
    if (ok.includes(res.status)) return res;
    if (RETRY(res.status)) throw new Retry(res);
    let code = '';
    let message = '';
    try {
      const e = JSON.parse(new TextDecoder().decode(await readAll(res, 1 << 16))) as { errors?: { code?: string; message?: string }[] };
      code = e.errors?.[0]?.code ?? '';
      message = e.errors?.[0]?.message ?? '';
    } catch {
      /* not the spec's error body: the status says it */
    }
    const refused = res.status === 401 && this.auth.has(`${l.registry} ${l.repo}`);
    const hint = code === 'NAME_UNKNOWN' ? 'the repository does not exist' : refused ? 'the registry refused the credentials' : (HINTS[res.status] ?? message);
    throw networkError(`${ociWhere(l)}: ${what} answered ${res.status}${code ? ` ${code}` : ''}${hint ? ` (${hint})` : ''}`);
  }
}

/** An Authorization being got or in use, and the repository actions it grants (bearer tokens only). */
interface Grant {
  header: Promise<string>;
  actions: readonly string[];
}

/** A grant that fails when used, so that every request waiting on it gets the same line. */
function refusal(e: Error): Grant {
  const header = Promise.reject(e);
  header.catch(() => {});
  return { header, actions: [] };
}

const rank = (action: string) => ['pull', 'push', 'delete'].indexOf(action) >>> 0;

const CREDENTIALS_HINT = 'set DESYNC_OCI_USERNAME and DESYNC_OCI_PASSWORD, log in with docker login, or give oci+https://USER:PASSWORD@host/…';

const HINTS: Record<number, string> = {
  401: `authentication failed: ${CREDENTIALS_HINT}`,
  403: 'access denied: the credentials may not do this',
  405: 'the registry does not allow this; deleting needs REGISTRY_STORAGE_DELETE_ENABLED=true on a distribution registry',
};

/** The few members of a Response that HttpClient reads, for answers made here. */
function answer(status: number): Response {
  return { status, statusText: '', headers: { get: () => null }, body: null } as unknown as Response;
}

async function drained<T>(res: Response, value: T): Promise<T> {
  await res.body?.cancel();
  return value;
}

/** The body, refused past `limit` bytes (manifests and error answers are small). */
async function readAll(res: Response, limit: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let size = 0;
  if (res.body) {
    const reader = res.body.getReader();
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      size += r.value.length;
      if (size > limit) {
        await res.body.cancel().catch(() => {});
        throw networkError(`an OCI registry answered more than ${limit} bytes where a manifest was expected`);
      }
      parts.push(r.value);
    }
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const p of parts) all.set(p, (at += p.length) - p.length);
  return all;
}

async function sha256Hex(data: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', data as Uint8Array<ArrayBuffer>));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}

const base64 = (s: string) => btoa(String.fromCharCode(...new TextEncoder().encode(s)));
