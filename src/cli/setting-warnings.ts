import type { Deployment, DeploymentOptions } from '../platform/deployment.js';
import { parseAssignment, readEnvFile } from '../platform/env-file.js';
import { knownSettingNames, likelyTypo } from '../platform/setting-names.js';

/**
 * A misspelled setting (`-e OPENHIM_ROUTER_HTTP_PROT=1`) would be silently ignored: each name given to
 * this command (-e, --env-file) that is close to a known one is reported with that name. init
 * (`remembers`) keeps -e settings for later commands, but not these (instance-record.ts).
 */
export function warnMisspelledSettings(deployment: Deployment, options: DeploymentOptions, warn: (message: string) => void, remembers = false): void {
  const known = knownSettingNames([...deployment.all.values()]);
  const given: Array<[string, string]> = (options.assignments ?? []).map((a) => [parseAssignment(a, '-e')[0], '-e']);
  const givenFiles = options.envFiles?.length ? deployment.envFiles.slice(-options.envFiles.length) : [];
  for (const file of givenFiles) {
    for (const name of Object.keys(readEnvFile(file))) given.push([name, file]);
  }
  for (const [name, origin] of given) {
    const meant = likelyTypo(name, known);
    if (meant) warn(`setting ${name} (${origin}) is not used by any package: did you mean ${meant}?${remembers && origin === '-e' ? ' (not remembered for later commands)' : ''}`);
  }
}
