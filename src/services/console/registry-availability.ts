/**
 * Which registries the browsers may use, re-checked while the console runs: a registry package
 * started after the console (`instant init fhir-datastore` on a running stack) is picked up within
 * seconds, and one stopped is dropped, without restarting the console. A registry counts as up
 * when its FHIR base answers `GET <base>/metadata` with a CapabilityStatement; the answer is
 * reused for a few seconds so page loads and registry reads do not each probe.
 */
import type { RegistryBases, RegistryId } from './registry-bases.js';

export type { RegistryId } from './registry-bases.js';
/** The registries the browsers open. */
export const REGISTRY_IDS: readonly RegistryId[] = ['shr', 'cr'];
/** Every registry the architecture view draws when it runs. */
export const COMPONENT_IDS: readonly RegistryId[] = ['shr', 'cr', 'tx', 'cs'];

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
  private readonly checked = new Map<RegistryId, { at: number; base: string; up: Promise<boolean> }>();
  private readonly basesNow: () => RegistryBases;

  constructor(
    /** Where each registry would be (registry-bases.ts): asked on every check, as the deployment changes. */
    bases: RegistryBases | (() => RegistryBases),
    private readonly now: () => number = Date.now,
    private readonly probe: (base: string) => Promise<boolean> = answersMetadata,
  ) {
    this.basesNow = typeof bases === 'function' ? bases : () => bases;
  }

  /** The registry's FHIR base when it is up now (cached for AVAILABILITY_CACHE_MS), else undefined. */
  async baseIfUp(id: RegistryId): Promise<string | undefined> {
    const base = this.basesNow()[id];
    if (!base) return undefined;
    let entry = this.checked.get(id);
    // A registry the deployment moved (a package started with another port) is probed where it is now.
    if (!entry || entry.base !== base || this.now() - entry.at >= AVAILABILITY_CACHE_MS) {
      // One probe in flight per registry, shared by every caller.
      entry = { at: this.now(), base, up: this.probe(base) };
      this.checked.set(id, entry);
    }
    return (await entry.up) ? base : undefined;
  }

  async upNow(): Promise<{ shr: boolean; cr: boolean }> {
    const [shr, cr] = await Promise.all(REGISTRY_IDS.map(async (id) => !!(await this.baseIfUp(id))));
    return { shr: shr!, cr: cr! };
  }
}
