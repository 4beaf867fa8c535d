/**
 * FHIR JSON is written `resourceType` first, then `id` and `meta` (json.html's layout; some
 * parsers and most people read it so). Stored resources come back from jsonb with its key order
 * (shorter keys first), which put `resourceType` last: the answer is written in the usual order.
 * Only where resources sit is visited (the answer, Bundle entries, contained resources,
 * Parameters' resources), not every object.
 */
import { withDecimalTextsOf } from '../../common/json-decimals.js';

type Json = Record<string, unknown>;

const LEADING = ['resourceType', 'id', 'meta'];

/** The resource with resourceType, id and meta first, and the same for the resources it holds. */
export function inFhirOrder<T>(resource: T, depth = 0): T {
  if (!resource || typeof resource !== 'object' || Array.isArray(resource) || depth > 8) return resource;
  const source = resource as Json;
  if (typeof source.resourceType !== 'string') return resource;
  const out: Json = withDecimalTextsOf({}, source);
  for (const key of LEADING) if (key in source) out[key] = source[key];
  for (const [key, value] of Object.entries(source)) {
    if (key in out) continue;
    if (key === 'contained' && Array.isArray(value)) out[key] = value.map((child) => inFhirOrder(child, depth + 1));
    else if ((key === 'entry' || key === 'parameter') && Array.isArray(value)) out[key] = value.map((item) => holderInOrder(item, depth + 1));
    else out[key] = value;
  }
  return out as T;
}

/** A Bundle entry or a Parameters parameter: its `resource` (and a parameter's parts) in order. */
function holderInOrder(item: unknown, depth: number): unknown {
  if (!item || typeof item !== 'object' || Array.isArray(item)) return item;
  const holder = item as Json;
  if (holder.resource === undefined && !Array.isArray(holder.part)) return item;
  const out: Json = { ...holder };
  if (holder.resource !== undefined) out.resource = inFhirOrder(holder.resource, depth);
  if (Array.isArray(holder.part)) out.part = holder.part.map((part) => holderInOrder(part, depth + 1));
  return out;
}
