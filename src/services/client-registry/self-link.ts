/**
 * A Patient's link to itself (`seealso`, or any type) says nothing about another record and
 * would make the record its own relative: a client's write carrying one is refused 422, in a FHIR
 * write and in a PMIR feed alike (a feed's `urn:uuid:` references are resolved to the new
 * record's id before this runs).
 */
import type { Patient } from '@medplum/fhirtypes';
import { FhirError } from '../../fhir/outcome.js';
import type { WriteInterceptor } from '../../fhir/write-interceptors.js';
import { isRegistryWrite } from './request-context.js';

export function selfLinkInterceptor(): WriteInterceptor {
  return {
    name: 'client registry: no link to itself',
    types: ['Patient'],
    before({ action, id, resource }) {
      if (action === 'delete' || !resource || isRegistryWrite()) return;
      const links = (resource as Patient).link;
      if (!Array.isArray(links)) return;
      for (const [n, link] of links.entries()) {
        const reference = link?.other?.reference;
        if (typeof reference === 'string' && /^(?:.*\/)?Patient\/([^/]+)$/.exec(reference)?.[1] === id) {
          throw new FhirError(422, 'FHIR_INVALID_RESOURCE', `Patient.link[${n}] (${String(link.type).slice(0, 20)}) references the Patient itself (Patient/${id}); a link names another record`);
        }
      }
    },
  };
}
