/**
 * Bindings: a coded element bound `required` to a value set must hold a code of it; one bound
 * `extensible` should (R4: a code from the set must be used if one fits; no machine can tell
 * "fits", so a code outside it is a warning, as FHIR validators report it). @medplum/core's
 * validator checks structure and invariants but not bindings, so the engine checks them here.
 *
 * Elements of type `code` (no system) are bound to core R4 value sets only, and are checked
 * against them (terminology/core-provider.ts). Coding and CodeableConcept elements are checked
 * against the answers of the engine's terminology provider when it has one that validates codes
 * (binding-verdicts.ts asks it before the write's transaction), else against the core value sets.
 * Value sets nobody can expand (filters, external code systems) are not checked, but a required
 * binding always needs a code with a system: a Coding with no system has no defined meaning and
 * text alone is no code (R4 "required": the concept SHALL be from the value set), so both are
 * errors there, as HL7's validator reports them; under an extensible binding text alone is fine.
 *
 * Contained resources and the resources of a stored Bundle's entries (any element of type
 * Resource) are checked like the resource that holds them.
 */
import { getDataType, type InternalTypeSchema } from '@medplum/core';
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { expandCoreValueSet } from './terminology/core-provider.js';
import type { Concept } from './terminology/provider.js';

// A narrative's status is bound (required, narrative-status): `text` is walked like any element.
const SKIPPED = new Set(['resourceType', 'id', 'meta', 'extension', 'modifierExtension']);
const PRIMITIVE = /^[a-z]/;

/** A coded element with a required or extensible binding, as found in a resource. */
export interface BoundElement {
  path: string;
  type: 'code' | 'Coding' | 'CodeableConcept';
  strength: 'required' | 'extensible';
  /** The bound value set's canonical, without `|version`. */
  valueSet: string;
  /** The element's bare code (type `code`). */
  code?: string;
  /** The element's codings that have both system and code (Coding, CodeableConcept). */
  codings: Concept[];
  /** How many codings the element holds in all (complete or not): what the per-element cap counts. */
  codingCount: number;
  /** The codes of its codings that have a code but no system (they cannot be shown to be in any value set). */
  systemless: string[];
}

/** What a terminology answered about codings, by valueSetKey: true/false, or undefined (unknown value set). */
export type CodingVerdicts = ReadonlyMap<string, boolean | undefined>;

export function verdictKey(valueSet: string, coding: Concept): string {
  return `${valueSet}\u0000${coding.system}\u0000${coding.code}`;
}

export function schemaOf(type: string): InternalTypeSchema | undefined {
  try {
    return getDataType(type);
  } catch {
    return undefined;
  }
}

/** Every coded element of the resource bound required or extensible, with its path. */
export function boundElements(resource: Resource): BoundElement[] {
  const found: BoundElement[] = [];
  const schema = schemaOf(resource.resourceType);
  if (schema) walk(resource as unknown as Record<string, unknown>, schema, resource.resourceType, found, 0);
  return found;
}

/**
 * The issues of codes outside their bound value sets, with element paths: errors for required
 * bindings, warnings for extensible ones. `verdicts` holds the engine provider's answers for
 * Coding/CodeableConcept elements; a pair it does not hold is judged by the core value sets.
 */
export function checkRequiredBindings(resource: Resource, verdicts?: CodingVerdicts): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  for (const element of boundElements(resource)) {
    const issue = judge(element, verdicts);
    if (issue) issues.push(issue);
  }
  return issues;
}

/** One coding's membership: the provider's verdict when it gave one, else the core value set's (undefined: cannot tell). */
function isMember(valueSet: string, coding: Concept, verdicts: CodingVerdicts | undefined): boolean | undefined {
  const verdict = verdicts?.get(verdictKey(valueSet, coding));
  if (verdict !== undefined) return verdict;
  const core = expandCoreValueSet(valueSet);
  return core ? core.codes.has(`${coding.system}|${coding.code}`) : undefined;
}

function judge(element: BoundElement, verdicts: CodingVerdicts | undefined): OperationOutcomeIssue | undefined {
  const required = element.strength === 'required';
  let shown: string | undefined;
  if (element.type === 'code') {
    const core = expandCoreValueSet(element.valueSet);
    if (core && element.code !== undefined && !core.bareCodes.has(element.code)) shown = `code "${element.code}"`;
  } else {
    const answers = element.codings.map((c) => isMember(element.valueSet, c, verdicts));
    if (answers.includes(true)) return undefined; // any coding in the set satisfies the binding
    if (required && !element.codings.length && !element.systemless.length) {
      return bindingIssue('error', `no code provided, and a code is required from the value set ${element.valueSet}`, element.path);
    }
    if (element.systemless.length && !answers.includes(false)) {
      return bindingIssue(required ? 'error' : 'warning', `${element.systemless.map((c) => `code "${c}"`).join(', ')} has no system, ` +
        `so it cannot be shown to be in the ${element.strength} value set ${element.valueSet}: give the code system`, element.path);
    }
    // None known either way means it cannot be judged.
    if (answers.includes(false)) shown = [...element.codings.map((c) => `${c.system}|${c.code}`), ...element.systemless].join(', ');
  }
  if (shown === undefined) return undefined;
  return bindingIssue(required ? 'error' : 'warning', `${shown} is not in the ${required ? 'required' : 'extensible'} value set ${element.valueSet}`, element.path);
}

