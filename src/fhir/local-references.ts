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
 */
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';

type Json = Record<string, unknown>;

/**
 * Members whose values can name a contained resource for dom-3 (its expression looks at
 * `reference` and at values of type canonical, uri and url): Reference.reference, the uri-typed
 * `url`, and elements named for those types (`valueUri`, `instantiatesCanonical`, `definitionUrl`).
 * A plain string or code that happens to read `#id` names nothing.
 */
const LINKING_MEMBER = /^(?:reference|url|uri|canonical|[a-z][A-Za-z]*(?:Uri|Url|Canonical))$/;

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
  /** `#x` values anywhere in the resource (references, canonicals, uris), and the contained resources that name `#`. */
  const named = new Set<string>();
  const namingContainer = new Set<unknown>();
  const stack: Array<{ node: unknown; path: string; within?: unknown; key?: string }> = [{ node: root, path: String(root.resourceType ?? '') }];
  while (stack.length && issues.length < 100) {
    const { node, path, within, key } = stack.pop()!;
    if (!node || typeof node !== 'object') continue;
    if (node !== root && !inContained.has(node) && typeof (node as Json).resourceType === 'string') {
      checkRoot(node as Json, issues); // a Bundle entry's or a Parameters' resource: its own container
      continue;
    }
    const owner = inContained.has(node) ? node : within;
    const entries = Array.isArray(node) ? node.map((child, i) => [`[${i}]`, child] as const) : Object.entries(node).map(([key, child]) => [`.${key}`, child] as const);
    for (const [step, child] of entries) {
      // The member holding the value: a list's items are its member's values.
      const member = Array.isArray(node) ? key : step.slice(1);
      if (typeof child === 'string' && child.startsWith('#') && member !== undefined && LINKING_MEMBER.test(member)) {
        if (child === '#') {
          if (owner !== undefined) namingContainer.add(owner);
        } else named.add(child.slice(1));
      }
      if (step === '.reference' && typeof child === 'string' && child.length > 1 && child.startsWith('#') && !ids.has(child.slice(1))) {
        issues.push({
          severity: 'error', code: 'invariant', expression: [`${path}.reference`],
          details: { text: `local reference ${child.slice(0, 70)} names no contained resource (ref-1): contain a resource with id "${child.slice(1, 65)}", or refer to it by Type/id` },
        });
      } else if (child && typeof child === 'object') {
        stack.push({ node: child, path: `${path}${step}`, within: owner, ...(member !== undefined ? { key: member } : {}) });
      }
    }
  }
  contained.forEach((resource, index) => {
    if (issues.length >= 100 || namingContainer.has(resource) || (typeof resource.id === 'string' && named.has(resource.id))) return;
    issues.push({
      severity: 'error', code: 'invariant', expression: [`${String(root.resourceType ?? '')}.contained[${index}]`],
      details: { text: `contained resource ${String(resource.resourceType ?? '')}${typeof resource.id === 'string' ? `/${resource.id.slice(0, 64)}` : ''} is referred to from nowhere in the resource, nor refers to it (dom-3): refer to it as "#${typeof resource.id === 'string' ? resource.id.slice(0, 64) : 'id'}", or leave it out` },
    });
  });
}
