import { serviceSettingNames } from '../services/settings-catalogue.js';
import { LIMITS } from '../common/limits.js';
import type { InstantPackage } from './package-metadata.js';

/** Settings of the platform itself, read from the deployment's settings. */
const PLATFORM_SETTINGS = ['INSTANT_DEV', 'INSTANT_LOG_LEVEL'];

/** Every setting name the packages declare (defaults and secrets), the limits and the platform's own. */
export function knownSettingNames(packages: InstantPackage[]): Set<string> {
  return new Set([
    ...packages.flatMap((pkg) => [...Object.keys(pkg.environmentVariables), ...pkg.secrets.map((s) => s.name)]),
    ...Object.values(LIMITS).map((limit) => limit.setting),
    ...PLATFORM_SETTINGS,
    ...serviceSettingNames(),
  ]);
}

/** Edit distance (insertions, deletions, substitutions), for "did you mean" on setting names. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * The known name a given one is probably a typo of: unknown itself, and within two edits of
 * exactly one best match. Services also read optional settings no package declares, so a name
 * far from every known one is not reported.
 */
export function likelyTypo(name: string, known: Set<string>): string | undefined {
  if (known.has(name)) return undefined;
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const distance = editDistance(name, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}
