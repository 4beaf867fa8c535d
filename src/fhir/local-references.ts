/**
 * R4 ref-1 (references.html#contained): "SHALL have a contained resource if a local reference is
 * provided". A reference `#o1` names a resource in the `contained` list of the resource that
 * holds it (a contained resource's own `#x` names a sibling; `#` alone the container). @medplum/core
 * does not check it (its expression needs %rootResource), so a patch renaming `contained[0].id`
 * could leave `managingOrganization` pointing at nothing.
 * And R4 dom-3, the other way: "If the resource is contained in another resource, it SHALL be
 * referred to from elsewhere in the resource or SHALL refer to the containing resource": a
 * contained resource nothing names (`#id` as a reference, canonical or uri anywhere in the
 * resource) and that names no `#` is an orphan, and refused.
 * A conditional reference (`Patient?identifier=x`, a search in a reference's place) is resolved
 * "in a transaction (and only in a transaction)" (R4 http.html#trules, bundle.ts): anywhere else
 * (a create, an update, a batch entry) it names no resource, and is refused rather than stored.
 */
import { getDataType, type InternalTypeSchema } from '@medplum/core';
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { isResourceType } from './definitions.js';
import { elementType } from './schema-elements.js';

type Json = Record<string, unknown>;

/** A search URI in a reference's place (`Patient?identifier=x`; `Patient?` too). */
const CONDITIONAL_REFERENCE = /^[A-Z][A-Za-z]+\?/;

/** Types whose values name a contained resource for dom-3 (besides Reference.reference). */
const LINK_TYPES = new Set(['uri', 'url', 'canonical']);

/** An error issue for each local reference that names no contained resource; resources in a Bundle or Parameters are checked each on their own. */
export function localReferenceIssues(resource: Json): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  checkRoot(resource, issues);
  return issues;
}

function checkRoot(root: Json, issues: OperationOutcomeIssue[]): void {
  const contained = Array.isArray(root.contained) ? root.contained.filter((c): c is Json => !!c && typeof c === 'object') : [];
  const ids = new Set(contained.map((c) => c.id).filter((id): id is string => typeof id === 'string'));
  const inContained = new Set<unknown>(contained);
  const stack: Array<{ node: unknown; path: string }> = [{ node: root, path: String(root.resourceType ?? '') }];
  while (stack.length && issues.length < 100) {
    const { node, path } = stack.pop()!;
    if (!node || typeof node !== 'object') continue;
    if (node !== root && !inContained.has(node) && typeof (node as Json).resourceType === 'string') {
      checkRoot(node as Json, issues); // a Bundle entry's or a Parameters' resource: its own container
      continue;
    }
    const entries = Array.isArray(node) ? node.map((child, i) => [`[${i}]`, child] as const) : Object.entries(node).map(([key, child]) => [`.${key}`, child] as const);
    for (const [step, child] of entries) {
      if (step === '.reference' && typeof child === 'string' && child.length > 1 && child.startsWith('#') && !ids.has(child.slice(1))) {
        issues.push({
          severity: 'error', code: 'invariant', expression: [`${path}.reference`],
          details: { text: `local reference ${child.slice(0, 70)} names no contained resource (ref-1): contain a resource with id "${child.slice(1, 65)}", or refer to it by Type/id` },
        });
      } else if (step === '.reference' && typeof child === 'string' && CONDITIONAL_REFERENCE.test(child)) {
        issues.push({
          severity: 'error', code: 'value', expression: [`${path}.reference`],
          details: { text: `${child.slice(0, 70)} is a conditional reference (a search): only a transaction resolves one (http.html#trules); refer to the resource as Type/id, or send the write in a transaction` },
        });
      } else if (child && typeof child === 'object') {
        stack.push({ node: child, path: `${path}${step}` });
      }
    }
  }
  /** `#x` values of the resource's references, canonicals, uris and urls, and the contained resources that name `#`. */
  const named = new Set<string>();
  const namingContainer = new Set<unknown>();
  collectLocalNames(root, named, namingContainer, inContained);
  contained.forEach((resource, index) => {
    if (issues.length >= 100 || namingContainer.has(resource) || (typeof resource.id === 'string' && named.has(resource.id))) return;
    issues.push({
      severity: 'error', code: 'invariant', expression: [`${String(root.resourceType ?? '')}.contained[${index}]`],
      details: { text: `contained resource ${String(resource.resourceType ?? '')}${typeof resource.id === 'string' ? `/${resource.id.slice(0, 64)}` : ''} is referred to from nowhere in the resource, nor refers to it (dom-3): refer to it as "#${typeof resource.id === 'string' ? resource.id.slice(0, 64) : 'id'}", or leave it out` },
    });
  });
}

/**
 * dom-3's namings, by element type as its expression reads them (`descendants().reference`, and
 * every value `as(canonical)`, `as(uri)`, `as(url)`, whatever the element is called: ValueSet
 * compose.include.system, ConceptMap group.source, valueUri): `#id` names a contained resource,
 * `#` in a contained resource names its container. A string or code reading `#id` names nothing.
 */
function collectLocalNames(root: Json, named: Set<string>, namingContainer: Set<unknown>, inContained: ReadonlySet<unknown>): void {
  if (typeof root.resourceType !== 'string' || !isResourceType(root.resourceType)) return;
  const stack: Array<{ node: Json; schema: InternalTypeSchema; owner: unknown }> = [{ node: root, schema: getDataType(root.resourceType), owner: undefined }];
  let visited = 0;
  while (stack.length && visited++ < 100_000) {
    const { node, schema, owner } = stack.pop()!;
    for (const [key, value] of Object.entries(node)) {
      const type = key === 'reference' ? 'reference' : elementType(schema, key);
      if (!type) continue;
      for (const item of Array.isArray(value) ? value : [value]) {
        if (typeof item === 'string') {
          if (!item.startsWith('#') || (type !== 'reference' && !LINK_TYPES.has(type))) continue;
          if (item === '#') {
            if (owner !== undefined) namingContainer.add(owner);
          } else named.add(item.slice(1));
        } else if (item && typeof item === 'object' && !Array.isArray(item) && !/^[a-z]/.test(type)) {
          const json = item as Json;
          if (type === 'Resource') {
            // A contained resource is walked as its own type, its namings its own; another resource (a Bundle's) is its own root.
            if (inContained.has(json) && typeof json.resourceType === 'string' && isResourceType(json.resourceType)) stack.push({ node: json, schema: getDataType(json.resourceType), owner: json });
          } else {
            stack.push({ node: json, schema: getDataType(type), owner });
          }
        }
      }
    }
  }
}
