/**
 * The shared health record's operations on Patient: $everything (the patient compartment) and
 * the IPS $summary (a document Bundle with a Composition of the IPS sections).
 */
import { randomUUID } from 'node:crypto';
import { LIMITS } from '../../common/limits.js';
import type { Bundle, BundleEntry, Composition, CompositionSection, Patient, Resource } from '@medplum/fhirtypes';
import { isResourceType, patientCompartmentDefinition, searchParameter } from '../../fhir/definitions.js';
import { parameterValue, type FhirOperation, type OperationContext } from '../../fhir/operations/registry.js';
import { preferences } from '../../fhir/interaction.js';
import { FhirError, badRequest, tooCostly } from '../../fhir/outcome.js';
import type { CompartmentPosition, CompartmentQuery } from '../../fhir/storage/compartment.js';
import { isSinceValue, parseDateRange } from '../../fhir/search/values.js';
import { isEmptyValue } from '../../fhir/search/parse.js';

const EVERYTHING_LIMIT = 10_000;

/** $everything's parameters, checked before any query: a bad one is a 400 naming it. */
interface EverythingParameters {
  types?: string[];
  since?: string;
  /** start/end as given (FHIR dates), kept for the paging links, and the range they make. */
  start?: string;
  end?: string;
  careDates?: CareDateRange;
  /** Page size (R4: "_count: page size"), the patient included on the first page. */
  count: number;
  /** Where this page starts: a next link's `_cursor`; none on the first page. */
  after?: CompartmentPosition;
}

const KNOWN = new Set(['_type', '_since', '_count', '_cursor', 'start', 'end']);

type CareDateRange = NonNullable<CompartmentQuery['careDates']>;

/**
 * The date search parameters that hold a compartment member's care date: `date` where the type
 * has one (Observation's effective time, Encounter's period, Procedure's performed time...), and
 * for the clinical types without it the parameter that says when the care happened.
 */
const CARE_DATE_OVERRIDES: Record<string, string[]> = {
  Condition: ['onset-date', 'recorded-date'],
  MedicationRequest: ['authoredon'],
  MedicationStatement: ['effective'],
  MedicationAdministration: ['effective-time'],
  MedicationDispense: ['whenhandedover', 'whenprepared'],
  ServiceRequest: ['authored'],
  Specimen: ['collected'],
  ImagingStudy: ['started'],
  Communication: ['sent'],
  CommunicationRequest: ['authored'],
  Claim: ['created'],
  ExplanationOfBenefit: ['created'],
};

let careDateParams: CareDateRange['params'] | undefined;

function careDateParameters(): CareDateRange['params'] {
  careDateParams ??= patientCompartmentDefinition().flatMap(({ type }) =>
    (CARE_DATE_OVERRIDES[type] ?? ['date'])
      .filter((param) => searchParameter(type, param)?.type === 'date')
      .map((param) => ({ type, param })));
  return careDateParams;
}

/** start and end are R4 dates (any precision): the range runs from start's first to end's last instant. */
function careDateRange(start: string | undefined, end: string | undefined): CareDateRange | undefined {
  if (start === undefined && end === undefined) return undefined;
  const bound = (name: string, text: string): { low: Date; high: Date } => {
    if (!/^\d{4}(-\d{2}(-\d{2})?)?$/.test(text)) throw badRequest(`$everything ${name} must be a date (YYYY, YYYY-MM or YYYY-MM-DD), got "${text.slice(0, 100)}"`);
    return parseDateRange(text);
  };
  const low = start === undefined ? '-infinity' : bound('start', start).low.toISOString();
  const high = end === undefined ? 'infinity' : bound('end', end).high.toISOString();
  if (start !== undefined && end !== undefined && low > high) throw badRequest(`$everything start (${start}) is after end (${end})`);
  return { params: careDateParameters(), low, high };
}

