/**
 * The search parameters one engine knows: the official R4 ones (definitions.ts, loaded once per
 * process and shared read-only) with the engine's own custom ones layered over them. Each engine
 * owns one registry, so the custom SearchParameters of one service (a client registry's, a
 * facility registry's) are unknown to every other engine in the same process. Search parsing,
 * indexing and the CapabilityStatement all read the engine's registry.
 */
import type { SearchParameter } from '@medplum/fhirtypes';
import { isResourceType, loadDefinitions, parameterExpression, searchParameterByUrl, searchParametersOf } from './definitions.js';
import { badRequest } from './outcome.js';
import type { CustomFilter } from './search/parse.js';

/** Parameter types the engine can index and search (special ones need code of their own). */
const CUSTOM_TYPES = new Set(['token', 'string', 'date', 'reference', 'number', 'quantity', 'uri', 'composite']);
/** Bases that put a parameter on every resource type. */
const EVERY_TYPE = new Set(['Resource', 'DomainResource']);

/**
 * A parameter (or a modifier of one) whose matching the service writes itself: Location `near`
 * (type special in R4), hierarchy walks such as `partof:below`. Parsing hands it the OR-ed values
 * (already split on unescaped commas, bounded by FHIR_SEARCH_MAX_VALUES); it throws a 400
 * FhirError for a bad value and returns the filter the SQL builder runs.
 */
export interface SpecialSearch {
  resourceTypes: readonly string[];
  code: string;
  /** The modifiers it answers; `undefined` in the list stands for the bare parameter. */
  modifiers: ReadonlyArray<string | undefined>;
  parse(values: string[], modifier: string | undefined): CustomFilter;
}

export interface CompositeComponent {
  param: SearchParameter;
  expression: string;
}

export class SearchParameterRegistry {
  /** Custom parameters by base type, then code. */
  private readonly custom = new Map<string, Map<string, SearchParameter>>();
  private readonly customByUrl = new Map<string, SearchParameter>();
  /** Base and custom merged per type; dropped when a parameter is added. */
  private readonly merged = new Map<string, Readonly<Record<string, SearchParameter>>>();

  /** Special searches by `type|code`. */
  private readonly special = new Map<string, SpecialSearch[]>();

  /** @param frozen a registry that refuses custom parameters (the base-only one). */
  /** Counts changes: what is derived from the registry (the CapabilityStatement) is rebuilt when it moves. */
  generation = 0;

  constructor(private readonly frozen = false) {}

  /** Adds a special search (a parameter or modifier answered by the service's own SQL). */
  addSpecialSearch(search: SpecialSearch): void {
    if (this.frozen) throw new Error('the base R4 search parameters are shared by every engine and cannot be extended; add special searches to an engine');
    for (const type of search.resourceTypes) {
      const key = `${type}|${search.code}`;
      this.special.set(key, [...(this.special.get(key) ?? []), search]);
    }
    this.generation++;
  }

  /** The special search answering `code:modifier` on a type, if the engine has one. */
  specialSearch(resourceType: string, code: string, modifier: string | undefined): SpecialSearch | undefined {
    if (!this.special.size) return undefined;
    return this.special.get(`${resourceType}|${code}`)?.find((search) => search.modifiers.includes(modifier));
  }

  /** Codes (with modifiers) of the special searches a type answers, for the CapabilityStatement. */
  specialSearchesOf(resourceType: string): SpecialSearch[] {
    return [...this.special.entries()].filter(([key]) => key.startsWith(`${resourceType}|`)).flatMap(([, list]) => list);
  }

