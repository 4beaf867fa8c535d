/**
 * _summary and _elements: what of each resource an answer returns (R4 search.html#summary and
 * #elements), for searches and, as http.html's general parameters say, for read, vread, history
 * and the CapabilityStatement too. A subset is tagged SUBSETTED, and keeps the resource's
 * mandatory top-level elements (min >= 1): "servers SHOULD return mandatory elements", and
 * _summary=text is "the text, id, meta, and top-level mandatory elements".
 */
import { getDataType } from '@medplum/core';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { LIMITS } from '../../common/limits.js';
import { badRequest, tooCostly } from '../outcome.js';
import { withDecimalTextsOf } from '../../common/json-decimals.js';
import { choiceType } from '../schema-elements.js';

const ALWAYS = new Set(['resourceType', 'id', 'meta']);
const SUMMARY_MODES = ['true', 'text', 'data', 'count', 'false'] as const;

/** What a client asked to be left out of each resource: _summary, or _elements (which wins). */
export interface ResultShape {
  summary?: (typeof SUMMARY_MODES)[number];
  elements?: string[];
}

/**
 * _summary and _elements of an interaction that is not a search. `count` only where there are
 * matches to count (history); elsewhere it is a 400, not a silently full answer.
 */
export function parseResultShape(query: Array<[string, string]>, options: { maxElements: number; countable: boolean }): ResultShape {
  const shape: ResultShape = {};
  for (const [name, value] of query) {
    if (name === '_summary') {
      if (!(SUMMARY_MODES as readonly string[]).includes(value)) throw badRequest(`_summary must be true, text, data, count or false, got "${value.slice(0, 40)}"`);
      if (value === 'count' && !options.countable) throw badRequest('_summary=count counts the matches of a search or history; this interaction returns one resource');
      shape.summary = value as ResultShape['summary'];
    } else if (name === '_elements') {
      const items = value.split(',').map((item) => item.trim()).filter(Boolean);
      if (items.length > options.maxElements) {
        throw tooCostly(`_elements lists ${items.length} items; this server allows at most ${options.maxElements} (setting ${LIMITS.fhirSearchMaxValues.setting})`);
      }
      shape.elements = items;
    }
  }
  return shape;
}

/** The resource as the shape asks for it (unchanged without _elements or a subsetting _summary). */
export function shapeResource(resource: Resource, shape: ResultShape): Resource {
  if (shape.elements?.length) return applyElements(resource, shape.elements);
  if (shape.summary && shape.summary !== 'false' && shape.summary !== 'count') return applySummary(resource, shape.summary);
  return resource;
}

/** A history Bundle as the shape asks: each entry's resource shaped; no entries for _summary=count. */
export function shapeBundleEntries(bundle: Bundle, shape: ResultShape): Bundle {
  if (shape.summary === 'count') {
    const { entry: _dropped, ...counted } = bundle;
    return counted;
  }
  if (!shape.elements?.length && (!shape.summary || shape.summary === 'false')) return bundle;
  return { ...bundle, entry: bundle.entry?.map((e) => (e.resource ? { ...e, resource: shapeResource(e.resource, shape) } : e)) };
}

function markSubsetted(resource: Record<string, unknown>): void {
  const meta = { ...((resource.meta as Record<string, unknown>) ?? {}) };
  const tags = Array.isArray(meta.tag) ? [...(meta.tag as unknown[])] : [];
  tags.push({ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' });
  meta.tag = tags;
  resource.meta = meta;
}

/** The type's definition, or undefined for a type the definitions do not hold. */
function typeSchema(type: string): ReturnType<typeof getDataType> | undefined {
  try {
    return getDataType(type);
  } catch {
    return undefined;
  }
}

/** Top-level elements with min >= 1 (Observation: status, code). */
function mandatoryElements(type: string): Set<string> {
  return typeSchema(type)?.mandatoryProperties ?? new Set();
}

/** The element's name in the definitions: valueQuantity is value[x]. */
function isElementIn(key: string, names: Set<string>): boolean {
  if (names.has(key)) return true;
  const m = /^([a-z][A-Za-z]*?)[A-Z]/.exec(key);
  return !!m && (names.has(`${m[1]}[x]`) || names.has(m[1]!));
}

/**
 * The elements asked for, by name (`birthDate`, or `Patient.birthDate`), a choice by its name
 * (`value` keeps `valueQuantity`) or by one of its members; with each its `_name` companion (the
 * primitive's id and extensions are part of the element).
 */
export function applyElements(resource: Resource, elements: string[]): Resource {
  const keep = new Set([...ALWAYS, ...elements.map((e) => e.replace(/^[A-Z][A-Za-z]+\./, '').split('.')[0]!)]);
  const mandatory = mandatoryElements(resource.resourceType);
  const schema = typeSchema(resource.resourceType);
  const out: Record<string, unknown> = withDecimalTextsOf({}, resource);
  for (const [key, value] of Object.entries(resource)) {
    const name = key.charCodeAt(0) === 0x5f /* _ */ ? key.slice(1) : key;
    if (keep.has(name) || isElementIn(name, mandatory) || keep.has(choiceName(schema, name) ?? '')) out[key] = value;
  }
  markSubsetted(out);
  return out as unknown as Resource;
}

/** A choice member's element name (valueQuantity: value), or undefined for any other key. */
function choiceName(schema: ReturnType<typeof getDataType> | undefined, key: string): string | undefined {
  const type = schema ? choiceType(schema, key) : undefined;
  return type ? key.slice(0, key.length - type.length) : undefined;
}

export function applySummary(resource: Resource, summary: 'true' | 'text' | 'data'): Resource {
  const out: Record<string, unknown> = withDecimalTextsOf({}, resource);
  const mandatory = mandatoryElements(resource.resourceType);
  if (summary === 'data') {
    for (const [key, value] of Object.entries(resource)) if (key !== 'text') out[key] = value;
  } else if (summary === 'text') {
    for (const [key, value] of Object.entries(resource)) if (ALWAYS.has(key) || key === 'text' || isElementIn(key, mandatory)) out[key] = value;
  } else {
    const summaryProperties = typeSchema(resource.resourceType)?.summaryProperties ?? new Set<string>();
    for (const [key, value] of Object.entries(resource)) {
      // modifierExtension too: R4 ElementDefinition.isSummary says a modifier at the root "must be
      // marked as isSummary=true", which the definitions do not do for it; a summary without it
      // could mean the opposite of the resource.
      if (ALWAYS.has(key) || key === 'modifierExtension' || isElementIn(key, summaryProperties) || isElementIn(key, mandatory)) out[key] = value;
    }
  }
  markSubsetted(out);
  return out as unknown as Resource;
}
