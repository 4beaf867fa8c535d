/**
 *   POST Patient/$merge        merge the duplicate (source) into the survivor (target)
 *   POST Patient/$cr-unmerge   (source-patient: Reference)  undo the duplicate's merge
 * $merge takes FHIR R5's parameters: each side as `source-patient` / `target-patient` (a Reference
 * to a source record), or `source-patient-identifier` / `target-patient-identifier` (Identifiers
 * the record must all carry; they must name exactly one source record), or both (they must agree).
 * Both answer the records as they now stand. $merge is a steward's, or the owning client's when it
 * owns both records (record-owners.ts; the same rule as a PMIR or HL7v2 A40 merge, checked by the
 * merger); $cr-unmerge is a steward's (stewards.ts).
 */
import type { Identifier, Parameters } from '@medplum/fhirtypes';
import type { FhirOperation, OperationContext } from '../../fhir/operations/registry.js';
import { parameterValue } from '../../fhir/operations/registry.js';
import { FhirError, badRequest } from '../../fhir/outcome.js';
import type { FhirRepository } from '../../fhir/repository.js';
import type { DomainsReader } from './identifier-domains.js';
import type { PatientMerger } from './merge.js';
import { recordsHolding } from './records-by-identifier.js';
import { requireSteward } from './stewards.js';

/** More identifiers than a person has in practice: a guard on the search one side makes. */
const MAX_IDENTIFIERS = 20;

function referencedPatient(context: OperationContext, name: string): string | undefined {
  const value = context.parameters.parameter?.find((p) => p.name === name)?.valueReference?.reference ?? parameterValue(context.parameters, name);
  if (value === undefined) return undefined;
  const id = /^(?:Patient\/)?([A-Za-z0-9\-.]{1,64})$/.exec(value)?.[1];
  if (!id) throw badRequest(`give "${name}" as a Reference to a source record (Patient/<id>)`);
  return id;
}

function identifiersOf(context: OperationContext, name: string): Identifier[] {
  const given = (context.parameters.parameter ?? []).filter((p) => p.name === name);
  if (given.length > MAX_IDENTIFIERS) throw badRequest(`at most ${MAX_IDENTIFIERS} "${name}" parameters`);
  return given.map((p, n) => {
    const identifier = p.valueIdentifier;
    if (!identifier?.system || !identifier.value) throw badRequest(`"${name}" ${n + 1} must be an Identifier with system and value`);
    return identifier;
  });
}

/**
 * The source record one side of a merge names. Identifiers are looked up in their domains (an OID
 * names the domain's URL) among source records; R5 says the server SHALL reject identifiers that
 * do not resolve to a single record: 422, with how many they found.
 */
async function resolveSide(context: OperationContext, repo: FhirRepository, side: 'source' | 'target', readDomains: DomainsReader): Promise<string> {
  const referenced = referencedPatient(context, `${side}-patient`);
  const identifiers = identifiersOf(context, `${side}-patient-identifier`);
  if (!identifiers.length) {
    if (!referenced) throw badRequest(`give the ${side} record as "${side}-patient" (a Reference) or "${side}-patient-identifier" (Identifiers)`);
    return referenced;
  }
  const ids = await recordsHolding(repo, readDomains, identifiers);
  const named = identifiers.map((i) => `${i.system}|${i.value}`).join(', ');
  if (referenced) {
    if (ids.includes(referenced)) return referenced;
    throw new FhirError(422, 'FHIR_INVALID_RESOURCE', `${side}-patient Patient/${referenced} does not carry every ${side}-patient-identifier (${named.slice(0, 300)})`);
  }
  if (ids.length !== 1) {
    throw new FhirError(422, 'FHIR_INVALID_RESOURCE', `${side}-patient-identifier (${named.slice(0, 300)}) must name exactly one source record; it names ${ids.length ? 'several' : 'none'}`);
  }
  return ids[0]!;
}

/** Thrown out of a preview's transaction so it rolls back, carrying the answer it would have given. */
class PreviewRollback extends Error {
  constructor(readonly answer: Parameters) {
    super('$merge preview: rolled back');
  }
}

function previewRequested(context: OperationContext): boolean {
  const value = parameterValue(context.parameters, 'preview');
  if (value === undefined || value === 'false') return false;
  if (value === 'true') return true;
  throw badRequest('$merge preview must be true or false');
}

export function mergeOperations(merger: PatientMerger, readDomains: DomainsReader): FhirOperation[] {
  return [
    {
      name: 'merge', levels: ['type'], resourceTypes: ['Patient'], affectsState: true,
      definitionUrl: 'http://hl7.org/fhir/OperationDefinition/Patient-merge',
      async run(context) {
        if (context.parameters.parameter?.some((p) => p.name === 'result-patient')) {
          // R5 lets a client give the target's content after the merge; the registry's target keeps
          // its own demographics (golden survivorship is the registry's), so it is refused, not ignored.
          throw new FhirError(400, 'FHIR_NOT_SUPPORTED', '$merge: result-patient is not supported; update the target record (PUT) first, then merge without result-patient');
        }
        const preview = previewRequested(context);
        // A preview rolls back its own transaction; inside a bundle's it would roll back nothing.
        if (preview && context.repo.inTransaction) throw badRequest('$merge preview cannot run inside a transaction bundle: send it on its own');
        const run = () => context.repo.transaction(async (repo) => {
          const source = await resolveSide(context, repo, 'source', readDomains);
          const target = await resolveSide(context, repo, 'target', readDomains);
          const golden = await merger.merge(repo, source, target, '$merge');
          const said = preview ? `preview: Patient/${source} would be merged into Patient/${target}; nothing was changed` : `Patient/${source} merged into Patient/${target}`;
          const answer = {
            resourceType: 'Parameters',
            parameter: [
              { name: 'input', resource: context.parameters },
              { name: 'outcome', resource: { resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational', diagnostics: said }] } },
              { name: 'result', resource: await repo.read('Patient', target) },
              { name: 'golden', valueReference: { reference: `Patient/${golden}` } },
            ],
          } as Parameters;
          // R5 preview: the merge is done and checked as it would be, then rolled back with its transaction.
          if (preview) throw new PreviewRollback(answer);
          return answer;
        });
        try {
          return await run();
        } catch (error) {
          if (error instanceof PreviewRollback) return error.answer;
          throw error;
        }
      },
    },
    {
      name: 'cr-unmerge', levels: ['type'], resourceTypes: ['Patient'], affectsState: true,
      async run(context) {
        requireSteward('Patient/$cr-unmerge');
        const source = referencedPatient(context, 'source-patient');
        if (!source) throw badRequest('give "source-patient" as a Reference to a source record (Patient/<id>)');
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
