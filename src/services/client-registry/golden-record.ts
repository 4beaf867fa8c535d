/**
 * What a golden record is: a Patient tagged `golden` that holds the person's demographics (taken
 * from the first source record) and a `seealso` link to each source record; each source record
 * carries one `refer` link to its golden record (OpenCR's convention).
 */
import type { Coding, Patient, PatientLink } from '@medplum/fhirtypes';

export const RECORD_TYPE_SYSTEM = 'http://instant-openhie.org/fhir/cr-record-type';
export const GOLDEN_TAG: Coding = { system: RECORD_TYPE_SYSTEM, code: 'golden', display: 'Golden record' };

export function isGolden(patient: Patient | undefined): boolean {
  return !!patient?.meta?.tag?.some((t) => t.system === RECORD_TYPE_SYSTEM && t.code === 'golden');
}

/** A new golden record for a source: its demographics, no identifiers (those stay on the sources). */
export function newGoldenRecord(sourceId: string, source: Patient): Patient {
  const golden: Patient = { resourceType: 'Patient', meta: { tag: [GOLDEN_TAG] }, link: [{ other: { reference: `Patient/${sourceId}` }, type: 'seealso' }] };
  for (const key of ['name', 'gender', 'birthDate', 'address', 'telecom'] as const) {
    if (source[key] !== undefined) (golden as unknown as Record<string, unknown>)[key] = source[key];
  }
  return golden;
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
  return { ...golden, link: (golden.link ?? []).filter((l) => !(l.type === 'seealso' && referencedId(l) === sourceId)) };
}