function bindingIssue(severity: 'error' | 'warning', text: string, path: string): OperationOutcomeIssue {
  return { severity, code: 'code-invalid', details: { text }, expression: [path] };
}

function walk(value: Record<string, unknown>, schema: InternalTypeSchema, path: string, found: BoundElement[], depth: number): void {
  if (depth > 40) return;
  for (const [key, child] of Object.entries(value)) {
    if (SKIPPED.has(key) || key.startsWith('_') || child === undefined || child === null) continue;
    const match = elementFor(schema, key);
    if (!match) continue;
    const { element, type } = match;
    const items = Array.isArray(child) ? child : [child];
    items.forEach((item, index) => {
      const itemPath = `${path}.${key}${Array.isArray(child) ? `[${index}]` : ''}`;
      const binding = element.binding;
      if ((binding?.strength === 'required' || binding?.strength === 'extensible') && binding.valueSet) {
        const bound = boundElement(item, type, binding.strength, binding.valueSet.split('|')[0]!, itemPath);
        if (bound) found.push(bound);
      }
      if (!PRIMITIVE.test(type) && item && typeof item === 'object' && type !== 'Extension') {
        // A contained or entry resource is read by its own type's definition.
        const inner = type === 'Resource' ? resourceSchemaOf(item) : schemaOf(type);
        if (inner) walk(item as Record<string, unknown>, inner, itemPath, found, depth + 1);
      }
    });
  }
}

export function resourceSchemaOf(item: object): InternalTypeSchema | undefined {
  const resourceType = (item as { resourceType?: unknown }).resourceType;
  return typeof resourceType === 'string' && /^[A-Z][A-Za-z]{0,63}$/.test(resourceType) ? schemaOf(resourceType) : undefined;
}

/** The element a member names (a choice by its type suffix: valueQuantity) and that member's type. */
export function elementFor(schema: InternalTypeSchema, key: string): { element: InternalTypeSchema['elements'][string]; type: string } | undefined {
  const direct = Object.hasOwn(schema.elements, key) ? schema.elements[key] : undefined;
  if (direct) return direct.type.length === 1 ? { element: direct, type: direct.type[0]!.code } : undefined;
  for (const [name, element] of Object.entries(schema.elements)) {
    if (!name.endsWith('[x]')) continue;
    const base = name.slice(0, -3);
    if (!key.startsWith(base)) continue;
    const suffix = key.slice(base.length);
    const type = element.type.find((t) => t.code.toLowerCase() === suffix.toLowerCase());
    if (type) return { element, type: type.code };
  }
  return undefined;
}

function isCoding(value: unknown): value is Concept {
  const coding = value as { system?: unknown; code?: unknown } | null;
  return typeof coding?.system === 'string' && typeof coding.code === 'string' && coding.system !== '' && coding.code !== '';
}

function boundElement(value: unknown, type: string, strength: BoundElement['strength'], valueSet: string, path: string): BoundElement | undefined {
  const base = { path, strength, valueSet, codingCount: 0, systemless: [] as string[] };
  if (type === 'code' && typeof value === 'string') {
    // Extensible bindings of bare codes do not occur in R4; a warning there would only be noise.
    return strength === 'required' ? { ...base, type: 'code', code: value, codings: [] } : undefined;
  }
  // Runs on bodies not validated yet (before the write's transaction): anything may be anywhere.
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  if (type !== 'Coding' && type !== 'CodeableConcept') return undefined;
  const list = type === 'Coding' ? [value] : (value as { coding?: unknown }).coding;
  const all: unknown[] = Array.isArray(list) ? list : [];
  const codings = all.filter(isCoding).map((c) => ({ system: c.system, code: c.code }));
  const systemless = all.filter(hasCodeOnly).map((c) => c.code);
  return { ...base, type, codings, codingCount: all.length, systemless };
}

function hasCodeOnly(value: unknown): value is { code: string } {
  const coding = value as { system?: unknown; code?: unknown } | null;
  return typeof coding?.code === 'string' && coding.code !== '' && (typeof coding.system !== 'string' || coding.system === '');
}