  /**
   * Adds (or replaces, by code) a custom parameter for its base types. It needs a code, base
   * types, a supported type and a FHIRPath expression, and may not redefine an official R4
   * parameter (their index rows would change meaning under stored data).
   */
  add(parameter: SearchParameter): void {
    if (this.frozen) throw new Error('the base R4 search parameters are shared by every engine and cannot be extended; add parameters to an engine');
    loadDefinitions();
    const { code, base, type, expression } = parameter;
    if (!code || !expression || !base?.length || !type) throw badRequest('a custom SearchParameter needs code, base, type and expression', 'FHIR_INVALID_RESOURCE');
    if (!/^[A-Za-z][A-Za-z0-9\-.]{0,63}$/.test(code)) throw badRequest(`custom SearchParameter code "${code.slice(0, 80)}" must be a letter followed by letters, digits, "-" or "."`, 'FHIR_INVALID_RESOURCE');
    if (!CUSTOM_TYPES.has(type)) throw badRequest(`custom SearchParameter "${code}": type ${type} is not supported`, 'FHIR_INVALID_RESOURCE');
    for (const baseType of base) {
      if (!EVERY_TYPE.has(baseType) && !isResourceType(baseType)) throw badRequest(`custom SearchParameter "${code}": unknown base type ${baseType}`, 'FHIR_INVALID_RESOURCE');
      if (Object.hasOwn(searchParametersOf(baseType), code)) {
        throw badRequest(`custom SearchParameter "${code}" would redefine the R4 parameter of ${baseType}`, 'FHIR_INVALID_RESOURCE');
      }
      // Fails now, not at the next write, when the expression does not parse.
      try {
        if (!EVERY_TYPE.has(baseType)) parameterExpression(baseType, parameter);
      } catch (error) {
        throw badRequest(`custom SearchParameter "${code}": expression does not parse (${String((error as Error).message).slice(0, 200)})`, 'FHIR_INVALID_RESOURCE');
      }
    }
    if (type === 'composite' && !this.compositeComponents(parameter)) {
      throw badRequest(`custom SearchParameter "${code}": composite components must name known non-composite parameters`, 'FHIR_INVALID_RESOURCE');
    }
    this.removeCode(code, base);
    for (const baseType of base) {
      let byCode = this.custom.get(baseType);
      if (!byCode) this.custom.set(baseType, (byCode = new Map()));
      byCode.set(code, parameter);
    }
    if (parameter.url) this.customByUrl.set(parameter.url, parameter);
    this.merged.clear();
    this.generation++;
  }

  private removeCode(code: string, base: string[]): void {
    for (const baseType of base) {
      const previous = this.custom.get(baseType)?.get(code);
      if (previous?.url) this.customByUrl.delete(previous.url);
      this.custom.get(baseType)?.delete(code);
    }
  }

  /** The engine's own parameters, in the order added. */
  customParameters(): SearchParameter[] {
    return [...new Set([...this.custom.values()].flatMap((byCode) => [...byCode.values()]))];
  }

  /**
   * Every parameter of a resource type by code (official and custom), as an object without a
   * prototype, so a code from a query such as `constructor` finds nothing. `Resource` gives the
   * parameters of a system-level search.
   */
  forType(resourceType: string): Readonly<Record<string, SearchParameter>> {
    const base = searchParametersOf(resourceType);
    if (!this.custom.size) return base;
    let table = this.merged.get(resourceType);
    if (!table) {
      const own = [...(this.custom.get('Resource')?.values() ?? [])];
      if (resourceType !== 'Resource') own.push(...(this.custom.get('DomainResource')?.values() ?? []), ...(this.custom.get(resourceType)?.values() ?? []));
      if (!own.length) return base;
      const copy = Object.assign(Object.create(null) as Record<string, SearchParameter>, base);
      for (const param of own) copy[param.code!] = param;
      table = Object.freeze(copy);
      if (resourceType === 'Resource' || isResourceType(resourceType)) this.merged.set(resourceType, table);
    }
    return table;
  }

  get(resourceType: string, code: string): SearchParameter | undefined {
    const params = this.forType(resourceType);
    return Object.hasOwn(params, code) ? params[code] : undefined;
  }

  /** A parameter by canonical URL: the engine's own first, then the official ones. */
  byUrl(url: string): SearchParameter | undefined {
    return this.customByUrl.get(url) ?? searchParameterByUrl(url);
  }

  /** The component parameters of a composite, in order (undefined if one cannot be resolved). */
  compositeComponents(param: SearchParameter): CompositeComponent[] | undefined {
    const out: CompositeComponent[] = [];
    for (const component of param.component ?? []) {
      const definition = component.definition ? this.byUrl(component.definition) : undefined;
      if (!definition || !component.expression || definition.type === 'composite' || definition.type === 'special') return undefined;
      out.push({ param: definition, expression: component.expression });
    }
    return out.length ? out : undefined;
  }
}

/** The official R4 parameters only: for code that runs outside an engine (benches, pure tests). */
export const BASE_SEARCH_PARAMETERS = new SearchParameterRegistry(true);
