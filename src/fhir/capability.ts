/** The CapabilityStatement, generated from what the engine supports and the plug-ins registered. */
import type { CapabilityStatement, CapabilityStatementRestResource, TerminologyCapabilities, TerminologyCapabilitiesCodeSystem } from '@medplum/fhirtypes';
import { allResourceTypes } from './definitions.js';
import type { OperationRegistry } from './operations/registry.js';
import { PATCH_FORMATS } from './patch-body.js';
import type { SearchParameterRegistry } from './search-parameters.js';
import { isIndexed } from './storage/indexer.js';

/** The software a CapabilityStatement describes; `instantiates`: canonicals of the capability statements it implements (e.g. IHE profiles'). */
/** The code systems a server holds, as `metadata?mode=terminology` lists them. */
export type CodeSystemCatalogue = () => Promise<TerminologyCapabilitiesCodeSystem[]>;

export interface SoftwareDescription {
  name: string;
  version: string;
  instantiates?: string[];
  /** MessageDefinitions this server receives at `POST [base]` and `$process-message` (a PMIR registry's feed). */
  receivesMessages?: string[];
}

const SUPPORTED_TYPES = new Set(['token', 'string', 'date', 'reference', 'number', 'quantity', 'uri', 'composite']);

type SearchParamEntry = NonNullable<CapabilityStatementRestResource['searchParam']>[number];

/** _list (members of a List) is answered by the SQL builder for any type and at system level. */
const LIST_PARAM: SearchParamEntry = { name: '_list', type: 'token', documentation: 'the id of a List: resources it has as entries' };
/** _filter (search_filter.html) is read by the search parser for any type and at system level. */
const FILTER_PARAM: SearchParamEntry = {
  name: '_filter', type: 'special', definition: 'http://hl7.org/fhir/SearchParameter/filter',
  documentation: 'a filter expression of the search parameters (and, or, not; eq, ne, co, sw, gt, lt, ge, le, sa, eb, ap, pr, re)',
};
/** _type narrows a system-level search to some resource types. */
const TYPE_PARAM: SearchParamEntry = { name: '_type', type: 'token', documentation: 'the resource types a system-level search returns' };

/** The parameters a search of `type` ('Resource': a system-level search) takes, as the statement lists them. */
function searchParamsOf(type: string, definitions: SearchParameterRegistry): SearchParamEntry[] {
  // The engine's own parameters with the official ones: each engine states what it can search.
  // Special parameters (Location near) are listed when the engine has a special search for them.
  const special = type === 'Resource' ? new Set<string>() : new Set(definitions.specialSearchesOf(type).filter((s) => s.modifiers.includes(undefined)).map((s) => s.code));
  const params = Object.values(definitions.forType(type)).filter(
    (p) => p.code === '_id' || p.code === '_lastUpdated' || special.has(p.code!) || (isIndexed(p, definitions) && SUPPORTED_TYPES.has(p.type ?? '')),
  );
  // _filter tests the type's own parameters: none (Binary), nothing to filter on.
  return [...params.map((p) => ({ name: p.code!, ...(p.url ? { definition: p.url } : {}), type: p.type! })), LIST_PARAM, ...(params.length ? [FILTER_PARAM] : [])];
}

/**
 * The `_revinclude` values a search of each type takes, by target type: every `Source:param` whose
 * reference parameter may point at it (R4 lists these values), and the bare `*` (any of them).
 */
function revIncludesByTarget(types: string[], definitions: SearchParameterRegistry): Map<string, string[]> {
  const byTarget = new Map<string, string[]>(types.map((t) => [t, ['*']]));
  for (const source of types) {
    for (const param of Object.values(definitions.forType(source))) {
      if (param.type !== 'reference' || !isIndexed(param, definitions)) continue;
      for (const target of param.target ?? types) byTarget.get(target)?.push(`${source}:${param.code}`);
    }
  }
  return byTarget;
}

/** `*`, `Type:*` and each reference parameter of the type: what `_include` takes. */
function includesOf(type: string, definitions: SearchParameterRegistry): string[] {
  const references = Object.values(definitions.forType(type)).filter((p) => p.type === 'reference' && isIndexed(p, definitions));
  return ['*', `${type}:*`, ...references.map((p) => `${type}:${p.code}`)];
}

/**
 * The last statement built for each registry: building it walks every type's parameters and
 * reverse includes (~700 KB), tens of ms a call. Rebuilt when the base URL, the software, the
 * operations or the registry's parameters change.
 */
const builtStatements = new WeakMap<SearchParameterRegistry, { key: string; statement: CapabilityStatement }>();

