/**
 * Reading an operation's input Parameters the same way for GET (every value arrives as a string)
 * and POST (typed value[x]), with a 400 OperationOutcome naming the parameter for anything
 * malformed: the only place the terminology operations look at raw input.
 */
import type { CodeableConcept, Coding, Parameters, ParametersParameter, Resource } from '@medplum/fhirtypes';
import { FhirError } from '../../fhir/outcome.js';
import { assertCodeableConceptShape, assertCodingShape, assertConceptMapShape, assertValueSetShape } from './shapes.js';

export const badParameter = (message: string): FhirError => new FhirError(400, 'FHIR_BAD_REQUEST', message);

/** Longest single value we read (a code, a URL, a filter); longer is refused rather than searched. */
const MAX_VALUE_CHARS = 4096;
/**
 * Most values a repeating parameter gives (`exclude-system`, `designation`, `property`,
 * `system-version`...), occurrences and commas together: each value is matched against every
 * member or concept the operation reads, so without a bound one request's list is work for minutes.
 */
export const MAX_REPEATED_VALUES = 1000;

const SIMPLE_KINDS = {
  string: 'a code, URI or string (valueCode, valueUri, valueString...)',
  boolean: 'a boolean (valueBoolean)',
  number: 'a whole number (valueInteger)',
} as const;

/** A parameter's value[x]: its member name and value (the shape check made sure there is at most one). */
function valueOf(p: ParametersParameter): [string | undefined, unknown] {
  for (const [key, value] of Object.entries(p)) if (key.startsWith('value')) return [key, value];
  return [undefined, undefined];
}

const tooManyValues = (operation: string, name: string): FhirError =>
  badParameter(`$${operation}: parameter "${name}" gives more than ${MAX_REPEATED_VALUES} values, the most one request may`);

/** FHIR's own parameters (http.html, search.html), which any request may carry besides an operation's. */
const FHIR_GENERAL_PARAMETERS = new Set(['_format', '_pretty', '_summary', '_elements', '_count', '_offset', '_sort', '_total', '_include',
  '_revinclude', '_contained', '_containedType', '_id', '_lastUpdated', '_tag', '_profile', '_security', '_source', '_text', '_content', '_type']);

export class OperationInput {
  private readonly params: ParametersParameter[];
  readonly operationName: string;

  constructor(parameters: Parameters, private readonly operation: string, allowed: readonly string[]) {
    this.operationName = operation;
    const list: unknown = (parameters as { parameter?: unknown }).parameter ?? [];
    if (!Array.isArray(list) || list.some((p) => typeof p !== 'object' || p === null || typeof (p as { name?: unknown }).name !== 'string')) {
      throw badParameter(`$${operation}: "parameter" must be an array of parameters, each with a name`);
    }
    this.params = list as ParametersParameter[];
    for (const p of this.params) {
      if (!allowed.includes(p.name) && !FHIR_GENERAL_PARAMETERS.has(p.name)) {
        throw badParameter(`$${operation} has no parameter "${String(p.name).slice(0, 60)}"; it takes ${allowed.join(', ')}`);
      }
    }
  }

  private all(name: string): ParametersParameter[] {
    return this.params.filter((p) => p.name === name);
  }

  private one(name: string): ParametersParameter | undefined {
    const found = this.all(name);
    if (found.length > 1) throw badParameter(`$${this.operation}: parameter "${name}" is given ${found.length} times; give it once`);
    return found[0];
  }

  has(name: string): boolean {
    return this.all(name).length > 0;
  }

  /** A code, URI, string, version...: any value[x] written as a JSON string (GET gives valueString). */
  string(name: string): string | undefined {
    return this.simple(name, 'string');
  }

  /**
   * Every occurrence of a repeating simple parameter (e.g. `property`), commas splitting too: at
   * most MAX_REPEATED_VALUES values, each at most MAX_VALUE_CHARS (400 otherwise).
   */
  strings(name: string): string[] {
    const values = this.all(name).flatMap((p) => {
      const [key, value] = valueOf(p);
      if (typeof value !== 'string') throw badParameter(`$${this.operation}: parameter "${name}" must be a code${key ? `, not ${key}` : ''}`);
      if (value.length > MAX_VALUE_CHARS * MAX_REPEATED_VALUES) throw tooManyValues(this.operation, name);
      return value.split(',').map((s) => s.trim()).filter(Boolean);
    });
    if (values.length > MAX_REPEATED_VALUES) throw tooManyValues(this.operation, name);
    const long = values.find((v) => v.length > MAX_VALUE_CHARS);
    if (long !== undefined) throw badParameter(`$${this.operation}: a value of parameter "${name}" is longer than ${MAX_VALUE_CHARS} characters`);
    return values;
  }

