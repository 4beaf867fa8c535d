import { trustCertificates } from '../common/trust.js';
import { InstantError } from '../common/errors.js';
import { loadDeployment, type DeploymentOptions } from '../platform/deployment.js';
import { endpointVars, runFeatures } from '../platform/harness/run-features.js';
import { settingValues } from '../platform/settings-resolver.js';

/** test: runs the packages' features against the running stack, or a remote one (--base-url). */
export async function testCommand(options: DeploymentOptions & { baseUrl?: string }): Promise<void> {
  const deployment = loadDeployment(options);
  const runtime = deployment.store.liveRuntime();
  trustCertificates(runtime?.trustedCertificates);
  if (!runtime && !options.baseUrl) {
    throw new InstantError('INSTANT_NOT_RUNNING', `nothing is running from ${deployment.store.dir}`, 'start the stack with `instant init -d <package>`, or test a remote stack with --base-url URL');
  }
  const endpoints = endpointVars(runtime?.endpoints ?? {});
  const vars = { ...settingValues(deployment.settingsWith(deployment.store.readSecrets())), ...endpoints };
  vars.BASE_URL = options.baseUrl ?? endpoints.INTEROP_LAYER_ROUTER_URL ?? Object.values(endpoints)[0] ?? '';
  // Features test what was asked for: dependencies are deployed, but their own features are
  // run only when they are named too.
  const named = new Set(options.packages.length ? options.packages : deployment.plan.ordered.map((p) => p.id));
  const packages = deployment.plan.ordered.filter((p) => named.has(p.id));
  const result = await runFeatures({ packages, vars });
  if (result.features === 0) {
    process.stdout.write(`No feature files in ${packages.map((p) => p.featuresDir).join(', ')}.\n`);
    return;
  }
  if (!result.success) throw new InstantError('INSTANT_TEST_FAILED', `features of ${packages.map((p) => p.id).join(', ')} failed`, 'see the failures above');
}
