/**
 * POST /registration/visit: a clinic sends a visit, a transaction Bundle (Encounter, Observations,
 * ...) that refers to its patient by the clinic's identifier. The mediator resolves each local
 * patient to the enterprise identity with PIXm ($ihe-pix in the client registry), reads the
 * golden record, and writes the visit to the shared health record in one transaction together with
 * `PUT Patient/<enterprise id>` (the golden record's demographics and the enterprise identifier),
 * so the record's Encounters and Observations all point at one Patient per person. Acting for a
 * clinic, each patient must be one that clinic registered (ownership.ts); the answer is the
 * transaction-response of the visit's own entries (the Patient entries the mediator adds, the golden
 * record's demographics, are not passed on).
 */
import type { MediatorResponseBuilder } from '@instant-openhie/mediator-sdk';
import type { RegistrationConfig } from './config.js';
import { callFhir, operationOutcome, upstreamFailure, type ActingFor } from './fhir-calls.js';
import { isGolden, refusedRecord, type RegistryRecord } from './ownership.js';
import { identifierKey, localPatientsOf, VisitReferenceError, withEnterpriseReferences, type LocalIdentifier } from './local-patient-references.js';
import type { Answer } from './registration.js';
import { escapeSearchValue } from '../../common/search-value-escape.js';

type Entry = { fullUrl?: string; resource?: { resourceType?: string; [key: string]: unknown }; request?: { method?: string; url?: string; [key: string]: unknown } };
type Bundle = { resourceType?: string; type?: string; entry?: Entry[] };

/** The demographics of the golden record kept in the shared health record's Patient. */
const DEMOGRAPHICS = ['name', 'gender', 'birthDate', 'address', 'telecom', 'deceasedBoolean', 'deceasedDateTime'] as const;

/** Bundle.entry.request elements that make an entry conditional: each reads or checks records the visit did not write. */
const CONDITIONS = ['ifNoneExist', 'ifMatch', 'ifNoneMatch', 'ifModifiedSince'] as const;

/** Why the body is not a visit (400), or undefined. */
function malformedVisit(body: unknown): string | undefined {
  const bundle = body as Bundle;
  if (!bundle || typeof bundle !== 'object' || bundle.resourceType !== 'Bundle' || bundle.type !== 'transaction') return 'send the visit as a FHIR Bundle of type "transaction"';
  if (!Array.isArray(bundle.entry) || !bundle.entry.length) return 'the visit bundle has no entries';
  if (bundle.entry.some((e) => !e?.resource || typeof e.resource !== 'object')) return 'every entry of the visit needs a resource';
  return undefined;
}

/**
 * Why a visit asks for more than a visit is (422), or undefined. The mediator writes to the shared
 * health record with its own access, not the clinic's, so a visit only adds: every entry creates
 * its resource (`POST <type>`, unconditional). Updating, patching or deleting records, or a
 * conditional create (whose answer is the record it matched, whoever's it is), are for clients of
 * the record's own channel.
 */
function refusedVisit(entries: Entry[]): string | undefined {
  if (entries.some((e) => e.resource!.resourceType === 'Patient')) return 'a visit carries no Patient: register patients at /registration/Patient and refer to them by the clinic\'s identifier';
  for (const [index, entry] of entries.entries()) {
    const { request } = entry;
    const type = entry.resource!.resourceType;
    if (!request || typeof request !== 'object') return `entry ${index} has no request: each entry of a visit is { "method": "POST", "url": "${String(type).slice(0, 64)}" }`;
    if (request.method !== 'POST' || request.url !== type) {
      return `entry ${index} is ${String(request.method).slice(0, 16)} ${String(request.url).slice(0, 200)}: a visit only adds resources, each entry { "method": "POST", "url": "<its resource type>" }; records are changed or deleted through the shared health record's own channel`;
    }
    const condition = CONDITIONS.find((name) => request[name] !== undefined);
    if (condition) return `entry ${index} has ${condition}: a visit's entries are unconditional creates`;
  }
  return undefined;
}

