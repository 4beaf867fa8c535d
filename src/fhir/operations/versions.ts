/**
 * `$versions` (R4 capabilitystatement-operation-versions.html): the FHIR versions this endpoint
 * speaks and the one it uses without a fhirVersion parameter; R4 only.
 */
import type { Parameters } from '@medplum/fhirtypes';
import { FHIR_VERSION } from '../http/fhir-version.js';
import type { FhirOperation } from './registry.js';

export const versionsOperation: FhirOperation = {
  name: 'versions',
  levels: ['system'],
  affectsState: false,
  definitionUrl: 'http://hl7.org/fhir/OperationDefinition/CapabilityStatement-versions',
  async run(): Promise<Parameters> {
    return {
      resourceType: 'Parameters',
      parameter: [{ name: 'version', valueCode: FHIR_VERSION }, { name: 'default', valueCode: FHIR_VERSION }],
    };
  },
};
