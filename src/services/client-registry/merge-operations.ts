/**
 *   POST Patient/$merge        (source-patient, target-patient: Reference)  merge the duplicate into the survivor
 *   POST Patient/$cr-unmerge   (source-patient: Reference)                  undo the duplicate's merge
 * Parameter names follow FHIR's Patient/$merge; both answer the records as they now stand.
 */
import type { Parameters } from '@medplum/fhirtypes';
import type { FhirOperation, OperationContext } from '../../fhir/operations/registry.js';
import { parameterValue } from '../../fhir/operations/registry.js';
import { badRequest } from '../../fhir/outcome.js';
import type { PatientMerger } from './merge.js';

function patientParameter(context: OperationContext, name: string): string {
  const value = context.parameters.parameter?.find((p) => p.name === name)?.valueReference?.reference ?? parameterValue(context.parameters, name);
  const id = value ? /^(?:Patient\/)?([A-Za-z0-9\-.]{1,64})$/.exec(value)?.[1] : undefined;
  if (!id) throw badRequest(`give "${name}" as a Reference to a source record (Patient/<id>)`);
  return id;
}

export function mergeOperations(merger: PatientMerger): FhirOperation[] {
  return [
    {
      name: 'merge', levels: ['type'], resourceTypes: ['Patient'], affectsState: true,
      definitionUrl: 'http://hl7.org/fhir/OperationDefinition/Patient-merge',
      async run(context) {
        const source = patientParameter(context, 'source-patient');
        const target = patientParameter(context, 'target-patient');
        return context.repo.transaction(async (repo) => {
          const golden = await merger.merge(repo, source, target, '$merge');
          return {
            resourceType: 'Parameters',
            parameter: [
              { name: 'outcome', resource: { resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational', diagnostics: `Patient/${source} merged into Patient/${target}` }] } },
              { name: 'result', resource: await repo.read('Patient', target) },
              { name: 'golden', valueReference: { reference: `Patient/${golden}` } },
            ],
          } as Parameters;
        });
      },
    },
    {
      name: 'cr-unmerge', levels: ['type'], resourceTypes: ['Patient'], affectsState: true,
      async run(context) {
        const source = patientParameter(context, 'source-patient');
        return context.repo.transaction(async (repo) => {
          const golden = await merger.unmerge(repo, source);
          return {
            resourceType: 'Parameters',
            parameter: [
              { name: 'result', resource: await repo.read('Patient', source) },
              { name: 'golden', valueReference: { reference: `Patient/${golden}` } },
            ],
          } as Parameters;
        });
      },
    },
  ];
}