function everythingParameters(context: OperationContext): EverythingParameters {
  checkParameterNames(context);
  // A parameter with no value asks for nothing, as in a search.
  const given = (name: string): string | undefined => {
    const value = parameterValue(context.parameters, name);
    return value === undefined || isEmptyValue(value) ? undefined : value;
  };
  const typeText = given('_type');
  const sinceText = given('_since');
  const countText = given('_count');
  const cursorText = given('_cursor');
  const start = given('start');
  const end = given('end');
  const careDates = careDateRange(start, end);
  let types: string[] | undefined;
  if (typeText !== undefined) {
    types = typeText.split(',').map((t) => t.trim()).filter(Boolean);
    const maxTypes = context.repo.limits.fhirSearchMaxValues;
    if (types.length > maxTypes) throw badRequest(`$everything _type lists ${types.length} types; at most ${maxTypes}`);
    const unknown = types.find((t) => !isResourceType(t));
    if (unknown !== undefined) throw badRequest(`$everything _type names an unknown resource type "${unknown.slice(0, 100)}"`);
  }
  let since: string | undefined;
  if (sinceText !== undefined) {
    if (!isSinceValue(sinceText)) {
      throw badRequest(`$everything _since must be an instant with its timezone (e.g. 2024-01-31T00:00:00Z) or a date, got "${sinceText.slice(0, 100)}"`);
    }
    since = parseDateRange(sinceText).low.toISOString();
  }
  let count = EVERYTHING_LIMIT;
  if (countText !== undefined) {
    if (!/^\d{1,9}$/.test(countText) || Number(countText) < 1) throw badRequest(`$everything _count must be a positive integer, got "${countText.slice(0, 100)}"`);
    count = Math.min(Number(countText), EVERYTHING_LIMIT);
  }
  let after: CompartmentPosition | undefined;
  if (cursorText !== undefined) {
    const cursor = /^([A-Za-z]{0,64}):(\d{1,15})$/.exec(cursorText);
    if (!cursor) throw badRequest(`$everything _cursor "${cursorText.slice(0, 100)}" is not one of this server's next links`);
    after = { type: cursor[1]!, rid: Number(cursor[2]) };
  }
  return { types, since, start, end, careDates, count, after };
}

/** Unknown names follow Prefer: handling, as in a search: a 400 under handling=strict, ignored otherwise. */
function checkParameterNames(context: OperationContext): void {
  const names = (context.parameters.parameter ?? []).map((p) => p.name ?? '');
  const unknown = names.find((name) => !KNOWN.has(name));
  if (unknown !== undefined && preferences(context.request.headers).handling === 'strict') {
    throw badRequest(`unknown $everything parameter "${unknown.slice(0, 100)}"; this server takes _type, _since and _count ` +
      '(send Prefer: handling=lenient to ignore unknown parameters)');
  }
}

/** The patient and its compartment; `complete` is false when members were left out (past `limit` or FHIR_SEARCH_MAX_PAGE_BYTES). */
async function patientAndCompartment(
  context: OperationContext, types?: string[], since?: string, limit = EVERYTHING_LIMIT, after?: CompartmentPosition, careDates?: CareDateRange,
): Promise<{ patient: Patient; members: Resource[]; complete: boolean; next?: CompartmentPosition; bytesLeft: number }> {
  if (!context.id) throw new FhirError(400, 'FHIR_BAD_REQUEST', 'this operation needs a Patient id: Patient/{id}/$...');
  const patient = (await context.repo.read('Patient', context.id)) as Patient;
  // The first page's byte budget (FHIR_SEARCH_MAX_PAGE_BYTES) holds the patient too.
  let maxBytes = context.repo.limits.fhirSearchMaxPageBytes;
  if (after === undefined) {
    maxBytes -= Buffer.byteLength(JSON.stringify(patient));
    if (maxBytes <= 0) [limit, maxBytes] = [0, 1];
  }
  const found = await context.repo.compartment({
    ownerType: 'Patient', ownerId: context.id, members: patientCompartmentDefinition(), types, since, careDates, limit, after, maxBytes,
  });
  const members = found.resources.filter((m) => !(m.resourceType === 'Patient' && m.id === patient.id));
  return { patient, members, complete: found.complete, next: found.next, bytesLeft: Math.max(0, maxBytes - found.bytes) };
}

const tooLarge = (operation: string): string =>
  `the patient's records passed ${EVERYTHING_LIMIT} resources or ${LIMITS.fhirSearchMaxPageBytes.setting} bytes, the most one answer may hold; ` +
  `${operation}: narrow it with _type or _since`;

