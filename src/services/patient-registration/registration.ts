/**
 * POST /registration/Patient: a clinic registers a patient (a FHIR Patient carrying the clinic's
 * identifier). The mediator registers it in the client registry (a conditional create on that
 * identifier, so registering twice is harmless), reads the golden record it was linked to and the
 * registry's decision, and answers a Parameters: `enterpriseId` (the golden record's id as an
 * Identifier), `outcome` (auto-linked | new-golden | new-golden-review | already-registered),
 * `goldenRecord` and `patient` (the source record as the registry stored it).
 * Acting for a clinic the router vouched for, a registration that finds a record the clinic did not
 * register is refused without showing it (ownership.ts).
 */
import type { MediatorResponseBuilder } from '@instant-openhie/mediator-sdk';
import type { RegistrationConfig } from './config.js';
import { callFhir, operationOutcome, upstreamFailure, type ActingFor } from './fhir-calls.js';
import { refusedRecord } from './ownership.js';

export interface Answer {
  status: number;
  body: unknown;
}

type Patient = {
  resourceType: 'Patient';
  id?: string;
  identifier?: Array<{ system?: string; value?: string }>;
  link?: Array<{ type?: string; other?: { reference?: string } }>;
  meta?: { tag?: Array<{ system?: string; code?: string }> };
};

/** The first identifier with system and value: the clinic's key for the patient. */
function clinicIdentifier(patient: Patient): { system: string; value: string } | undefined {
  const found = patient.identifier?.find((i) => typeof i?.system === 'string' && i.system && typeof i.value === 'string' && i.value);
  return found ? { system: found.system!, value: found.value! } : undefined;
}

const goldenIdOf = (source: Patient): string | undefined =>
  source.link?.find((l) => l.type === 'refer')?.other?.reference?.replace(/^.*Patient\//, '');

/** The registry's last decision about the source: auto-linked, new-golden or new-golden-review. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function lastOutcome(explained: any): string | undefined {
  const decisions = (explained?.parameter ?? []).filter((p: { name: string }) => p.name === 'decision');
  const last = decisions[decisions.length - 1];
  return last?.part?.find((p: { name: string }) => p.name === 'outcome')?.valueCode;
}

export async function registerPatient(body: unknown, config: RegistrationConfig, builder: MediatorResponseBuilder, actingFor?: ActingFor): Promise<Answer> {
  const patient = body as Patient;
  if (!patient || typeof patient !== 'object' || patient.resourceType !== 'Patient') {
    return { status: 400, body: operationOutcome('invalid', 'send a FHIR Patient (resourceType "Patient") to register') };
  }
  const local = clinicIdentifier(patient);
  if (!local) return { status: 422, body: operationOutcome('required', 'the Patient needs an identifier with system and value: the clinic\'s own id, by which its visits refer to the patient') };
  const registryBase = config.clientRegistryBaseUrl;

  const registered = await callFhir(builder, 'register patient in client registry', registryBase, {
    method: 'POST', path: 'Patient', body: patient,
    headers: { 'if-none-exist': `identifier=${encodeURIComponent(`${local.system}|${local.value}`)}` },
  }, actingFor);
  if (registered.status !== 201 && registered.status !== 200) return upstreamFailure('the client registry', registered);
  const source = registered.json as Patient;
  const refused = registered.status === 200 ? refusedRecord(source, actingFor, `${local.system}|${local.value}`) : undefined;
  if (refused) {
    builder.property('refused', 'not the clinic\'s record');
    return refused;
  }
  const goldenId = goldenIdOf(source);
  if (!goldenId) return { status: 502, body: operationOutcome('exception', `the client registry gave Patient/${source.id} no golden record`) };

  const golden = await callFhir(builder, 'read golden record', registryBase, { method: 'GET', path: `Patient/${goldenId}` }, actingFor);
  if (golden.status !== 200) return upstreamFailure('the client registry', golden);
  const explained = await callFhir(builder, 'read match decision', registryBase, { method: 'GET', path: `Patient/${source.id}/$cr-explain` }, actingFor);
  const outcome = registered.status === 200 ? 'already-registered' : (lastOutcome(explained.json) ?? 'unknown');

  builder.property('enterpriseId', goldenId).property('outcome', outcome).property('clinicIdentifier', `${local.system}|${local.value}`);
  return {
    status: registered.status,
    body: {
      resourceType: 'Parameters',
      parameter: [
        { name: 'enterpriseId', valueIdentifier: { system: config.enterpriseIdSystem, value: goldenId } },
        { name: 'outcome', valueCode: outcome },
        { name: 'goldenRecord', resource: golden.json },
        { name: 'patient', resource: source },
      ],
    },
  };
}
