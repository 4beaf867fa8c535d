import { readEnvFile, parseAssignment } from './env-file.js';
import type { InstantPackage } from './package-metadata.js';
import type { Profile } from './project-config.js';

export type SettingSource = 'default' | 'package' | 'secret' | 'profile' | 'env-file' | 'cli';

export interface ResolvedSetting {
  value: string;
  source: SettingSource;
  /** Which package, file or profile the value came from. */
  origin: string;
  secret: boolean;
}

export interface SettingsInput {
  packages: InstantPackage[];
  secrets?: Record<string, string>;
  profile?: Profile;
  /** --env-file, in the order given: a later file wins over an earlier one. */
  envFiles?: string[];
  /** -e K=V, in the order given: a later one wins. */
  assignments?: string[];
}

/**
 * Settings are one namespace for the whole deployment, as upstream's environment is.
 * Precedence, lowest first: package defaults < generated secrets < profile (its env files,
 * then its envVars) < --env-file < -e.
 */
export function resolveSettings(input: SettingsInput): Map<string, ResolvedSetting> {
  const resolved = new Map<string, ResolvedSetting>();
  const secretNames = new Set(input.packages.flatMap((p) => p.secrets.map((s) => s.name)));
  const set = (name: string, value: string, source: SettingSource, origin: string) =>
    resolved.set(name, { value, source, origin, secret: secretNames.has(name) || looksSecret(name) });

  for (const pkg of input.packages) {
    for (const [name, value] of Object.entries(pkg.environmentVariables)) set(name, value, 'package', pkg.id);
  }
  for (const [name, value] of Object.entries(input.secrets ?? {})) set(name, value, 'secret', 'state directory');
  if (input.profile) {
    for (const file of input.profile.envFiles) {
      for (const [name, value] of Object.entries(readEnvFile(file))) set(name, value, 'profile', `${input.profile.name} (${file})`);
    }
    for (const [name, value] of Object.entries(input.profile.envVars)) set(name, value, 'profile', input.profile.name);
  }
  for (const file of input.envFiles ?? []) {
    for (const [name, value] of Object.entries(readEnvFile(file))) set(name, value, 'env-file', file);
  }
  for (const assignment of input.assignments ?? []) {
    const [name, value] = parseAssignment(assignment, '-e');
    set(name, value, 'cli', '-e');
  }
  return resolved;
}

/** Values of these names are masked wherever settings are shown. */
export function looksSecret(name: string): boolean {
  // An SMTP URL carries the mail server's password, an SMS gateway's URL its API key.
  return /PASSWORD|SECRET|TOKEN|(^|_)KEY($|_)|PRIVATE|SMTP_URL|SMS_URL/i.test(name);
}

export function settingValues(resolved: Map<string, ResolvedSetting>): Record<string, string> {
  return Object.fromEntries([...resolved].map(([name, s]) => [name, s.value]));
}
