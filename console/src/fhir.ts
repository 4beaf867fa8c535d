/** Reads of the registries' FHIR APIs through the console's /registry proxy (admins only). */
import { request } from './api';

export type Registry = 'shr' | 'cr';

export interface Resource {
  resourceType: string;
  id?: string;
  meta?: { lastUpdated?: string; tag?: Array<{ system?: string; code?: string }> };
  [key: string]: unknown;
}

export interface Bundle {
  resourceType: 'Bundle';
  total?: number;
  entry?: Array<{ resource?: Resource; search?: { mode?: string } }>;
}

export const fhirGet = <T>(registry: Registry, path: string) => request<T>('GET', `/registry/${registry}/${path}`);
export const fhirPost = <T>(registry: Registry, path: string, body: unknown) => request<T>('POST', `/registry/${registry}/${path}`, body);

export const GOLDEN_TAG = 'http://instant-openhie.org/fhir/cr-record-type|golden';

export function resources(bundle: Bundle | undefined): Resource[] {
  return (bundle?.entry ?? []).map((e) => e.resource).filter((r): r is Resource => !!r);
}

interface HumanName { family?: string; given?: string[]; text?: string }
interface Identifier { system?: string; value?: string }

export function patientName(patient: Resource): string {
  const name = (patient.name as HumanName[] | undefined)?.[0];
  if (!name) return '(no name)';
  return name.text ?? [...(name.given ?? []), name.family].filter(Boolean).join(' ');
}

export function identifiers(patient: Resource): string {
  return ((patient.identifier as Identifier[] | undefined) ?? []).map((i) => `${i.value ?? ''} (${i.system ?? 'no system'})`).join(', ');
}

/** A one-line summary of a clinical resource for lists. */
export function describe(resource: Resource): string {
  const code = resource.code as { text?: string; coding?: Array<{ display?: string; code?: string }> } | undefined;
  const text = code?.text ?? code?.coding?.[0]?.display ?? code?.coding?.[0]?.code;
  const when = (resource.effectiveDateTime ?? resource.onsetDateTime ?? resource.recordedDate ?? resource.authoredOn ?? (resource.period as { start?: string } | undefined)?.start) as string | undefined;
  const value = resource.valueQuantity as { value?: number; unit?: string } | undefined;
  return [text, value ? `${value.value} ${value.unit ?? ''}` : undefined, when].filter(Boolean).join(' · ') || (resource.status as string | undefined) || '';
}
