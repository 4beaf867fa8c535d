/**
 * What PDQm ITI-78 needs beyond the engine's R4 Patient search: the IHE `mothersMaidenName`
 * parameter (over the patient-mothersMaidenName extension). `birthdate=ap`, `given:exact`,
 * `_include` and `_revinclude` are the engine's own.
 */
import type { SearchParameter } from '@medplum/fhirtypes';

export const MOTHERS_MAIDEN_NAME: SearchParameter = {
  resourceType: 'SearchParameter',
  url: 'https://profiles.ihe.net/ITI/PDQm/SearchParameter/PDQm-mothersMaidenName',
  name: 'mothersMaidenName',
  status: 'active',
  description: "Search on the patient's mother's maiden name (IHE PDQm)",
  code: 'mothersMaidenName',
  base: ['Patient'],
  type: 'string',
  expression: "Patient.extension('http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName').value",
};