export function buildCapabilityStatement(
  baseUrl: string,
  operations: OperationRegistry,
  software: SoftwareDescription,
  definitions: SearchParameterRegistry,
): CapabilityStatement {
  const key = JSON.stringify([baseUrl, software, operations.all().map((op) => `${op.name}|${op.levels}|${op.resourceTypes ?? ''}`), definitions.generation]);
  const built = builtStatements.get(definitions);
  if (built?.key === key) return built.statement;
  // Frozen: every caller shares it (copying 700 KB would cost what building does).
  const statement = deepFreeze(buildStatement(baseUrl, operations, software, definitions));
  builtStatements.set(definitions, { key, statement });
  return statement;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

function buildStatement(
  baseUrl: string,
  operations: OperationRegistry,
  software: SoftwareDescription,
  definitions: SearchParameterRegistry,
): CapabilityStatement {
  const ops = operations.all();
  const types = allResourceTypes();
  const revIncludes = revIncludesByTarget(types, definitions);
  const resources: CapabilityStatementRestResource[] = types.map((type) => {
    const typeOps = ops.filter((op) => (op.levels.includes('type') || op.levels.includes('instance')) &&
      (!op.resourceTypes || op.resourceTypes.includes(type)));
    const revInclude = revIncludes.get(type)!;
    return {
      type: type as CapabilityStatementRestResource['type'],
      profile: `http://hl7.org/fhir/StructureDefinition/${type}`,
      interaction: ['read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'history-type', 'create', 'search-type']
        .map((code) => ({ code: code as 'read' })),
      // If-Match is checked on update and patch: a stale version is 412 (repository checkIfMatch).
      versioning: 'versioned-update',
      readHistory: true,
      updateCreate: true,
      conditionalCreate: true,
      conditionalRead: 'full-support',
      conditionalUpdate: true,
      conditionalDelete: 'single',
      referencePolicy: ['literal', 'logical', 'local'],
      searchInclude: includesOf(type, definitions),
      ...(revInclude.length ? { searchRevInclude: revInclude } : {}),
      searchParam: searchParamsOf(type, definitions),
      ...(typeOps.length ? { operation: typeOps.map((op) => ({ name: op.name, definition: op.definitionUrl ?? `${baseUrl}/OperationDefinition/${op.name}` })) } : {}),
    };
  });
  const systemOps = ops.filter((op) => op.levels.includes('system'));
  const messages = software.receivesMessages ?? [];
  // Messages are taken at the base and by $process-message (handled by the engine, not a registered operation).
  const operationsListed = [
    ...systemOps.map((op) => ({ name: op.name, definition: op.definitionUrl ?? `${baseUrl}/OperationDefinition/${op.name}` })),
    ...(messages.length ? [{ name: 'process-message', definition: 'http://hl7.org/fhir/OperationDefinition/MessageHeader-process-message' }] : []),
  ];
  return {
    resourceType: 'CapabilityStatement',
    ...describingThisInstance(baseUrl, software),
    ...(software.instantiates?.length ? { instantiates: software.instantiates } : {}),
    ...(messages.length
      ? {
          messaging: [{
            endpoint: [{ protocol: { system: 'http://terminology.hl7.org/CodeSystem/message-transport', code: 'http' }, address: baseUrl }],
            supportedMessage: messages.map((definition) => ({ mode: 'receiver' as const, definition })),
          }],
        }
      : {}),
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json', 'application/fhir+xml', 'xml'],
    patchFormat: PATCH_FORMATS,
    rest: [{
      mode: 'server',
      resource: resources,
      interaction: [{ code: 'transaction' }, { code: 'batch' }, { code: 'search-system' }, { code: 'history-system' }],
      searchParam: [...searchParamsOf('Resource', definitions), TYPE_PARAM],
      // Compartment search (search/compartment-search.ts) over the five R4 definitions.
      compartment: ['patient', 'encounter', 'relatedPerson', 'practitioner', 'device'].map((code) => `http://hl7.org/fhir/CompartmentDefinition/${code}`),
      ...(operationsListed.length ? { operation: operationsListed } : {}),
    }],
  };
}

/**
 * `metadata?mode=terminology`: what the server's terminology operations are, from the operations
 * registered (a terminology service registers $expand, $validate-code, $translate, $lookup; a
 * server without them says so by leaving them out).
 */
export function buildTerminologyCapabilities(baseUrl: string, operations: OperationRegistry, software: { name: string; version: string }, codeSystems?: TerminologyCapabilitiesCodeSystem[]): TerminologyCapabilities {
  const names = new Set(operations.all().map((op) => op.name));
  return {
    resourceType: 'TerminologyCapabilities',
    ...describingThisInstance(baseUrl, software),
    ...(codeSystems?.length ? { codeSystem: codeSystems } : {}),
    ...(names.has('expand') ? { expansion: { hierarchical: false, paging: true } } : {}),
    ...(names.has('validate-code') ? { validateCode: { translations: false } } : {}),
    ...(names.has('translate') ? { translation: { needsMap: false } } : {}),
    ...(names.has('lookup') || names.has('subsumes') ? { codeSearch: 'all' as const } : {}),
  };
}

/** What both capability resources say of the server: an active description of this instance, now. */
function describingThisInstance(baseUrl: string, { name, version }: SoftwareDescription) {
  return { status: 'active' as const, date: new Date().toISOString(), kind: 'instance' as const, software: { name, version }, implementation: { description: name, url: baseUrl } };
}
