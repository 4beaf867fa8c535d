/**
 * R4 ref-1 (references.html#contained): "SHALL have a contained resource if a local reference is
 * provided". A reference `#o1` names a resource in the `contained` list of the resource that
 * holds it (a contained resource's own `#x` names a sibling; `#` alone the container). @medplum/core
 * does not check it (its expression needs %rootResource), so a patch renaming `contained[0].id`
 * could leave `managingOrganization` pointing at nothing.
 */
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';

type Json = Record<string, unknown>;

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
      } else if (child && typeof child === 'object') {
        stack.push({ node: child, path: `${path}${step}` });
      }
    }
  }
}
