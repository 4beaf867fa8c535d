/**
 * PIXm ITI-83 `GET [base]/Patient/$ihe-pix?sourceIdentifier=system|value[&targetSystem=...]`:
 * the identifiers of every source record linked to the same golden record. Errors as the
 * profile requires: unknown sourceIdentifier domain 400, unknown identifier 404, unknown
 * targetSystem 403, each an OperationOutcome with the profile's diagnostics.
 */
import type { Identifier, OperationOutcome, Parameters, ParametersParameter, Patient } from '@medplum/fhirtypes';
import type { FhirResponse } from '../../fhir/interaction.js';
import type { FhirOperation } from '../../fhir/operations/registry.js';
import { badRequest } from '../../fhir/outcome.js';
import { isGolden } from './golden-record.js';
import type { DomainsReader } from './identifier-domains.js';
import { readPatient } from './linker.js';
import type { RegistryStore } from './store.js';

/** At most this many source records answer one identifier (a domain's identifier names one person). */
const MAX_SOURCES = 50;

function pixError(status: number, code: 'code-invalid' | 'not-found' | 'invalid', diagnostics: string): FhirResponse {
  const outcome: OperationOutcome = { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, diagnostics }] };
  return { status, resource: outcome };
}

function values(parameters: Parameters, name: string): string[] {
  return (parameters.parameter ?? []).filter((p) => p.name === name).flatMap((p) => {
    const value = p.valueString ?? p.valueUri ?? p.valueCode ?? p.valueIdentifier?.system;
    if (p.valueIdentifier && name === 'sourceIdentifier') return [`${p.valueIdentifier.system ?? ''}|${p.valueIdentifier.value ?? ''}`];
    return value === undefined ? [] : value.split(',');
  });
}

export function pixmOperation(store: RegistryStore, readDomains: DomainsReader): FhirOperation {
  return {
    name: 'ihe-pix',
    levels: ['type'],
    resourceTypes: ['Patient'],
    affectsState: false,
    definitionUrl: 'https://profiles.ihe.net/ITI/PIXm/OperationDefinition/IHE.PIXm.pix',
    async run({ repo, parameters, baseUrl }) {
      const sources = values(parameters, 'sourceIdentifier');
      if (sources.length !== 1) throw badRequest('$ihe-pix needs exactly one sourceIdentifier (system|value)');
      const bar = sources[0]!.indexOf('|');
      const system = bar > 0 ? sources[0]!.slice(0, bar) : '';
      const value = bar > 0 ? sources[0]!.slice(bar + 1) : '';
      if (!system || !value) throw badRequest('sourceIdentifier must give both the assigning authority and the value: system|value');
      const domains = await readDomains(repo);
      const sourceSystem = domains.canonical(system);
      if (!sourceSystem) return pixError(400, 'code-invalid', 'sourceIdentifier Assigning Authority not found');
      const targetSystems: string[] = [];
      for (const target of values(parameters, 'targetSystem')) {
        const url = domains.canonical(target);
        if (!url) return pixError(403, 'code-invalid', 'targetSystem not found');
        targetSystems.push(url);
      }
      const found = await repo.search('Patient', [['identifier', `${sourceSystem}|${value}`], ['_count', String(MAX_SOURCES)]]);
      const source = (found.entry ?? []).map((e) => e.resource as Patient).find((p) => !isGolden(p));
      if (!source) return pixError(404, 'not-found', 'sourceIdentifier Patient Identifier not found');
      const goldenId = (await store.goldenOf(repo.sql, source.id!)) ?? source.id!;
      const linked = await store.sourcesOf(repo.sql, goldenId);
      const seen = new Set<string>([`${sourceSystem}|${value}`]);
      const identifiers: Identifier[] = [];
      for (const id of linked.length ? linked : [source.id!]) {
        const patient = id === source.id ? source : await readPatient(repo, id);
        for (const identifier of patient?.identifier ?? []) {
          const key = `${identifier.system}|${identifier.value}`;
          if (seen.has(key) || (targetSystems.length && !targetSystems.includes(identifier.system!))) continue;
          seen.add(key);
          identifiers.push({ ...(identifier.use ? { use: identifier.use } : {}), system: identifier.system, value: identifier.value });
        }
      }
      const parameter: ParametersParameter[] = identifiers.map((identifier) => ({ name: 'targetIdentifier', valueIdentifier: identifier }));
      // targetId is the registry's own identity for the person: only when no target domain was asked for.
      if (!targetSystems.length) parameter.push({ name: 'targetId', valueReference: { reference: `${baseUrl}/Patient/${goldenId}` } });
      return { resourceType: 'Parameters', parameter } as Parameters;
    },
  };
}
