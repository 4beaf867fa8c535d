/**
 * Compartment search (R4 search.html#compartments): `GET Patient/123/Observation?params` is the
 * search `Observation?params` restricted to the Observations in Patient 123's compartment, i.e.
 * those whose compartment parameters (subject, performer, from the R4 CompartmentDefinition)
 * reference that patient; `Patient/123/*` searches every type of the compartment. The Encounter,
 * RelatedPerson, Practitioner and Device compartments work the same way. Membership is
 * one semi-join on the reference index, as $everything reads it (storage/compartment.ts).
 */
import { OTHER_R4_COMPARTMENTS } from '../compartment-definitions.js';
import { isResourceType, patientCompartmentDefinition } from '../definitions.js';
import { FhirError, badRequest } from '../outcome.js';
import type { CustomFilter, SearchRequest } from './parse.js';

/** A CompartmentDefinition's parameter for the compartment's own resource. */
const OWN_RESOURCE = '{def}';

export interface CompartmentScope {
  /** The compartment's type and id, e.g. Patient and 123. */
  ownerType: string;
  ownerId: string;
  /** The searched type, or `*` for every type of the compartment. */
  memberType: string;
}

/**
 * The resource types of a compartment with the reference parameters that place them in it
 * (`{def}`: the compartment's own resource). R4 defines Patient, Encounter, RelatedPerson,
 * Practitioner and Device compartments.
 */
function compartmentMembers(ownerType: string): ReadonlyArray<{ type: string; params: readonly string[] }> {
  if (ownerType === 'Patient') return patientCompartmentDefinition();
  const other = Object.hasOwn(OTHER_R4_COMPARTMENTS, ownerType) ? OTHER_R4_COMPARTMENTS[ownerType] : undefined;
  if (other) return other.map(([type, params]) => ({ type, params }));
  if (isResourceType(ownerType)) {
    throw new FhirError(404, 'FHIR_NOT_FOUND', `R4 defines no ${ownerType} compartment (compartments: Patient, Encounter, RelatedPerson, Practitioner, Device)`);
  }
  throw new FhirError(404, 'FHIR_NOT_FOUND', `no FHIR interaction at /${ownerType.slice(0, 64)}/...: unknown resource type`);
}

/** The search type a compartment search parses its parameters against (undefined for `*`). */
export function compartmentSearchType(scope: CompartmentScope): string | undefined {
  const members = compartmentMembers(scope.ownerType);
  if (!/^[A-Za-z0-9\-.]{1,64}$/.test(scope.ownerId)) throw badRequest(`"${scope.ownerId.slice(0, 70)}" is not a valid resource id`, 'FHIR_BAD_SEARCH');
  if (scope.memberType === '*') return undefined;
  if (!isResourceType(scope.memberType)) throw badRequest(`unknown resource type "${scope.memberType.slice(0, 64)}"`, 'FHIR_BAD_SEARCH');
  if (!members.some((m) => m.type === scope.memberType)) {
    throw badRequest(`${scope.memberType} is not in the ${scope.ownerType} compartment (R4 CompartmentDefinition ${scope.ownerType.toLowerCase()})`, 'FHIR_BAD_SEARCH');
  }
  return scope.memberType;
}

/** Restricts a parsed search to the members of the compartment. */
export function restrictToCompartment(request: SearchRequest, scope: CompartmentScope): void {
  let members = compartmentMembers(scope.ownerType);
  if (scope.memberType !== '*') members = members.filter((m) => m.type === scope.memberType);
  else {
    // `*` searches every type of the compartment, or those of `_type` that are in it.
    const listed = request.types;
    const outside = listed?.filter((type) => !members.some((m) => m.type === type)) ?? [];
    if (outside.length) {
      throw badRequest(`${outside.slice(0, 5).join(', ')} ${outside.length > 1 ? 'are' : 'is'} not in the ${scope.ownerType} compartment (R4 CompartmentDefinition ${scope.ownerType.toLowerCase()})`, 'FHIR_BAD_SEARCH');
    }
    if (listed?.length) members = members.filter((m) => listed.includes(m.type));
    request.types = members.map((m) => m.type); // none left: the filter below matches nothing
  }
  const pairs = members.flatMap((m) => m.params.filter((param) => param !== OWN_RESOURCE).map((param) => [m.type, param] as const));
  const itself = members.some((m) => m.type === scope.ownerType && m.params.includes(OWN_RESOURCE));
  const filter: CustomFilter = {
    kind: 'custom',
    code: `${scope.ownerType}/${scope.ownerId}`,
    condition: (ctx, alias) => {
      const p = (value: unknown): string => ctx.params.add(value);
      const conditions: string[] = [];
      if (itself) conditions.push(`(${alias}.type = ${p(scope.ownerType)} AND ${alias}.id = ${p(scope.ownerId)})`);
      if (pairs.length) {
        conditions.push(`${alias}.rid IN (SELECT x.rid FROM ${ctx.schema}.idx_reference x
          JOIN unnest(${p(pairs.map((pair) => pair[0]))}::text[], ${p(pairs.map((pair) => pair[1]))}::text[]) AS m(type, param)
            ON x.type = m.type AND x.param = m.param
          WHERE x.target_type = ${p(scope.ownerType)} AND x.target_id = ${p(scope.ownerId)})`);
      }
      return conditions.length ? `(${conditions.join(' OR ')})` : 'false';
    },
  };
  request.filters.push(filter);
}
