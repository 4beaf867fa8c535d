/**
 * What a golden record is: a Patient tagged `golden` that holds the person's demographics and a
 * `seealso` link to each source record; each source record carries one `refer` link to its golden
 * record (OpenCR's convention). The demographics are those of its primary source, the first
 * `seealso` link: the source it was created for, then, when that one leaves, the next.
 */
import type { Coding, Extension, Patient, PatientLink } from '@medplum/fhirtypes';

export const RECORD_TYPE_SYSTEM = 'http://instant-openhie.org/fhir/cr-record-type';
export const GOLDEN_TAG: Coding = { system: RECORD_TYPE_SYSTEM, code: 'golden', display: 'Golden record' };

export function isGolden(patient: Patient | undefined): boolean {
  return !!patient?.meta?.tag?.some((t) => t.system === RECORD_TYPE_SYSTEM && t.code === 'golden');
}

/** JSON with sorted keys: stored resources come back from jsonb with their keys reordered. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/** What a golden record copies from its primary source (no identifiers: those stay on the sources). */
const GOLDEN_DEMOGRAPHICS = ['name', 'gender', 'birthDate', 'address', 'telecom'] as const;

/** A new golden record for a source: its demographics, no identifiers (those stay on the sources). */
export function newGoldenRecord(sourceId: string, source: Patient): Patient {
  return withDemographicsOf({ resourceType: 'Patient', meta: { tag: [GOLDEN_TAG] }, link: [{ other: { reference: `Patient/${sourceId}` }, type: 'seealso' }] }, source);
}

/** Demographics held as extensions: the mother's maiden name (PDQm searches it, and says a supplier returns it). */
const DEMOGRAPHIC_EXTENSIONS = new Set(['http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName']);
const demographicExtensions = (patient: Patient): Extension[] => (patient.extension ?? []).filter((e) => DEMOGRAPHIC_EXTENSIONS.has(e.url));

/** The golden record with the source's demographics in place of its own (absent ones removed). */
export function withDemographicsOf(golden: Patient, source: Patient): Patient {
  const refreshed = { ...golden } as unknown as Record<string, unknown>;
  for (const key of GOLDEN_DEMOGRAPHICS) {
    if (source[key] !== undefined) refreshed[key] = source[key];
    else delete refreshed[key];
  }
  const extension = [...(golden.extension ?? []).filter((e) => !DEMOGRAPHIC_EXTENSIONS.has(e.url)), ...demographicExtensions(source)];
  if (extension.length) refreshed.extension = extension;
  else delete refreshed.extension;
  return refreshed as unknown as Patient;
}

/** true when the golden record already holds the source's demographics. */
export function holdsDemographicsOf(golden: Patient, source: Patient): boolean {
  return GOLDEN_DEMOGRAPHICS.every((key) => canonicalJson(golden[key]) === canonicalJson(source[key])) &&
    canonicalJson(demographicExtensions(golden)) === canonicalJson(demographicExtensions(source));
}

/** The source whose demographics the golden record holds: its first `seealso` link. */
export function primarySourceOf(golden: Patient): string | undefined {
  const first = (golden.link ?? []).find((l) => l.type === 'seealso');
  return first ? referencedId(first) : undefined;
}

export const referencedId = (link: PatientLink): string | undefined => /^Patient\/([A-Za-z0-9\-.]{1,64})$/.exec(link.other?.reference ?? '')?.[1];

/** The source with its one `refer` link pointing at its golden record (the registry owns `refer` links). */
export function withGoldenLink(source: Patient, goldenId: string): Patient {
  const others = (source.link ?? []).filter((l) => l.type !== 'refer');
  return { ...source, link: [...others, { other: { reference: `Patient/${goldenId}` }, type: 'refer' }] };
}

export function withSource(golden: Patient, sourceId: string): Patient {
  if ((golden.link ?? []).some((l) => l.type === 'seealso' && referencedId(l) === sourceId)) return golden;
  return { ...golden, link: [...(golden.link ?? []), { other: { reference: `Patient/${sourceId}` }, type: 'seealso' }] };
}

export function withoutSource(golden: Patient, sourceId: string): Patient {
  return withLinks(golden, (golden.link ?? []).filter((l) => !(l.type === 'seealso' && referencedId(l) === sourceId)));
}

/** The patient with these links; none means no `link` (FHIR JSON has no empty lists). */
export function withLinks(patient: Patient, links: PatientLink[]): Patient {
  const { link: _old, ...rest } = patient;
  return links.length ? { ...rest, link: links } : rest;
}
