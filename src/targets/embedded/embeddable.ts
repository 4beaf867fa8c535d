/**
 * What the embedded target can run: packages whose services are ours (built in or a module).
 * An upstream package that starts Docker containers (swarm.sh, docker-compose.yml) and declares
 * no services would otherwise be reported "deployed" while nothing runs: it is refused up front.
 */
import { InstantError } from '../../common/errors.js';
import type { InstantPackage } from '../../platform/package-metadata.js';

export function assertEmbeddable(packages: readonly InstantPackage[]): void {
  const containerOnly = packages.filter((pkg) => pkg.containerDeployment);
  if (containerOnly.length === 0) return;
  const names = containerOnly.map((pkg) => `${pkg.id} (${pkg.containerDeployment} in ${pkg.dir})`).join(', ');
  throw new InstantError(
    'INSTANT_PACKAGE_NEEDS_CONTAINERS',
    `the embedded target cannot run ${names}: it starts Docker containers and declares no services this process can run`,
    'it needs a container target (compose, swarm or kubernetes), which this version does not have yet; to run it here, declare its services in package-metadata.json ("services": [{ "name": ..., "module": ... }], docs/package-format.md)',
  );
}
