/** The CapabilityStatement, generated from what the engine supports and the plug-ins registered. */
import type { CapabilityStatement, CapabilityStatementRestResource, TerminologyCapabilities } from '@medplum/fhirtypes';
import { allResourceTypes } from './definitions.js';
import type { OperationRegistry } from './operations/registry.js';
import type { SearchParameterRegistry } from './search-parameters.js';
import { isIndexed } from './storage/indexer.js';

/** The software a CapabilityStatement describes; `instantiates`: canonicals of the capability statements it implements (e.g. IHE profiles'). */
export interface SoftwareDescription {
  name: string;
  version: string;
  instantiates?: string[];
}

const SUPPORTED_TYPES = new Set(['token', 'string', 'date', 'reference', 'number', 'quantity', 'uri', 'composite']);

export function buildCapabilityStatement(
  baseUrl: string,
  operations: OperationRegistry,
  software: SoftwareDescription,
  definitions: SearchParameterRegistry,
): CapabilityStatement {
  const ops = operations.all();
  const resources: CapabilityStatementRestResource[] = allResourceTypes().map((type) => {
    // The engine's own parameters with the official ones: each engine states what it can search.
    // Special parameters (Location near) are listed when the engine has a special search for them.
    const special = new Set(definitions.specialSearchesOf(type).filter((s) => s.modifiers.includes(undefined)).map((s) => s.code));
    const params = Object.values(definitions.forType(type)).filter(
      (p) => p.code === '_id' || p.code === '_lastUpdated' || special.has(p.code!) || (isIndexed(p, definitions) && SUPPORTED_TYPES.has(p.type ?? '')),
    );
    const typeOps = ops.filter((op) => (op.levels.includes('type') || op.levels.includes('instance')) &&
      (!op.resourceTypes || op.resourceTypes.includes(type)));
    return {
      type: type as CapabilityStatementRestResource['type'],
      profile: `http://hl7.org/fhir/StructureDefinition/${type}`,
      interaction: ['read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'history-type', 'create', 'search-type']
        .map((code) => ({ code: code as 'read' })),
      versioning: 'versioned',
      readHistory: true,
      updateCreate: true,
      conditionalCreate: true,
      conditionalRead: 'full-support',
      conditionalUpdate: true,
      conditionalDelete: 'single',
      referencePolicy: ['literal', 'logical', 'local'],
      searchInclude: [`${type}:*`],
      searchRevInclude: ['*'],
      searchParam: params.map((p) => ({ name: p.code!, definition: p.url, type: p.type! })),
      ...(typeOps.length ? { operation: typeOps.map((op) => ({ name: op.name, definition: op.definitionUrl ?? `${baseUrl}/OperationDefinition/${op.name}` })) } : {}),
    };
  });
  const systemOps = ops.filter((op) => op.levels.includes('system'));
  return {
    resourceType: 'CapabilityStatement',
    ...describingThisInstance(baseUrl, software),
    ...(software.instantiates?.length ? { instantiates: software.instantiates } : {}),
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json', 'application/fhir+xml', 'xml'],
    patchFormat: ['application/json-patch+json'],
    rest: [{
      mode: 'server',
      resource: resources,
      interaction: [{ code: 'transaction' }, { code: 'batch' }, { code: 'search-system' }, { code: 'history-system' }],
      ...(systemOps.length ? { operation: systemOps.map((op) => ({ name: op.name, definition: op.definitionUrl ?? `${baseUrl}/OperationDefinition/${op.name}` })) } : {}),
    }],
  };
}

/**
 * `metadata?mode=terminology`: what the server's terminology operations are, from the operations
 * registered (a terminology service registers $expand, $validate-code, $translate, $lookup; a
 * server without them says so by leaving them out).
 */
export function buildTerminologyCapabilities(baseUrl: string, operations: OperationRegistry, software: { name: string; version: string }): TerminologyCapabilities {
  const names = new Set(operations.all().map((op) => op.name));
  return {
    resourceType: 'TerminologyCapabilities',
    ...describingThisInstance(baseUrl, software),
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
