/**
 * What only the registry may write: golden records (the golden tag), and the merge links
 * (`replaced-by`, `replaces`) and merged records. A client's write that would create, change or
 * delete a golden record, set the golden tag, or add merge links is refused; merge links it leaves
 * out are kept (a clinic updating the surviving record need not know them). (A PUT of the
 * duplicate alone with a `replaced-by` link never gets here: it is PIXm's merge, resolve-duplicate.ts.)
 */
import type { Patient, PatientLink, Resource } from '@medplum/fhirtypes';
import { FhirError } from '../../fhir/outcome.js';
import type { WriteInterceptor } from '../../fhir/write-interceptors.js';
import { GOLDEN_TAG, isGolden, referencedId } from './golden-record.js';
import { isRegistryWrite } from './request-context.js';

const MERGE_LINKS = new Set(['replaced-by', 'replaces']);
const linkKey = (l: PatientLink) => `${l.type}|${l.other?.reference ?? ''}`;

/** The record this one was merged into, when it was. */
export function replacedBy(patient: Patient | undefined): string | undefined {
  const link = patient?.link?.find((l) => l.type === 'replaced-by');
  return link ? referencedId(link) : undefined;
}

export function registryOwnershipInterceptor(): WriteInterceptor {
  return {
    name: 'client registry: what only the registry writes',
    types: ['Patient'],
    before({ action, id, resource, previous }) {
      if (isRegistryWrite()) return;
      const before = previous as Patient | undefined;
      if (isGolden(before)) {
        throw new FhirError(403, 'FHIR_FORBIDDEN', `Patient/${id} is a golden record: golden records are written by the client registry alone (use $cr-link, $cr-unlink, $merge or the review queue)`);
      }
      if (isGolden(resource as Patient | undefined)) {
        throw new FhirError(403, 'FHIR_FORBIDDEN', `the tag ${GOLDEN_TAG.system}|${GOLDEN_TAG.code} marks the registry's golden records: a client may not set it`);
      }
      const mergedInto = replacedBy(before);
      if (mergedInto) {
        throw new FhirError(409, 'FHIR_CONFLICT', `Patient/${id} was merged into Patient/${mergedInto}: write to Patient/${mergedInto}, or unmerge first ($cr-unmerge)`);
      }
      if (action === 'delete') return;
      const patient = resource as Patient;
      const kept = (before?.link ?? []).filter((l) => MERGE_LINKS.has(l.type ?? ''));
      const keptKeys = new Set(kept.map(linkKey));
      const added = (patient.link ?? []).filter((l) => MERGE_LINKS.has(l.type ?? '') && !keptKeys.has(linkKey(l)));
      if (added.length) {
        throw new FhirError(422, 'FHIR_INVALID_RESOURCE', `Patient.link of type ${added[0]!.type} is set by a merge: merge records with Patient/$merge, a PMIR feed (ITI-93), or a PUT of the duplicate alone with its replaced-by link (PIXm ITI-104), not inside a bundle`);
      }
      if (!kept.length && !(patient.link ?? []).some((l) => MERGE_LINKS.has(l.type ?? ''))) return;
      return { ...patient, link: [...(patient.link ?? []).filter((l) => !MERGE_LINKS.has(l.type ?? '')), ...kept] } as Resource;
    },
  };
}