/** A link to a page of this $everything: the parameters it applies, and where the page starts. */
function everythingLink(context: OperationContext, parameters: EverythingParameters, after?: CompartmentPosition): string {
  const query = new URLSearchParams();
  if (parameters.types) query.set('_type', parameters.types.join(','));
  if (parameters.since) query.set('_since', parameters.since);
  if (parameters.start) query.set('start', parameters.start);
  if (parameters.end) query.set('end', parameters.end);
  query.set('_count', String(parameters.count));
  if (after) query.set('_cursor', `${after.type}:${after.rid}`);
  return `${context.baseUrl}/Patient/${context.id}/$everything?${query.toString()}`;
}

/**
 * What the page's records reference, besides the patient's own compartment (R4 Patient-everything:
 * "the server also returns whatever resources are needed to support the records - e.g. linked
 * practitioners, medications, locations, organizations"): one level, as `_include=*`, within what
 * is left of the page's byte budget. Only resources of types outside the patient's record (no
 * Patient, Observation or Encounter: those found by reference are another person's), and only
 * the asked types when `_type` narrows the answer. Entries already on the page are not repeated.
 */
async function supportingResources(context: OperationContext, page: Resource[], types: string[] | undefined, maxBytes: number): Promise<{ resources: Resource[]; complete: boolean }> {
  const onPage = new Set(page.map((r) => `${r.resourceType}/${r.id}`));
  const found = await context.repo.referencedBy(page, maxBytes);
  const resources = found.resources.filter((r) => !patientRecordTypes().has(r.resourceType) && !onPage.has(`${r.resourceType}/${r.id}`) && (!types || types.includes(r.resourceType)));
  return { resources, complete: found.complete };
}

let recordTypes: Set<string> | undefined;

/**
 * The types a patient's own record is made of (the Patient compartment's, and Patient): the
 * patient's own ones are already on the page as members; one found only by reference is another
 * person's (an Observation of another patient named in `hasMember`), never support for this one.
 */
function patientRecordTypes(): Set<string> {
  recordTypes ??= new Set(['Patient', ...patientCompartmentDefinition().map((m) => m.type)]);
  return recordTypes;
}

function supportLeftOut(): BundleEntry {
  const text = `some resources the records reference were left out: the page reached ${LIMITS.fhirSearchMaxPageBytes.setting} bytes; use a smaller _count`;
  return { resource: { resourceType: 'OperationOutcome', issue: [{ severity: 'warning', code: 'too-costly', details: { text }, diagnostics: text }] }, search: { mode: 'outcome' } };
}

export const patientEverything: FhirOperation = {
  name: 'everything',
  levels: ['instance'],
  resourceTypes: ['Patient'],
  affectsState: false,
  definitionUrl: 'http://hl7.org/fhir/OperationDefinition/Patient-everything',
  async run(context) {
    const parameters = everythingParameters(context);
    const first = parameters.after === undefined;
    // The first page holds the patient, then its members: _count entries in all on every page.
    const limit = first ? parameters.count - 1 : parameters.count;
    const { patient, members, complete, next, bytesLeft } = await patientAndCompartment(
      context, parameters.types, parameters.since, limit, parameters.after, parameters.careDates);
    const page = [...(first ? [patient] : []), ...members];
    const supporting = await supportingResources(context, page, parameters.types, bytesLeft);
    const entry = (mode: 'match' | 'include') => (resource: Resource): BundleEntry => ({
      fullUrl: `${context.baseUrl}/${resource.resourceType}/${resource.id}`, resource, search: { mode },
    });
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'searchset',
      link: [{ relation: 'self', url: everythingLink(context, parameters, parameters.after) }],
      entry: [...page.map(entry('match')), ...supporting.resources.map(entry('include'))],
    };
    if (!supporting.complete) bundle.entry!.push(supportLeftOut());
    // The total is known without counting only when the whole record is on this one page.
    if (first && complete) bundle.total = members.length + 1;
    // A page cut at _count or FHIR_SEARCH_MAX_PAGE_BYTES: its next link continues after its last member.
    if (next) bundle.link!.push({ relation: 'next', url: everythingLink(context, parameters, next) });
    return bundle;
  },
};

const LOINC = 'http://loinc.org';

