/**
 * Kept number texts (common/json-decimals.ts) belong to decimals. The JSON reader does not know
 * element types, so a JSON integer written `5.0` keeps its text like a decimal's; but FHIR JSON
 * integers have no fraction or exponent (json.html; the XML reader refuses `5.0` for one), and the
 * integer 5 is what was sent. So before a resource is stored its integer elements (integer,
 * positiveInt, unsignedInt, in extensions, primitives' extensions and contained resources too)
 * forget any text: `5.0`
 * is stored and answered as `5`, as before texts were kept. Only resources holding kept texts are
 * walked.
 */
import { getDataType, type InternalTypeSchema } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { forgetDecimalText, holdsDecimalText } from '../common/json-decimals.js';
import { isResourceType } from './definitions.js';
import { elementType } from './schema-elements.js';

type Json = Record<string, unknown>;

const INTEGER_TYPES = new Set(['integer', 'positiveInt', 'unsignedInt', 'integer64']);
const PRIMITIVE = /^[a-z]/;
/** Deeper than any resource the engine accepts (FHIR_MAX_JSON_DEPTH); a bound on the walk all the same. */
const MAX_DEPTH = 128;

export function forgetIntegerTexts(resource: Resource): void {
  if (!holdsDecimalText(resource) || !isResourceType(resource.resourceType)) return;
  walk(resource as unknown as Json, getDataType(resource.resourceType), 0);
}

/** A type's schema, or none for a type @medplum/core does not define (the walk then leaves it as it is). */
function schemaOf(type: string): InternalTypeSchema | undefined {
  try {
    return getDataType(type);
  } catch {
    return undefined;
  }
}

function walk(value: Json, schema: InternalTypeSchema, depth: number): void {
  if (depth > MAX_DEPTH) return;
  for (const key of Object.keys(value)) {
    // `_birthDate`, `_given`: a primitive's id and extensions, an Element (or a list of them, with nulls).
    const companion = key.charCodeAt(0) === 0x5f /* _ */ && elementType(schema, key.slice(1)) !== undefined;
    const type = companion ? 'Element' : elementType(schema, key);
    if (!type) continue;
    const child = value[key];
    if (INTEGER_TYPES.has(type)) {
      if (Array.isArray(child)) for (let i = 0; i < child.length; i++) forgetDecimalText(child, i);
      else forgetDecimalText(value, key);
      continue;
    }
    if (PRIMITIVE.test(type)) continue;
    for (const item of Array.isArray(child) ? child : [child]) {
      if (!item || typeof item !== 'object' || Array.isArray(item)) continue;
      const json = item as Json;
      const inner = type === 'Resource' ? (typeof json.resourceType === 'string' && isResourceType(json.resourceType) ? json.resourceType : undefined) : type;
      const innerSchema = inner ? schemaOf(inner) : undefined;
      if (innerSchema) walk(json, innerSchema, depth + 1);
    }
  }
}
