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
import { parseReference } from '../../fhir/storage/indexer.js';
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
    // A canonical may name its version (`...FacilityLocation|3.9.0`): the profile is the same.
    if (resource.meta?.profile?.some((canonical) => canonical.split('|')[0] === profile)) return kind;
  }
  return undefined;
}

function checkPosition(location: Location): void {
  const position = location.position;
  if (!position) return;
  for (const element of ['latitude', 'longitude'] as const) {
    if (position[element] === undefined || position[element] === null) {
      throw unprocessable(`Location.position.${element} is missing (a position needs both latitude and longitude)`, `Location.position.${element}`);
    }
  }
  if (!(position.latitude >= -90 && position.latitude <= 90)) {
    throw unprocessable(`Location.position.latitude ${position.latitude} is out of range (-90 to 90)`, 'Location.position.latitude');
  }
  if (!(position.longitude >= -180 && position.longitude <= 180)) {
    throw unprocessable(`Location.position.longitude ${position.longitude} is out of range (-180 to 180)`, 'Location.position.longitude');
  }
}

/**
 * The reference as the engine's indexer reads it (parseReference with the repository's local
 * bases: relative, or absolute on the client's or the service's own base), so every reference a
 * hierarchy walk would follow is checked; references to other servers are neither indexed nor
 * checked. A local reference to another type is refused: mCSD trees never cross types.
 */
function localId(repo: FhirRepository, reference: Reference | undefined, type: string, expression: string): string | undefined {
  const text = reference?.reference;
  if (!text) return undefined;
  const local = parseReference(text, repo.localBaseUrls());
  if (!local) return undefined;
  if (local.targetType !== type) throw unprocessable(`${expression} must refer to a ${type}, not ${local.local}`, expression);
  return local.targetId;
}

