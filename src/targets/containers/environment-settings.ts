/**
 * A container's settings come from its environment, as the twelve-factor convention has it, and
 * its secrets from files: NAME_FILE=/run/secrets/NAME (Docker and Kubernetes secrets are mounted
 * as files) gives NAME the file's content. A value set directly wins over a _FILE one, so an
 * operator can override one secret without unmounting it.
 *
 * Only declared secrets are read from files: the names in INSTANT_SECRET_NAMES (rendered by the
 * targets), else the secrets the packages declare and the services' secret settings, and the database's. Any other variable that
 * happens to end in _FILE (a tool's own, an injected one) is left as it is, never read.
 */
import { readFileSync } from 'node:fs';
import { InstantError } from '../../common/errors.js';
import { discoverPackages } from '../../platform/discovery.js';
import { looksSecret } from '../../platform/settings-resolver.js';
import { serviceSettingNames } from '../../services/settings-catalogue.js';

export const SECRET_NAMES_SETTING = 'INSTANT_SECRET_NAMES';
/** Secrets of the database connection, which no package declares. */
const DATABASE_SECRETS = ['INSTANT_DATABASE_URL', 'INSTANT_DATABASE_PASSWORD'];

function declaredSecrets(env: NodeJS.ProcessEnv): Set<string> {
  const listed = env[SECRET_NAMES_SETTING];
  // Without the rendered list (a hand-written deployment): the packages' secrets and the services' own secret settings.
  const names = listed !== undefined
    ? listed.split(',').map((n) => n.trim()).filter(Boolean)
    : [...[...discoverPackages().values()].flatMap((pkg) => pkg.secrets.map((s) => s.name)), ...serviceSettingNames().filter(looksSecret)];
  return new Set([...names, ...DATABASE_SECRETS]);
}

/** The settings of an environment, declared secrets read from their files. */
export function settingsFromEnvironment(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (value !== undefined) values[name] = value;
  const declared = declaredSecrets(env);
  for (const [fileName, path] of Object.entries(env)) {
    if (!fileName.endsWith('_FILE') || !path) continue;
    const name = fileName.slice(0, -'_FILE'.length);
    if (!declared.has(name)) continue;
    if (env[name] !== undefined && env[name] !== '') continue;
    values[name] = readSecretFile(fileName, path);
    delete values[fileName];
  }
  return values;
}

function readSecretFile(setting: string, path: string): string {
  try {
    // Secrets written by editors or `echo` end with a newline that is not part of the value.
    return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch (error) {
    throw new InstantError('INSTANT_SECRET_FILE', `${setting} names ${path}, which cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, 'mount the secret at that path (Docker/Kubernetes secret), or set the value directly');
  }
}

/**
 * The PostgreSQL URL of a container: INSTANT_DATABASE_URL (or its _FILE), else built from
 * INSTANT_DATABASE_HOST, _PORT, _USER, _PASSWORD(_FILE) and _NAME.
 */
export function databaseUrlFromSettings(settings: Record<string, string>): string {
  if (settings.INSTANT_DATABASE_URL) return settings.INSTANT_DATABASE_URL;
  const host = settings.INSTANT_DATABASE_HOST;
  if (!host) {
    throw new InstantError('INSTANT_DATABASE_URL_MISSING', 'a service in a container needs PostgreSQL: INSTANT_DATABASE_URL (or INSTANT_DATABASE_URL_FILE) is not set, nor INSTANT_DATABASE_HOST', 'set INSTANT_DATABASE_URL_FILE to a mounted secret holding postgres://USER:PASSWORD@HOST:5432/DATABASE');
  }
  const user = encodeURIComponent(settings.INSTANT_DATABASE_USER ?? 'instant');
  const password = settings.INSTANT_DATABASE_PASSWORD ? `:${encodeURIComponent(settings.INSTANT_DATABASE_PASSWORD)}` : '';
  return `postgres://${user}${password}@${host}:${settings.INSTANT_DATABASE_PORT ?? '5432'}/${encodeURIComponent(settings.INSTANT_DATABASE_NAME ?? 'instant')}`;
}
