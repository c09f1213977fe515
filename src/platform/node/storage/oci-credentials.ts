// Credentials for OCI registries as desync finds them: DESYNC_OCI_USERNAME
// and DESYNC_OCI_PASSWORD, else the registry's entry in docker's config
// ($DOCKER_CONFIG/config.json, default ~/.docker/config.json), where
// `docker login` and `oras login` leave them (its "auth", base64 of
// user:password, or "username" and "password"); else none, and the registry
// is asked anonymously.  Credentials in the locator's user part come first
// (oci-fetch.ts).  Asked only when a registry answers 401.  Docker's
// credential helpers (credsStore, credHelpers) are not run.

import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { usageError } from '../../../errors.ts';
import type { OciCredentials } from '../../../stores/oci-location.ts';

export function ociCredentials(host: string, env: NodeJS.ProcessEnv = process.env): OciCredentials | null {
  const username = env.DESYNC_OCI_USERNAME ?? '';
  const password = env.DESYNC_OCI_PASSWORD ?? '';
  // A token taken as the password with any user name is a common form; a password alone is a mistake to say.
  if (!username && password) throw usageError('DESYNC_OCI_PASSWORD is set without DESYNC_OCI_USERNAME');
  if (username) return { username, password };
  return dockerCredentials(host, env);
}

type DockerAuth = { auth?: string; username?: string; password?: string };

function dockerCredentials(host: string, env: NodeJS.ProcessEnv): OciCredentials | null {
  let file: string;
  try {
    file = join(env.DOCKER_CONFIG || join(homedir(), '.docker'), 'config.json');
  } catch {
    return null; // no home directory: nothing to read
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  let auths: Record<string, DockerAuth>;
  try {
    auths = (JSON.parse(text) as { auths?: Record<string, DockerAuth> }).auths ?? {};
  } catch {
    throw usageError(`${file}: not JSON (docker's config, read for the credentials of ${host})`);
  }
  const hub = /^(?:registry-1\.|index\.)?docker\.io$/.test(host) ? ['https://index.docker.io/v1/'] : [];
  const keys = [host, `https://${host}`, `http://${host}`, `https://${host}/v1/`, `https://${host}/v2/`, ...hub];
  const entry = keys.map((k) => auths[k]).find((a) => a && (a.auth || a.username));
  if (!entry) return null;
  if (entry.auth) {
    const plain = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = plain.indexOf(':');
    if (colon < 0) throw usageError(`${file}: the auth of ${host} is not base64 of user:password`);
    return { username: plain.slice(0, colon), password: plain.slice(colon + 1) };
  }
  return { username: entry.username ?? '', password: entry.password ?? '' };
}
