/**
 * R4 http.html#trules: a transaction replaces its placeholders "whether they are found in the
 * resource ids, resource references, elements of type uri, url, oid, uuid, and <a href="" &
 * <img src="" in the narrative. Elements of type canonical are not replaced." References are
 * resolved in bundle.ts; this module does the uri-typed elements and the narrative, which need
 * the element types (an Identifier.value holding a urn:uuid is a string, and stays as it is).
 * Only urn:uuid: and urn:oid: placeholders are replaced there: an http fullUrl already names a
 * real location.
 */
import { getDataType, type InternalTypeSchema } from '@medplum/core';
import { fullUrlKey } from './bundle-rules.js';
import { isResourceType } from './definitions.js';
import { elementType } from './schema-elements.js';

type Json = Record<string, unknown>;

const LINK_TYPES = new Set(['uri', 'url', 'oid', 'uuid']);
/**
 * uri elements that name a namespace or an identity, not a link to a resource: a relative
 * `Patient/1` there is never a valid system, extension URL or canonical URL, so they are left as
 * written (the spec's rule aims at links; its own exception is canonicals).
 */
const IDENTITY_ELEMENTS = new Set(['Extension.url', 'Identifier.system', 'Coding.system', 'Quantity.system']);
const PRIMITIVE = /^[a-z]/;
// One quoted attribute value after href= or src=; both alternatives are linear.
const NARRATIVE_LINK = /(\s(?:href|src)\s*=\s*)(?:"([^"]*)"|'([^']*)')/gi;

/** The transaction's urn: placeholders and what they became (Type/id). */
export function urnPlaceholders(references: ReadonlyMap<string, string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [fullUrl, target] of references) if (/^urn:(uuid|oid):/i.test(fullUrl)) out.set(fullUrl, target);
  return out;
}

/** Replaces placeholders in the resource's uri/url/oid/uuid elements and narrative links, in place. */
export function replacePlaceholderLinks(resource: Json, placeholders: ReadonlyMap<string, string>): void {
  if (!placeholders.size || typeof resource.resourceType !== 'string' || !isResourceType(resource.resourceType)) return;
  if (!mentionsPlaceholder(resource, placeholders)) return;
  walk(resource, getDataType(resource.resourceType), inBundleScope(resource, placeholders));
}

/**
 * Inside a Bundle (a document or collection the transaction stores) its own entries' fullUrls name
 * those entries, not the transaction's (bundle.html#references): they are left as written.
 */
function inBundleScope(resource: Json, placeholders: ReadonlyMap<string, string>): ReadonlyMap<string, string> {
  if (resource.resourceType !== 'Bundle' || !Array.isArray(resource.entry)) return placeholders;
  const own = new Set(resource.entry.flatMap((e: { fullUrl?: unknown } | null) => (typeof e?.fullUrl === 'string' ? [fullUrlKey(e.fullUrl)] : [])));
  return own.size ? new Map([...placeholders].filter(([fullUrl]) => !own.has(fullUrlKey(fullUrl)))) : placeholders;
}

/** Cheap untyped check first: most resources of a transaction mention no placeholder outside references. */
function mentionsPlaceholder(resource: Json, placeholders: ReadonlyMap<string, string>): boolean {
  const stack: unknown[] = [resource];
  while (stack.length) {
    const node = stack.pop();
    if (typeof node === 'string') {
      if (placeholders.has(node) || (node.startsWith('<') && /urn:(uuid|oid):/i.test(node))) return true;
    } else if (Array.isArray(node)) {
      for (const child of node) stack.push(child);
    } else if (node && typeof node === 'object') {
      for (const [key, child] of Object.entries(node)) if (key !== 'reference') stack.push(child);
    }
  }
  return false;
}

function walk(value: Json, schema: InternalTypeSchema, placeholders: ReadonlyMap<string, string>): void {
  for (const key of Object.keys(value)) {
    const type = elementType(schema, key);
    if (!type || isIdentity(schema, key)) continue;
    const child = value[key];
    if (Array.isArray(child)) {
      for (let i = 0; i < child.length; i++) child[i] = replaced(child[i], type, placeholders);
    } else {
      value[key] = replaced(child, type, placeholders);
    }
  }
}

function replaced(value: unknown, type: string, placeholders: ReadonlyMap<string, string>): unknown {
  if (typeof value === 'string') {
    if (LINK_TYPES.has(type)) return placeholders.get(value) ?? value;
    if (type === 'xhtml') return value.replace(NARRATIVE_LINK, (all, head: string, double?: string, single?: string) => {
      const target = placeholders.get(double ?? single ?? '');
      if (!target) return all;
      return double !== undefined ? `${head}"${target}"` : `${head}'${target}'`;
    });
    return value;
  }
  if (!value || typeof value !== 'object' || Array.isArray(value) || PRIMITIVE.test(type)) return value;
  const json = value as Json;
  if (type === 'Resource') {
    // A contained resource or a Bundle entry's resource: walked as its own type.
    if (typeof json.resourceType === 'string' && isResourceType(json.resourceType)) walk(json, getDataType(json.resourceType), inBundleScope(json, placeholders));
    return value;
  }
  walk(json, getDataType(type), placeholders);
  return value;
}

/** A namespace or identity element, or a resource's own canonical `url`. */
function isIdentity(schema: InternalTypeSchema, key: string): boolean {
  return IDENTITY_ELEMENTS.has(`${schema.name}.${key}`) || (key === 'url' && schema.kind === 'resource');
}

