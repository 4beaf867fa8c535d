/**
 * `Patient/$match` (ITI-119 Patient Demographics Match): scores the given Patient against the
 * records sharing a blocking key and answers one entry per Patient resource found (Case 2), best
 * first, with `search.score` (0..1, inside its grade's band) and the match-grade extension.
 */
import { assertJsonShape } from '../../fhir/json-shape.js';
import type { Bundle, BundleEntry, Patient } from '@medplum/fhirtypes';
import type { FhirOperation } from '../../fhir/operations/registry.js';
import { badRequest } from '../../fhir/outcome.js';
import { validateAgainstDefinitions } from '../../fhir/validation.js';
import { referencedId } from './golden-record.js';
import type { DomainsReader } from './identifier-domains.js';
import type { GoldenRecordLinker, ScoredCandidate } from './linker.js';
import { patientBoundsViolation, type PatientBounds } from './patient-bounds.js';

export const MATCH_GRADE_URL = 'http://hl7.org/fhir/StructureDefinition/match-grade';
const DEFAULT_COUNT = 10;

function booleanParameter(value: unknown, name: string): boolean {
  if (value === undefined) return false;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw badRequest(`$match ${name} must be true or false`);
}

/** The person a record is: its golden record (its `refer` link), or itself. */
function personOf(patient: Patient): string | undefined {
  const refer = patient.link?.find((l) => l.type === 'refer');
  return (refer && referencedId(refer)) ?? patient.id;
}

export function matchOperation(linker: GoldenRecordLinker, readDomains: DomainsReader, bounds: PatientBounds): FhirOperation {
  return {
    name: 'match',
    levels: ['type'],
    resourceTypes: ['Patient'],
    affectsState: false,
    definitionUrl: 'http://hl7.org/fhir/OperationDefinition/Patient-match',
    async run({ repo, parameters, baseUrl }) {
      const param = (name: string) => parameters.parameter?.find((p) => p.name === name);
      // PDQm MatchParametersIn: resource 1..1 (and onlyCertainMatches, count 0..1): a second is refused, not ignored.
      for (const name of ['resource', 'onlyCertainMatches', 'count']) {
        if ((parameters.parameter ?? []).filter((p) => p.name === name).length > 1) throw badRequest(`$match takes one "${name}" parameter`);
      }
      const input = param('resource')?.resource as Patient | undefined;
      if (!input || input.resourceType !== 'Patient') throw badRequest('$match needs a "resource" parameter holding a Patient');
      // PDQm MatchInputPatient: any subset of demographics, but a valid Patient (ITI-119 Case 9: else 400),
      // and nothing that changes how it reads (no modifierExtension, no implicitRules).
      assertJsonShape(input);
      validateAgainstDefinitions(input);
      for (const forbidden of ['modifierExtension', 'implicitRules'] as const) {
        if (input[forbidden] !== undefined) throw badRequest(`$match: the Patient cannot have ${forbidden} (PDQm MatchInputPatient): it would change what the demographics mean`);
      }
      const violation = patientBoundsViolation(input, bounds);
      if (violation) throw badRequest(`$match: ${violation}`);
      const onlyCertain = booleanParameter(param('onlyCertainMatches')?.valueBoolean ?? param('onlyCertainMatches')?.valueString, 'onlyCertainMatches');
      const countValue = param('count')?.valueInteger ?? param('count')?.valueString;
      let count = DEFAULT_COUNT;
      if (countValue !== undefined) {
        // A large count is lowered to the search cap, as _count is; only what is no count is refused.
        if (!/^\d{1,9}$/.test(String(countValue)) || Number(countValue) < 1) throw badRequest(`$match count must be a positive integer, not "${String(countValue).slice(0, 40)}"`);
        count = Math.min(Number(countValue), repo.limits.fhirSearchMaxCount);
      }
      const domains = await readDomains(repo);
      // A query, not a registration: identifiers in unknown domains simply match nothing.
      const identifier = input.identifier?.map((i) => (i.system && domains.canonical(i.system) ? { ...i, system: domains.canonical(i.system) } : i));
      const patient: Patient = { ...input, ...(identifier ? { identifier } : {}) };
      // ITI-119 Case 2: one entry per Patient resource found, best first (a person's records each have theirs).
      const candidates: ScoredCandidate[] = await linker.scoreCandidates(repo, patient);
      const found = candidates.filter((c) => c.result.grade !== 'certainly-not' && (!onlyCertain || c.result.grade === 'certain'));
      // onlyCertainMatches (Patient-match): certain records of two different people are no certain
      // match; the supplier cannot say which, so it answers none. One person's records are one match.
      const matches = onlyCertain && new Set(found.map((c) => personOf(c.patient))).size > 1 ? [] : found.slice(0, count);
      const entry: BundleEntry[] = matches.map((c) => ({
        fullUrl: `${baseUrl}/Patient/${c.patient.id}`,
        resource: c.patient,
        search: {
          mode: 'match',
          score: Math.round(c.result.normalizedScore * 10000) / 10000,
          extension: [{ url: MATCH_GRADE_URL, valueCode: c.result.grade }],
        },
      }));
      const bundle: Bundle = { resourceType: 'Bundle', type: 'searchset', total: entry.length, ...(entry.length ? { entry } : {}) };
      return bundle;
    },
  };
}
