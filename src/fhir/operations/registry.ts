/**
 * The operation plug-in API. A service adds `$operations` (system, type or instance level) and
 * search extensions to an engine without touching its core: the engine's router looks operations
 * up here, and the CapabilityStatement lists them.
 */
import type { OperationDefinition, Parameters, Resource } from '@medplum/fhirtypes';
import type { FhirRepository } from '../repository.js';
import type { FhirRequest, FhirResponse } from '../interaction.js';
import type { SearchRequest } from '../search/parse.js';
import { FhirError } from '../outcome.js';

export type OperationLevel = 'system' | 'type' | 'instance';

export interface OperationContext {
  repo: FhirRepository;
  request: FhirRequest;
  level: OperationLevel;
  resourceType?: string;
  id?: string;
  /** The version named by `[type]/[id]/_history/[vid]/$op` (operations with `onVersions` only). */
  versionId?: string;
  /** The input: the POSTed Parameters, or the query of a GET turned into Parameters. */
  parameters: Parameters;
  baseUrl: string;
}

export interface FhirOperation {
  /** Name without the `$`, e.g. `everything`. */
  name: string;
  levels: OperationLevel[];
  /** Types the operation applies to at type and instance level; omit for all. */
  resourceTypes?: string[];
  /** Also callable on one version, `[type]/[id]/_history/[vid]/$op` (the meta operations). */
  onVersions?: boolean;
  /** false allows GET (an operation that changes nothing). */
  affectsState?: boolean;
  /** Canonical URL of its OperationDefinition, listed in the CapabilityStatement. */
  definitionUrl?: string;
  definition?: OperationDefinition;
  /** A resource (returned with 200) or a full response. */
  run(context: OperationContext): Promise<Resource | FhirResponse>;
}

/** Changes a search before it runs, e.g. a registry hiding merged records. */
export type SearchExtension = (request: SearchRequest, context: { repo: FhirRepository; request?: FhirRequest }) => SearchRequest | Promise<SearchRequest>;

export class OperationRegistry {
  private readonly operations = new Map<string, FhirOperation[]>();
  readonly searchExtensions: SearchExtension[] = [];

  register(operation: FhirOperation): void {
    if (!/^[a-z][A-Za-z0-9-]*$/.test(operation.name)) throw new Error(`invalid operation name "${operation.name}"`);
    const list = this.operations.get(operation.name) ?? [];
    list.push(operation);
    this.operations.set(operation.name, list);
  }

  addSearchExtension(extension: SearchExtension): void {
    this.searchExtensions.push(extension);
  }

  all(): FhirOperation[] {
    return [...this.operations.values()].flat();
  }

  find(name: string, level: OperationLevel, resourceType?: string): FhirOperation {
    const candidates = this.operations.get(name) ?? [];
    const found = candidates.find((op) => op.levels.includes(level) &&
      (level === 'system' || !op.resourceTypes || op.resourceTypes.includes(resourceType!)));
    if (!found) {
      const where = level === 'system' ? 'at system level' : `on ${resourceType}${level === 'instance' ? ' instances' : ''}`;
      throw new FhirError(404, 'FHIR_NOT_SUPPORTED', `operation $${name} is not supported ${where}`);
    }
    return found;
  }
}

/**
 * GET query pairs as a Parameters resource. A parameter given with no value (`targetSystem=`) is
 * left out, as a search leaves out an empty parameter: a string value is never empty in FHIR, and
 * the client named nothing.
 */
export function queryToParameters(query: Array<[string, string]>): Parameters {
  return { resourceType: 'Parameters', parameter: query.filter(([, value]) => value !== '').map(([name, value]) => ({ name, valueString: value })) };
}

/** A parameter's value as a string, whatever value[x] it was given with. */
export function parameterValue(parameters: Parameters, name: string): string | undefined {
  const p = parameters.parameter?.find((x) => x.name === name);
  if (!p) return undefined;
  for (const [key, value] of Object.entries(p)) {
    if (key.startsWith('value') && (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')) return String(value);
  }
  return undefined;
}
