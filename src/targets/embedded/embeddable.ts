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
    'declare its containers as services with an image ("services": [{ "name": ..., "image": ... }]) and deploy it with -t compose, swarm or kubernetes (docs/production.md); or, to run it here, declare services this process runs ("module": ..., docs/package-format.md)',
  );
}