/** IPS sections: which resources go in each (by type, with an optional filter). */
const IPS_SECTIONS: Array<{ title: string; code: string; display: string; types: string[]; filter?: (r: Resource) => boolean }> = [
  { title: 'Allergies and Intolerances', code: '48765-2', display: 'Allergies and adverse reactions Document', types: ['AllergyIntolerance'] },
  { title: 'Medication Summary', code: '10160-0', display: 'History of Medication use Narrative', types: ['MedicationRequest', 'MedicationStatement'] },
  { title: 'Problem List', code: '11450-4', display: 'Problem list - Reported', types: ['Condition'] },
  { title: 'Immunizations', code: '11369-6', display: 'History of Immunization Narrative', types: ['Immunization'] },
  { title: 'History of Procedures', code: '47519-4', display: 'History of Procedures Document', types: ['Procedure'] },
  {
    title: 'Vital Signs', code: '8716-3', display: 'Vital signs', types: ['Observation'],
    filter: (r) => hasCategory(r, 'vital-signs'),
  },
  {
    title: 'Results', code: '30954-2', display: 'Relevant diagnostic tests/laboratory data Narrative', types: ['Observation', 'DiagnosticReport'],
    filter: (r) => r.resourceType === 'DiagnosticReport' || !hasCategory(r, 'vital-signs'),
  },
];

function hasCategory(resource: Resource, code: string): boolean {
  const categories = (resource as { category?: Array<{ coding?: Array<{ code?: string }> }> }).category ?? [];
  return categories.some((c) => c.coding?.some((coding) => coding.code === code));
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

function describe(resource: Resource): string {
  const r = resource as { code?: { text?: string; coding?: Array<{ display?: string; code?: string }> }; vaccineCode?: { text?: string; coding?: Array<{ display?: string; code?: string }> } };
  const concept = r.code ?? r.vaccineCode;
  return concept?.text ?? concept?.coding?.[0]?.display ?? concept?.coding?.[0]?.code ?? `${resource.resourceType}/${resource.id}`;
}

export const patientSummary: FhirOperation = {
  name: 'summary',
  levels: ['instance'],
  resourceTypes: ['Patient'],
  affectsState: false,
  definitionUrl: 'http://hl7.org/fhir/uv/ips/OperationDefinition/summary',
  async run(context) {
    const types = [...new Set(IPS_SECTIONS.flatMap((s) => s.types))];
    const { patient, members, complete } = await patientAndCompartment(context, types);
    // A summary missing records would mislead a clinician: refuse it instead.
    if (!complete) throw tooCostly(tooLarge('no summary was made'));
    const used = new Set<string>();
    const sections: CompositionSection[] = IPS_SECTIONS.map((section) => {
      const chosen = members.filter((m) => section.types.includes(m.resourceType) && (!section.filter || section.filter(m)) &&
        !used.has(`${m.resourceType}/${m.id}`));
      for (const m of chosen) used.add(`${m.resourceType}/${m.id}`);
      const base: CompositionSection = { title: section.title, code: { coding: [{ system: LOINC, code: section.code, display: section.display }] } };
      if (!chosen.length) {
        return {
          ...base,
          text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">No information available</div>' },
          emptyReason: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/list-empty-reason', code: 'unavailable' }] },
        };
      }
      const items = chosen.map((m) => `<li>${escapeHtml(describe(m))}</li>`).join('');
      return {
        ...base,
        text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml"><ul>${items}</ul></div>` },
        entry: chosen.map((m) => ({ reference: `${m.resourceType}/${m.id}` })),
      };
    });
    const now = new Date().toISOString();
    const composition: Composition = {
      resourceType: 'Composition',
      id: randomUUID(),
      status: 'final',
      type: { coding: [{ system: LOINC, code: '60591-5', display: 'Patient summary Document' }] },
      subject: { reference: `Patient/${patient.id}` },
      date: now,
      author: [{ display: 'Instant OpenHIE shared health record' }],
      title: 'International Patient Summary',
      section: sections,
    };
    const included = members.filter((m) => used.has(`${m.resourceType}/${m.id}`));
    const entry = (resource: Resource): BundleEntry => ({ fullUrl: `${context.baseUrl}/${resource.resourceType}/${resource.id}`, resource });
    const bundle: Bundle = {
      resourceType: 'Bundle',
      identifier: { system: 'urn:ietf:rfc:3986', value: `urn:uuid:${randomUUID()}` },
      type: 'document',
      timestamp: now,
      entry: [entry(composition), entry(patient), ...included.map(entry)],
    };
    return bundle;
  },
};
