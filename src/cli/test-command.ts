import { readFileSync } from 'node:fs';
import { trustCertificates } from '../common/trust.js';
import { InstantError } from '../common/errors.js';
import { loadDeployment, type DeploymentOptions } from '../platform/deployment.js';
import { endpointVars, featureFiles, runFeatures } from '../platform/harness/run-features.js';
import { settingValues } from '../platform/settings-resolver.js';

/** test: runs the packages' features against the running stack, or a remote one (--base-url). */
export async function testCommand(options: DeploymentOptions & { baseUrl?: string }): Promise<void> {
  const deployment = loadDeployment(options);
  const remote = options.baseUrl !== undefined;
  // A remote stack is tested with what is known of it: the URL, and settings given here.
  // A container target: the entry points it published, as recorded at init.
  const containers = remote ? undefined : deployment.store.readState()?.target;
  const runtime = remote ? undefined : containers ? { endpoints: containers.endpoints, trustedCertificates: undefined } : deployment.store.liveRuntime();
  trustCertificates(runtime?.trustedCertificates);
  if (!runtime && !remote) {
    throw new InstantError('INSTANT_NOT_RUNNING', `nothing is running from ${deployment.store.dir}`, 'start the stack with `instant init -d <package>`, or test a remote stack with --base-url URL');
  }
  const resolved = deployment.settingsWith(deployment.store.readSecrets());
  const endpoints = endpointVars(runtime?.endpoints ?? {});
  // The stack's endpoints win over package defaults; what this command is given wins over both.
  const given = Object.fromEntries([...resolved].filter(([, s]) => s.source === 'cli' || s.source === 'env-file').map(([name, s]) => [name, s.value]));
  const vars = { ...settingValues(resolved), ...endpoints, ...given };
  vars.BASE_URL = options.baseUrl ?? endpoints.INTEROP_LAYER_ROUTER_URL ?? Object.values(endpoints)[0] ?? '';
  // Features test what was asked for: dependencies are deployed, but their own features are
  // run only when they are named too.
  const named = new Set(options.packages.length ? options.packages : deployment.plan.ordered.map((p) => p.id));
  const packages = deployment.plan.ordered.filter((p) => named.has(p.id));
  // A package that is not running here would fail every scenario on 404s and refused connections.
  const running = remote ? undefined : containers ? Object.keys(deployment.store.readState()?.packages ?? {}) : deployment.store.liveRuntime()?.packages;
  const absent = running ? packages.filter((p) => !running.includes(p.id)).map((p) => p.id) : [];
  if (absent.length) {
    throw new InstantError('INSTANT_NOT_RUNNING', `${absent.join(', ')} ${absent.length > 1 ? 'are' : 'is'} not running in the instance of ${deployment.store.dir} (running: ${running!.join(', ') || 'nothing'})`, `deploy ${absent.length > 1 ? 'them' : 'it'} first with \`instant init -d ${absent.join(' ')}\`, or test a remote stack with --base-url URL`);
  }
  if (remote) {
    const unset = unsetPlaceholders(featureFiles(packages), vars);
    process.stdout.write(`Testing the stack at ${options.baseUrl}.\n`);
    if (unset.length) process.stdout.write(`Not known for a remote stack: ${unset.join(', ')}; the scenarios that use them are skipped (give them with -e NAME=value to run them).\n`);
  }
  const result = await runFeatures({ packages, vars, skipUnset: remote });
  if (result.features === 0) {
    process.stdout.write(`No feature files in ${packages.map((p) => p.featuresDir).join(', ')}.\n`);
    return;
  }
  if (!result.success) throw new InstantError('INSTANT_TEST_FAILED', `features of ${packages.map((p) => p.id).join(', ')} failed`, 'see the failures above');
}

/** ${NAME}s the features use that nothing sets (remembered values aside). */
function unsetPlaceholders(files: string[], vars: Record<string, string>): string[] {
  const text = files.map((file) => readFileSync(file, 'utf8')).join('\n');
  const remembered = new Set([...text.matchAll(/ as "([A-Za-z_][A-Za-z0-9_]*)"\s*$/gm)].map((m) => m[1]!));
  return [...new Set([...text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]!))].filter((name) => vars[name] === undefined && !remembered.has(name)).sort();
}
