/**
 * GET /patient-lookup/summary?nationalId=...: the patient with that national id and their
 * observations, from the shared health record. Each FHIR call is an orchestration the
 * interop layer logs with the transaction.
 */
import { MediatorResponseBuilder } from '@instant-openhie/mediator-sdk';

export const urn = 'urn:mediator:patient-lookup';

export interface LookupConfig extends Record<string, unknown> {
  fhirBaseUrl: string;
  identifierSystem: string;
}

interface Bundle<R> {
  entry?: { resource: R }[];
}
interface Patient {
  id: string;
  name?: { family?: string; given?: string[] }[];
  birthDate?: string;
}
interface Observation {
  code?: { text?: string };
  valueQuantity?: { value?: number; unit?: string };
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

async function searchFhir<R>(builder: MediatorResponseBuilder, name: string, config: LookupConfig, type: string, querystring: string): Promise<R[]> {
  const found = await builder.orchestrate(name, { path: `/fhir/${type}`, querystring, method: 'GET' }, async () => {
    const response = await fetch(`${config.fhirBaseUrl}/${type}?${querystring}`, { headers: { accept: 'application/fhir+json' } });
    return { status: response.status, body: await response.text() };
  });
  if (found.status !== 200) throw new Error(`${type} search answered ${found.status}`);
  return ((JSON.parse(found.body) as Bundle<R>).entry ?? []).map((e) => e.resource);
}

export async function patientSummary(url: URL, config: LookupConfig): Promise<HttpAnswer> {
  const builder = new MediatorResponseBuilder(urn);
  const nationalId = url.searchParams.get('nationalId');
  if (!nationalId) return builder.toHttp({ status: 400, body: { error: 'give ?nationalId=...' } });
  try {
    const patients = await searchFhir<Patient>(builder, 'find patient', config, 'Patient', `identifier=${encodeURIComponent(`${config.identifierSystem}|${nationalId}`)}`);
    const patient = patients[0];
    builder.property('patients found', patients.length);
    if (!patient) return builder.toHttp({ status: 404, body: { error: `no patient with national id ${nationalId}` } });
    const observations = await searchFhir<Observation>(builder, 'find observations', config, 'Observation', `subject=${encodeURIComponent(`Patient/${patient.id}`)}`);
    const name = patient.name?.[0];
    return builder.toHttp({
      status: 200,
      body: {
        id: patient.id,
        name: [name?.family, ...(name?.given ?? [])].filter(Boolean).join(' '),
        birthDate: patient.birthDate,
        observations: observations.map((o) => ({ what: o.code?.text, value: o.valueQuantity?.value, unit: o.valueQuantity?.unit })),
      },
    });
  } catch (error) {
    return builder.fail(error as Error).toHttp({ status: 502, body: { error: `the shared health record failed: ${(error as Error).message}` } });
  }
}