/** The enterprise id of a local patient, from PIXm; undefined when the registry does not know the identifier. */
async function resolveEnterpriseId(builder: MediatorResponseBuilder, config: RegistrationConfig, local: LocalIdentifier, actingFor: ActingFor | undefined): Promise<string | Answer> {
  const query = `sourceIdentifier=${encodeURIComponent(`${escapeSearchValue(local.system)}|${escapeSearchValue(local.value)}`)}`;
  const pix = await callFhir(builder, 'resolve enterprise identity (PIXm)', config.clientRegistryBaseUrl, { method: 'GET', path: `Patient/$ihe-pix?${query}` }, actingFor);
  if (pix.status === 404 || pix.status === 400) {
    return { status: 422, body: operationOutcome('not-found', `the patient ${identifierKey(local)} is not registered: register it at /registration/Patient first`) };
  }
  if (pix.status !== 200) return upstreamFailure('the client registry', pix);
  const target = (pix.json?.parameter ?? []).find((p: { name: string }) => p.name === 'targetId')?.valueReference?.reference as string | undefined;
  const id = target?.replace(/^.*Patient\//, '');
  return id ? id : { status: 502, body: operationOutcome('exception', `the client registry gave ${identifierKey(local)} no enterprise identity`) };
}

/**
 * Refused unless the clinic registered the patient: its source record in the registry (the one of
 * the clinic's identifier that is not a golden record) must carry the clinic as owner.
 */
async function refusedPatient(builder: MediatorResponseBuilder, config: RegistrationConfig, local: LocalIdentifier, actingFor: ActingFor | undefined): Promise<Answer | undefined> {
  if (!actingFor) return undefined;
  const key = identifierKey(local);
  const found = await callFhir(builder, 'check the clinic registered the patient', config.clientRegistryBaseUrl, {
    method: 'GET', path: `Patient?identifier=${encodeURIComponent(key)}&_count=10`,
  }, actingFor);
  if (found.status !== 200) return upstreamFailure('the client registry', found);
  const records = ((found.json?.entry ?? []) as Array<{ resource?: RegistryRecord }>).map((e) => e.resource).filter((r): r is RegistryRecord => !!r && !isGolden(r));
  const source = records.find((r) => r.identifier?.some((i) => `${i.system}|${i.value}` === key));
  return refusedRecord(source, actingFor, key);
}

/** The Patient the shared health record keeps for one person: the golden record's demographics under the enterprise id. */
function sharedRecordPatient(enterpriseId: string, golden: Record<string, unknown>, config: RegistrationConfig): Record<string, unknown> {
  const demographics = Object.fromEntries(DEMOGRAPHICS.filter((k) => golden[k] !== undefined).map((k) => [k, golden[k]]));
  return { resourceType: 'Patient', id: enterpriseId, identifier: [{ use: 'official', system: config.enterpriseIdSystem, value: enterpriseId }], ...demographics };
}

export async function recordVisit(body: unknown, config: RegistrationConfig, builder: MediatorResponseBuilder, actingFor?: ActingFor): Promise<Answer> {
  const problem = malformedVisit(body);
  if (problem) return { status: 400, body: operationOutcome('invalid', problem) };
  const visit = body as Bundle & { entry: Entry[] };
  const refused = refusedVisit(visit.entry);
  if (refused) return { status: 422, body: operationOutcome('business-rule', refused) };
  let locals: LocalIdentifier[];
  try {
    locals = localPatientsOf(visit.entry.map((e) => e.resource));
  } catch (error) {
    if (error instanceof VisitReferenceError) return { status: 422, body: operationOutcome('invalid', error.message) };
    throw error;
  }
  if (!locals.length) return { status: 422, body: operationOutcome('required', 'the visit refers to no patient: use subject { "reference": "Patient?identifier=system|value" }') };

  const enterpriseIds = new Map<string, string>();
  const patients: Entry[] = [];
  for (const local of locals) {
    const resolved = await resolveEnterpriseId(builder, config, local, actingFor);
    if (typeof resolved !== 'string') return resolved;
    const refused = await refusedPatient(builder, config, local, actingFor);
    if (refused) return refused;
    enterpriseIds.set(identifierKey(local), resolved);
    if (patients.some((p) => p.resource!.id === resolved)) continue;
    const golden = await callFhir(builder, 'read golden record', config.clientRegistryBaseUrl, { method: 'GET', path: `Patient/${resolved}` }, actingFor);
    if (golden.status !== 200) return upstreamFailure('the client registry', golden);
    patients.push({ resource: sharedRecordPatient(resolved, golden.json, config), request: { method: 'PUT', url: `Patient/${resolved}` } });
  }

  const entries = visit.entry.map((e) => ({ ...e, resource: withEnterpriseReferences(e.resource, enterpriseIds) }));
  const written = await callFhir(builder, 'write visit to shared health record', config.sharedHealthRecordBaseUrl, {
    method: 'POST', path: '', body: { resourceType: 'Bundle', type: 'transaction', entry: [...patients, ...entries] },
  });
  builder.property('enterpriseIds', [...new Set(enterpriseIds.values())].join(','));
  if (written.status !== 200) return upstreamFailure('the shared health record', written);
  // The answer of the visit's own entries, in their order: the Patient entries went first.
  const answered = written.json as { entry?: unknown[] } | undefined;
  return { status: 200, body: { ...answered, entry: (answered?.entry ?? []).slice(patients.length) } };
}
