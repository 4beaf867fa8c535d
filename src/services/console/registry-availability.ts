/**
 * Which registries the browsers may use, re-checked while the console runs: a registry package
 * started after the console (`instant init fhir-datastore` on a running stack) is picked up within
 * seconds, and one stopped is dropped, without restarting the console. A registry counts as up
 * when its FHIR base answers `GET <base>/metadata` with a CapabilityStatement; the answer is
 * reused for a few seconds so page loads and registry reads do not each probe.
 */
import type { RegistryBases } from './registry-proxy.js';

export type RegistryId = keyof RegistryBases;
export const REGISTRY_IDS: readonly RegistryId[] = ['shr', 'cr'];

/** How long one probe's answer is reused (short: a started registry appears within this). */
export const AVAILABILITY_CACHE_MS = 5_000;
/** A registry that does not answer its metadata in this time counts as down for now. */
const PROBE_TIMEOUT_MS = 2_000;
export const PROBE_USER_AGENT = 'instant-console/registry-probe';

async function answersMetadata(base: string): Promise<boolean> {
  try {
    const response = await fetch(`${base.replace(/\/+$/, '')}/metadata`, {
      // Named, so a registry's logs (and the tests' stand-ins) can tell probes from reads.
      headers: { accept: 'application/fhir+json', 'user-agent': PROBE_USER_AGENT },
      redirect: 'manual',
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
    });
    if (response.status !== 200) {
      await response.body?.cancel();
      return false;
    }
    const body = (await response.json()) as { resourceType?: unknown };
    return body?.resourceType === 'CapabilityStatement';
  } catch {
    return false;
  }
}

export class RegistryAvailability {
  private readonly checked = new Map<RegistryId, { at: number; up: Promise<boolean> }>();

  constructor(
    /** Where each registry would be (configured or derived from its package's default port). */
    readonly bases: RegistryBases,
    private readonly now: () => number = Date.now,
    private readonly probe: (base: string) => Promise<boolean> = answersMetadata,
  ) {}

  /** The registry's FHIR base when it is up now (cached for AVAILABILITY_CACHE_MS), else undefined. */
  async baseIfUp(id: RegistryId): Promise<string | undefined> {
    const base = this.bases[id];
    if (!base) return undefined;
    let entry = this.checked.get(id);
    if (!entry || this.now() - entry.at >= AVAILABILITY_CACHE_MS) {
      // One probe in flight per registry, shared by every caller.
      entry = { at: this.now(), up: this.probe(base) };
      this.checked.set(id, entry);
    }
    return (await entry.up) ? base : undefined;
  }

  async upNow(): Promise<Record<RegistryId, boolean>> {
    const [shr, cr] = await Promise.all(REGISTRY_IDS.map(async (id) => !!(await this.baseIfUp(id))));
    return { shr: shr!, cr: cr! };
  }
}
