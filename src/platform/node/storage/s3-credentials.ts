// S3 credentials as desync and the AWS tools find them: S3_ACCESS_KEY,
// S3_SECRET_KEY, S3_SESSION_TOKEN and S3_REGION; else AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and AWS_REGION (or
// AWS_DEFAULT_REGION); else the configuration file's s3-credentials for the
// endpoint (config-match.ts); else the profile AWS_PROFILE (default
// "default") of the AWS credentials file (AWS_SHARED_CREDENTIALS_FILE,
// default ~/.aws/credentials).  Read when the endpoint's first request is
// made, so that nothing is asked of a command that reaches no bucket.

import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { usageError } from '../../../errors.ts';
import { s3CredentialsFor } from '../../../stores/config-match.ts';
import type { S3Credentials } from '../../../stores/s3-fetch.ts';
import type { WasyncConfig } from '../../../stores/store-config.ts';

export function s3Credentials(env: NodeJS.ProcessEnv = process.env, config?: WasyncConfig, endpoint = ''): S3Credentials {
  const region = env.S3_REGION || env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined;
  if (env.S3_ACCESS_KEY && env.S3_SECRET_KEY) {
    return { accessKeyId: env.S3_ACCESS_KEY, secretAccessKey: env.S3_SECRET_KEY, sessionToken: env.S3_SESSION_TOKEN || undefined, region };
  }
  if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    return { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, sessionToken: env.AWS_SESSION_TOKEN || undefined, region };
  }
  const c = s3CredentialsFor(config, endpoint);
  if (c?.accessKey && c.secretKey) return { accessKeyId: c.accessKey, secretAccessKey: c.secretKey, sessionToken: c.sessionToken, region: region ?? c.region };
  const file = c?.credentialsFile || env.AWS_SHARED_CREDENTIALS_FILE || join(homedir(), '.aws', 'credentials');
  const profile = c?.profile || env.AWS_PROFILE || 'default';
  let text: string | null = null;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    /* no file: said below */
  }
  const p = text === null ? null : profileOf(text, profile);
  if (p?.aws_access_key_id && p.aws_secret_access_key) {
    return { accessKeyId: p.aws_access_key_id, secretAccessKey: p.aws_secret_access_key, sessionToken: p.aws_session_token, region: region ?? c?.region ?? p.region };
  }
  throw usageError(
    `no S3 credentials: set S3_ACCESS_KEY and S3_SECRET_KEY (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), give s3-credentials for ${endpoint} in the configuration file, or give profile ${profile} in ${file}`,
  );
}

/** The keys of `[name]` in an INI file. */
function profileOf(text: string, name: string): Record<string, string> | null {
  let current: string | null = null;
  const found: Record<string, string> = {};
  let seen = false;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const section = /^\[\s*(?:profile\s+)?([^\]]+?)\s*\]$/.exec(line);
    if (section) {
      current = section[1];
      seen ||= current === name;
      continue;
    }
    const kv = /^([A-Za-z_]+)\s*=\s*(.*)$/.exec(line);
    if (kv && current === name) found[kv[1].toLowerCase()] = kv[2];
  }
  return seen ? found : null;
}
