/**
 * The deployment's composition on the container targets: the renderers put it in one plain
 * setting, INSTANT_COMPOSITION (JSON, in the shared environment: a ConfigMap on Kubernetes), and
 * `instant serve` hands it to the service (ServiceContext.composition), so the console names the
 * packages deployed and finds each service at its address on the container network. It holds
 * package ids, names, versions, service names and URLs: no setting's value, so no secret.
 */
import type { Deployment } from '../../platform/deployment.js';
import type { DeployedPackage, DeploymentComposition } from '../../services/service.js';

export const COMPOSITION_SETTING = 'INSTANT_COMPOSITION';

/** The composition of a container plan: its packages, and its services' endpoints by DNS name. */
export function renderComposition(target: string, deployment: Pick<Deployment, 'plan'>, endpoints: Record<string, Record<string, string>>): string {
  const composition: DeploymentComposition = {
    target,
    packages: deployment.plan.ordered.map((pkg) => ({ id: pkg.id, name: pkg.name, version: pkg.version, services: pkg.services.map((s) => s.name) })),
    endpoints: Object.fromEntries(Object.entries(endpoints).map(([service, urls]) => [service, withoutCredentials(urls)])),
  };
  return JSON.stringify(composition);
}

/** The composition a container was given, or undefined (not rendered, or not readable: the service runs without it). */
export function compositionFromSettings(values: Record<string, string>): DeploymentComposition | undefined {
  const text = values[COMPOSITION_SETTING];
  if (!text) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  return readComposition(raw);
}

const isString = (value: unknown): value is string => typeof value === 'string';

/** Checked once at the edge: a hand-edited setting of the wrong shape is ignored, not trusted. */
export function readComposition(raw: unknown): DeploymentComposition | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const { target, packages, endpoints } = raw as Record<string, unknown>;
  if (!isString(target) || !Array.isArray(packages) || !endpoints || typeof endpoints !== 'object') return undefined;
  const readPackage = (p: unknown): DeployedPackage | undefined => {
    const { id, name, version, services } = (p ?? {}) as Record<string, unknown>;
    if (!isString(id) || !isString(name) || !isString(version) || !Array.isArray(services) || !services.every(isString)) return undefined;
    return { id, name, version, services };
  };
  const read = packages.map(readPackage);
  if (read.some((p) => !p)) return undefined;
  const urls: DeploymentComposition['endpoints'] = {};
  for (const [service, named] of Object.entries(endpoints as Record<string, unknown>)) {
    if (!named || typeof named !== 'object') return undefined;
    const entries = Object.entries(named as Record<string, unknown>);
    if (!entries.every(([, url]) => isString(url))) return undefined;
    urls[service] = withoutCredentials(Object.fromEntries(entries) as Record<string, string>);
  }
  return { target, packages: read as DeployedPackage[], endpoints: urls };
}

/** URLs as given, minus any user:password part (an endpoint never needs one to be named). */
function withoutCredentials(urls: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(urls).map(([name, url]) => {
    try {
      const parsed = new URL(url);
      if (!parsed.username && !parsed.password) return [name, url];
      parsed.username = '';
      parsed.password = '';
      return [name, parsed.toString()];
    } catch {
      return [name, url];
    }
  }));
}
