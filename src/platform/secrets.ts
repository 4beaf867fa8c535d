import { randomBytes } from 'node:crypto';
import type { InstantPackage } from './package-metadata.js';
import type { StateStore } from './state-store.js';

/** URL-safe random text of the given length (6 bits of entropy a character). */
export function generateSecret(length: number): string {
  return randomBytes(Math.ceil((length * 3) / 4)).toString('base64url').slice(0, length);
}

/**
 * Returns the stored secrets, generating (and storing, mode 0600) any the packages declare
 * that are not stored yet. Generation happens at init; up only reads.
 */
export function ensureSecrets(store: StateStore, packages: InstantPackage[], generate: boolean): { secrets: Record<string, string>; generated: string[] } {
  const secrets = store.readSecrets();
  const generated: string[] = [];
  if (generate) {
    for (const pkg of packages) {
      for (const spec of pkg.secrets) {
        if (secrets[spec.name] !== undefined) continue;
        secrets[spec.name] = generateSecret(spec.length);
        generated.push(spec.name);
      }
    }
    if (generated.length) store.writeSecrets(secrets);
  }
  return { secrets, generated };
}
