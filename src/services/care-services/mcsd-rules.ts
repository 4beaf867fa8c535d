/**
 * What mCSD's profiles require of directory resources beyond the R4 definitions, checked on every
 * write (a write interceptor, inside the write's transaction; a 422 OperationOutcome refuses it):
 *
 * - a Location's position is on Earth: latitude -90..90, longitude -180..180;
 * - a facility Location (mCSD FacilityLocation: type `facility`, or its profile) names the
 *   Organization it belongs to in `managingOrganization`, and that Organization exists;
 * - `partOf` (Location → Location, Organization → Organization) points at a resource that exists,
 *   a jurisdiction only nests in a jurisdiction, and the chain above has no cycle and at most
 *   CARE_SERVICES_HIERARCHY_MAX_DEPTH levels.
 *
 * Existence is checked after the write (the `after` hook), so a transaction bundle may create an
 * Organization and its facility Location together.
 */
import type { Location, Organization, Reference, Resource } from '@medplum/fhirtypes';
import { FhirError } from '../../fhir/outcome.js';
import type { FhirRepository } from '../../fhir/repository.js';
import type { WriteInterceptor } from '../../fhir/write-interceptors.js';

export const MCSD_TYPES_SYSTEM = 'https://profiles.ihe.net/ITI/mCSD/CodeSystem/IHE.mCSD.Organization.Location.Types';
const PROFILE = 'https://profiles.ihe.net/ITI/mCSD/StructureDefinition/IHE.mCSD.';

type Tree = Location | Organization;

function unprocessable(message: string, expression: string): FhirError {
  return new FhirError(422, 'FHIR_INVALID_RESOURCE', message, [{ severity: 'error', code: 'business-rule', diagnostics: message, expression: [expression] }]);
}

/** Whether the resource is an mCSD facility or jurisdiction, by its type or its profile. */
export function mcsdKind(resource: Tree): 'facility' | 'jurisdiction' | undefined {
  for (const kind of ['facility', 'jurisdiction'] as const) {
    if (resource.type?.some((t) => t.coding?.some((c) => c.system === MCSD_TYPES_SYSTEM && c.code === kind))) return kind;
    const profile = `${PROFILE}${kind === 'facility' ? 'Facility' : 'Jurisdiction'}${resource.resourceType}`;
    if (resource.meta?.profile?.includes(profile)) return kind;
  }
  return undefined;
}

function checkPosition(location: Location): void {
  const position = location.position;
  if (!position) return;
  if (!(position.latitude >= -90 && position.latitude <= 90)) {
    throw unprocessable(`Location.position.latitude ${position.latitude} is out of range (-90 to 90)`, 'Location.position.latitude');
  }
  if (!(position.longitude >= -180 && position.longitude <= 180)) {
    throw unprocessable(`Location.position.longitude ${position.longitude} is out of range (-180 to 180)`, 'Location.position.longitude');
  }
}

/** The id a local reference to `type` names; undefined for references to other servers. */
function localId(reference: Reference | undefined, type: string, base: string): string | undefined {
  const text = reference?.reference;
  if (!text) return undefined;
  const relative = text.startsWith(`${base}/`) ? text.slice(base.length + 1) : text;
  const match = /^([A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(\/_history\/.*)?$/.exec(relative);
  return match && match[1] === type ? match[2] : undefined;
}

async function readLive(repo: FhirRepository, type: string, id: string): Promise<Resource | undefined> {
  try {
    return await repo.read(type, id);
  } catch (error) {
    if (error instanceof FhirError && (error.status === 404 || error.status === 410)) return undefined;
    throw error;
  }
}

async function checkManagingOrganization(repo: FhirRepository, location: Location): Promise<void> {
  if (mcsdKind(location) !== 'facility') return;
  const reference = location.managingOrganization?.reference;
  if (!reference) {
    throw unprocessable('a facility Location (mCSD FacilityLocation) must name its Organization in managingOrganization', 'Location.managingOrganization');
  }
  const id = localId(location.managingOrganization, 'Organization', repo.baseUrl);
  if (id && !(await readLive(repo, 'Organization', id))) {
    throw unprocessable(`Location.managingOrganization refers to Organization/${id}, which does not exist`, 'Location.managingOrganization');
  }
}

/** Walks up partOf from the stored resource: the parent exists, kinds nest, no cycle, bounded depth. */
async function checkPartOf(repo: FhirRepository, resource: Tree, maxDepth: number): Promise<void> {
  const type = resource.resourceType;
  const expression = `${type}.partOf`;
  let parentId = localId(resource.partOf, type, repo.baseUrl);
  if (!parentId) return;
  const seen = new Set([resource.id]);
  const first = await readLive(repo, type, parentId) as Tree | undefined;
  if (!first) throw unprocessable(`${type}.partOf refers to ${type}/${parentId}, which does not exist`, expression);
  if (mcsdKind(resource) === 'jurisdiction' && mcsdKind(first) !== 'jurisdiction') {
    throw unprocessable(`a jurisdiction ${type} can only be part of a jurisdiction; ${type}/${parentId} is not one`, expression);
  }
  let current: Tree | undefined = first;
  for (let depth = 1; current; depth++) {
    if (seen.has(parentId!)) throw unprocessable(`${type}.partOf would make a cycle: ${type}/${parentId} is already below ${type}/${resource.id}`, expression);
    if (depth > maxDepth) throw unprocessable(`${type}.partOf chain is deeper than ${maxDepth} levels (setting CARE_SERVICES_HIERARCHY_MAX_DEPTH)`, expression);
    seen.add(parentId!);
    parentId = localId(current.partOf, type, repo.baseUrl);
    current = parentId ? (await readLive(repo, type, parentId)) as Tree | undefined : undefined;
  }
}

export function mcsdRulesInterceptor(maxDepth: number): WriteInterceptor {
  return {
    name: 'mCSD profile rules',
    types: ['Location', 'Organization'],
    before({ resource }) {
      if (resource?.resourceType === 'Location') checkPosition(resource as Location);
    },
    async after({ action, stored, repo }) {
      if (action === 'delete' || !stored) return;
      if (stored.resourceType === 'Location') await checkManagingOrganization(repo, stored as Location);
      await checkPartOf(repo, stored as Tree, maxDepth);
    },
  };
}
