// The configuration file: where it is ($XDG_CONFIG_HOME/wasync/config.json,
// default ~/.config/wasync/config.json, or the file the caller names), reading
// it, and what it makes of one location once the caller's own options are laid
// over it (`wasync config LOCATION`).  Checking and matching are the core's
// (stores/store-config.ts, stores/config-match.ts); the operations take the
// result as NetworkOptions.config.

import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { ioError, usageError } from '../../../errors.ts';
import { configJson, optionsJson, storeOptionsFor } from '../../../stores/config-match.ts';
import { EMPTY_CONFIG, parseConfig, type StoreOptions, type WasyncConfig } from '../../../stores/store-config.ts';
import { configKey, DEFAULT_STORE_OPTIONS } from './network.ts';

/** Where the configuration is looked for when no file is named. */
export function defaultConfigFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config'), 'wasync', 'config.json');
}

/**
 * The configuration in `file`, else in the default place; a missing default
 * file is an empty configuration, a missing named one an error.
 */
export function loadConfig(file?: string, env: NodeJS.ProcessEnv = process.env): WasyncConfig {
  const path = file ?? defaultConfigFile(env);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (file === undefined && (e as NodeJS.ErrnoException).code === 'ENOENT') return EMPTY_CONFIG;
    throw ioError('EINPUT', path, e);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw usageError(`${path}: not valid JSON: ${(e as Error).message}`);
  }
  return parseConfig(json, path, (p) => resolve(p));
}

/** The options of the store (or index) at `location`: the defaults, then the file's, then `given` (which wins). */
export function effectiveOptions(config: WasyncConfig, location: string, given: StoreOptions = {}): StoreOptions {
  const defined = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined));
  return { ...DEFAULT_STORE_OPTIONS, ...storeOptionsFor(config, configKey(location)), ...defined };
}

/** What `wasync config` prints: the whole configuration, or one location's effective options; secrets masked. */
export function configReport(config: WasyncConfig, location?: string, given: StoreOptions = {}): Record<string, unknown> {
  if (location === undefined) return { ...configJson(config), defaults: optionsJson(effectiveOptions(EMPTY_CONFIG, '/', given)) };
  return { 'config-file': config.file, location: configKey(location), ...optionsJson(effectiveOptions(config, location, given)) };
}