  boolean(name: string, fallback: boolean): boolean {
    const text = this.simple(name, 'boolean');
    if (text === undefined) return fallback;
    if (text !== 'true' && text !== 'false') throw badParameter(`$${this.operation}: parameter "${name}" must be true or false, not "${text.slice(0, 40)}"`);
    return text === 'true';
  }

  integer(name: string, min: number): number | undefined {
    const text = this.simple(name, 'number');
    if (text === undefined) return undefined;
    if (!/^\d{1,9}$/.test(text) || Number(text) < min) throw badParameter(`$${this.operation}: parameter "${name}" must be a whole number of at least ${min}, not "${text.slice(0, 40)}"`);
    return Number(text);
  }

  /**
   * One simple value as text, of the JSON type asked for: a valueInteger is no code. A query's
   * values arrive as strings (valueString), so a string is taken for a boolean or a number too,
   * and read as one by the caller.
   */
  private simple(name: string, jsonType: 'string' | 'boolean' | 'number'): string | undefined {
    const p = this.one(name);
    if (!p) return undefined;
    const [key, value] = valueOf(p);
    if (key === undefined) throw badParameter(`$${this.operation}: parameter "${name}" has no value`);
    if (typeof value !== jsonType && typeof value !== 'string') {
      throw badParameter(`$${this.operation}: parameter "${name}" must be ${SIMPLE_KINDS[jsonType]}, not ${key}`);
    }
    const text = String(value);
    if (text.length > MAX_VALUE_CHARS) throw badParameter(`$${this.operation}: parameter "${name}" is longer than ${MAX_VALUE_CHARS} characters`);
    return text;
  }

  coding(name: string): Coding | undefined {
    const p = this.one(name);
    if (!p) return undefined;
    if (!p.valueCoding || typeof p.valueCoding !== 'object') throw badParameter(`$${this.operation}: parameter "${name}" must be a Coding (valueCoding); use POST with Parameters`);
    assertCodingShape(p.valueCoding, `$${this.operation}: parameter "${name}"`);
    return p.valueCoding;
  }

  codeableConcept(name: string): CodeableConcept | undefined {
    const p = this.one(name);
    if (!p) return undefined;
    if (!p.valueCodeableConcept || typeof p.valueCodeableConcept !== 'object') {
      throw badParameter(`$${this.operation}: parameter "${name}" must be a CodeableConcept (valueCodeableConcept); use POST with Parameters`);
    }
    assertCodeableConceptShape(p.valueCodeableConcept, `$${this.operation}: parameter "${name}"`);
    // Each coding is looked up on its own: 15,000 codings held the service 10 s a request.
    if ((p.valueCodeableConcept.coding?.length ?? 0) > MAX_REPEATED_VALUES) throw tooManyValues(this.operation, name);
    return p.valueCodeableConcept;
  }

  /**
   * An inline resource checked as the engine checks a stored one (the R4 definitions: cardinality,
   * types, required bindings, invariants), so that a bad one is a 400 naming the parameter, not
   * a fault further in.
   */
  async validResource<T extends Resource>(name: string, type: string, validate: (resource: Resource, type: string) => Promise<unknown>): Promise<T | undefined> {
    const resource = this.resource<T>(name, type);
    if (!resource) return undefined;
    try {
      await validate(resource, type);
    } catch (error) {
      if (!(error instanceof FhirError) || error.status >= 500) throw error;
      throw new FhirError(400, 'FHIR_BAD_REQUEST', `$${this.operation}: parameter "${name}" is not a valid ${type}: ${error.message}`, error.issues);
    }
    return resource;
  }

  resource<T extends Resource>(name: string, type: string): T | undefined {
    const p = this.one(name);
    if (!p) return undefined;
    if (!p.resource || p.resource.resourceType !== type) throw badParameter(`$${this.operation}: parameter "${name}" must be a ${type} resource`);
    if (type === 'ValueSet') assertValueSetShape(p.resource, `$${this.operation}: parameter "${name}"`);
    if (type === 'ConceptMap') assertConceptMapShape(p.resource, `$${this.operation}: parameter "${name}"`);
    return p.resource as T;
  }
}

/** `url|version` split; the version part is optional. */
export function splitCanonical(canonical: string): { url: string; version?: string } {
  const bar = canonical.indexOf('|');
  return bar < 0 ? { url: canonical } : { url: canonical.slice(0, bar), version: canonical.slice(bar + 1) || undefined };
}

/** A url parameter that may carry its version as `url|version` (FHIR canonical form); a separate version must agree. */
export function canonicalTarget(url: string | undefined, version: string | undefined, operation: string, versionParameter = 'version'): { url?: string; version?: string } {
  if (!url || !url.includes('|')) return { url, version };
  const split = splitCanonical(url);
  if (version && split.version && version !== split.version) {
    throw badParameter(`$${operation}: the url names version ${split.version.slice(0, 40)} and "${versionParameter}" ${version.slice(0, 40)}`);
  }
  return { url: split.url, version: version ?? split.version };
}