/** A reference the rules can judge: relative `Type/id`, or absolute ending in Type/id, optionally with its version. */
const WELL_FORMED_REFERENCE = /^(?:https?:\/\/[^?#]*\/)?[A-Z][A-Za-z]{1,63}\/[A-Za-z0-9\-.]{1,64}(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/;

/**
 * The hierarchy references the rules check (partOf, managingOrganization) must have a shape the
 * engine reads: `Location/x/`, `location/x`, `Location/x?y` or `Location/x#f` are neither
 * indexed nor checked, yet a reader may take them for Location/x (a jurisdiction under a
 * facility). Refused (400, naming the element); contained (`#id`) and `urn:` references stay
 * outside the rules, as references to other servers do.
 */
function checkReferenceShapes(resource: Tree): void {
  const elements: Array<[string, Reference | undefined]> = [[`${resource.resourceType}.partOf`, resource.partOf]];
  if (resource.resourceType === 'Location') elements.push(['Location.managingOrganization', resource.managingOrganization]);
  for (const [expression, reference] of elements) {
    const text = reference?.reference;
    if (text === undefined || text.startsWith('#') || text.startsWith('urn:') || WELL_FORMED_REFERENCE.test(text)) continue;
    const message = `${expression}.reference "${text.slice(0, 80)}" is not a reference this registry can follow: write Type/id (e.g. Location/loc-district-01) or an absolute URL ending in Type/id, without a trailing slash, query or fragment`;
    throw new FhirError(400, 'FHIR_BAD_REQUEST', message, [{ severity: 'error', code: 'invalid', diagnostics: message, expression: [`${expression}.reference`] }]);
  }
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
  const id = localId(repo, location.managingOrganization, 'Organization', 'Location.managingOrganization');
  if (id && !(await readLive(repo, 'Organization', id))) {
    throw unprocessable(`Location.managingOrganization refers to Organization/${id}, which does not exist`, 'Location.managingOrganization');
  }
}

/** Nodes above `parentId` along partOf (the parent is depth 1), as far as maxDepth + 1; the walk stops at `selfId` (a cycle). */
async function ancestors(repo: FhirRepository, type: string, parentId: string, selfId: string, maxDepth: number): Promise<Array<{ id: string; depth: number }>> {
  const s = repo.schema;
  const found = await repo.sql.query<{ id: string; depth: number }>(`WITH RECURSIVE up(id, depth) AS (
      SELECT $2::text, 1
      UNION
      SELECT p.target_id, u.depth + 1 FROM up u
        JOIN ${s}.resources c ON c.type = $1 AND c.id = u.id AND NOT c.deleted
        JOIN ${s}.idx_reference p ON p.rid = c.rid AND p.param = 'partof' AND p.target_type = $1
      WHERE u.depth <= $4::int AND u.id <> $3
    ) SELECT u.id, u.depth FROM up u
      WHERE EXISTS (SELECT 1 FROM ${s}.resources r WHERE r.type = $1 AND r.id = u.id AND NOT r.deleted)`, [type, parentId, selfId, maxDepth]);
  return found.rows.map((row) => ({ id: row.id, depth: Number(row.depth) }));
}

/** Levels of the subtree under `id` (0 for a leaf), as far as maxDepth + 1. */
async function depthBelow(repo: FhirRepository, type: string, id: string, maxDepth: number): Promise<number> {
  const s = repo.schema;
  const found = await repo.sql.query<{ depth: number | null }>(`WITH RECURSIVE down(id, depth) AS (
      SELECT $2::text, 0
      UNION
      SELECT c.id, d.depth + 1 FROM down d
        JOIN ${s}.idx_reference p ON p.type = $1 AND p.param = 'partof' AND p.target_type = $1 AND p.target_id = d.id
        JOIN ${s}.resources c ON c.rid = p.rid AND NOT c.deleted
      WHERE d.depth <= $3::int
    ) SELECT max(depth) AS depth FROM down`, [type, id, maxDepth]);
  return Number(found.rows[0]?.depth ?? 0);
}

/**
 * The stored resource's place in its tree: the parent exists, kinds nest, no cycle, and the
 * levels above it plus the levels of its subtree stay within maxDepth (joining two chains must
 * not make a deeper one). One read and two recursive queries, whatever the depth. Hierarchy
 * writes are serialised (a transaction-scoped advisory lock), so two writes at once (A under B,
 * B under A) cannot each miss the other's half of a cycle: the second sees the first committed.
 */
async function checkPartOf(repo: FhirRepository, resource: Tree, maxDepth: number): Promise<void> {
  const type = resource.resourceType;
  const expression = `${type}.partOf`;
  const parentId = localId(repo, resource.partOf, type, expression);
  if (!parentId) return;
  await repo.sql.query('SELECT pg_advisory_xact_lock(hashtext($1))', [HIERARCHY_LOCK]);
  const parent = await readLive(repo, type, parentId) as Tree | undefined;
  if (!parent) throw unprocessable(`${type}.partOf refers to ${type}/${parentId}, which does not exist`, expression);
  if (mcsdKind(resource) === 'jurisdiction' && mcsdKind(parent) !== 'jurisdiction') {
    throw unprocessable(`a jurisdiction ${type} can only be part of a jurisdiction; ${type}/${parentId} is not one`, expression);
  }
  const above = await ancestors(repo, type, parentId, resource.id!, maxDepth);
  if (above.some((node) => node.id === resource.id)) {
    throw unprocessable(`${type}.partOf would make a cycle: ${type}/${parentId} is ${type}/${resource.id} itself or below it`, expression);
  }
  const levels = Math.max(...above.map((node) => node.depth)) + await depthBelow(repo, type, resource.id!, maxDepth);
  if (levels > maxDepth) {
    throw unprocessable(`${type}.partOf would make a chain of more than ${maxDepth} levels (the levels above ${type}/${resource.id} and those below it; setting CARE_SERVICES_HIERARCHY_MAX_DEPTH)`, expression);
  }
}

/** One lock for every hierarchy write of the service's schema (writes that set partOf are rare next to reads). */
const HIERARCHY_LOCK = 'care-services: partOf writes';

export function mcsdRulesInterceptor(maxDepth: number): WriteInterceptor {
  return {
    name: 'mCSD profile rules',
    types: ['Location', 'Organization'],
    before({ resource }) {
      if (resource?.resourceType === 'Location') checkPosition(resource as Location);
      if (resource?.resourceType === 'Location' || resource?.resourceType === 'Organization') checkReferenceShapes(resource as Tree);
    },
    async after({ action, stored, repo }) {
      if (action === 'delete' || !stored) return;
      if (stored.resourceType === 'Location') await checkManagingOrganization(repo, stored as Location);
      await checkPartOf(repo, stored as Tree, maxDepth);
    },
  };
}
