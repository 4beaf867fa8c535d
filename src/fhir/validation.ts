/**
 * Validation of every resource the engine stores: shape checks the engine needs (type, id), then
 * the R4 StructureDefinitions through @medplum/core (cardinality, data types, constraints), the
 * narratives' XHTML (narrative.ts: txt-1, txt-2), then the bindings (bindings.ts: required ones refuse, extensible ones warn). Each problem is an issue
 * naming the element path.
 */
import { OperationOutcomeError, evalFhirPath, validateResource } from '@medplum/core';
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { checkRequiredBindings, type CodingVerdicts } from './bindings.js';
import { datatypeInvariantIssues } from './datatype-invariants.js';
import { localReferenceIssues } from './local-references.js';
import { integerRangeIssues } from './integer-range.js';
import { isError, jsonShapeIssues } from './json-shape.js';
import { isResourceType, loadDefinitions } from './definitions.js';
import { narrativeIssues } from './narrative.js';
import { FhirError, badRequest } from './outcome.js';

export const ID_PATTERN = /^[A-Za-z0-9\-.]{1,64}$/;

/**
 * Member names that reach Object.prototype when used as a key on a plain object (`__proto__`,
 * `constructor`, `toString`...) and `prototype`. No FHIR element has one of these names, nor a
 * primitive companion of one (`_constructor`), so a body that uses one is refused before any code
 * walks it.
 */
export const RESERVED_KEYS: ReadonlySet<string> = new Set([...Object.getOwnPropertyNames(Object.prototype), 'prototype']);

/** A member path for messages, as FHIR names elements: `Patient.name[0].family`. */
export function elementPath(parent: string, key: string | number): string {
  return typeof key === 'number' ? `${parent}[${key}]` : `${parent}.${key}`;
}

interface Visit {
  node: unknown;
  parent?: Visit;
  key?: string | number;
}

/** The path of a visited node, built only when a message needs it. */
function pathOf(visit: Visit, root: string): string {
  const keys: Array<string | number> = [];
  for (let v: Visit | undefined = visit; v?.key !== undefined; v = v.parent) keys.push(v.key);
  return keys.reverse().reduce<string>((path, key) => elementPath(path, key), root);
}

/** The path of the first member named like an Object.prototype member, or undefined. */
export function findReservedKey(value: unknown, root: string): string | undefined {
  const stack: Visit[] = [{ node: value }];
  while (stack.length) {
    const visit = stack.pop()!;
    const node = visit.node;
    if (!node || typeof node !== 'object') continue;
    if (Array.isArray(node)) {
      node.forEach((child, index) => stack.push({ node: child, parent: visit, key: index }));
      continue;
    }
    for (const key of Object.keys(node)) {
      // `_constructor`: a primitive's companion is looked up by the name after its underscore.
      if (RESERVED_KEYS.has(key) || (key.charCodeAt(0) === 0x5f && RESERVED_KEYS.has(key.slice(1)))) return pathOf({ node: undefined, parent: visit, key }, root);
      const child = (node as Record<string, unknown>)[key];
      if (child && typeof child === 'object') stack.push({ node: child, parent: visit, key });
    }
  }
  return undefined;
}

export function assertResourceType(type: string): void {
  if (!isResourceType(type)) {
    throw new FhirError(404, 'FHIR_UNKNOWN_TYPE', `"${type.slice(0, 64)}" is not a FHIR R4 resource type`);
  }
}

export function assertId(id: string): void {
  if (!ID_PATTERN.test(id)) {
    throw new FhirError(400, 'FHIR_INVALID_ID', `"${id.slice(0, 80)}" is not a valid id: use 1-64 letters, digits, "-" and "."`);
  }
}

/** 400 naming the element when a resource has a member named like an Object.prototype member. */
function assertNoReservedKeys(resource: object, resourceType: string): void {
  const reserved = findReservedKey(resource, resourceType);
  if (reserved) {
    throw badRequest(`${reserved.slice(0, 200)}: "${reserved.slice(reserved.lastIndexOf('.') + 1)}" is not a FHIR element`, 'FHIR_INVALID_RESOURCE');
  }
}

/** Checks that a request body is a resource of the expected type (when one is expected). */
export function assertResourceBody(body: unknown, expectedType?: string): Resource {
  if (body === undefined) {
    throw badRequest('the request has no body: send the resource as FHIR JSON (application/fhir+json) or FHIR XML (application/fhir+xml)', 'FHIR_INVALID_RESOURCE');
  }
  // Only a JSON body can be anything but an object: an XML body is always read into one.
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest('the request body must be a FHIR resource (a JSON object)', 'FHIR_INVALID_RESOURCE');
  }
  const resourceType = (body as { resourceType?: unknown }).resourceType;
  if (typeof resourceType !== 'string') throw badRequest('the resource has no resourceType', 'FHIR_INVALID_RESOURCE');
  if (!isResourceType(resourceType)) {
    throw badRequest(`"${resourceType.slice(0, 64)}" is not a FHIR R4 resource type`, 'FHIR_INVALID_RESOURCE');
  }
  if (expectedType && resourceType !== expectedType) {
    throw badRequest(`the resource is a ${resourceType} but the URL is for ${expectedType}`, 'FHIR_INVALID_RESOURCE');
  }
  assertNoReservedKeys(body, resourceType);
  const id = (body as { id?: unknown }).id;
  if (id !== undefined && (typeof id !== 'string' || !ID_PATTERN.test(id))) {
    throw new FhirError(400, 'FHIR_INVALID_ID', 'the resource id is not valid: use 1-64 letters, digits, "-" and "."');
  }
  return body as Resource;
}

/**
 * Validates against the base R4 StructureDefinition; throws a 400 listing every error. `verdicts`
 * are the engine terminology's answers about the resource's bound codings (binding-verdicts.ts);
 * without them the core value sets judge.
 */
export function validateAgainstDefinitions(resource: Resource, verdicts?: CodingVerdicts): OperationOutcomeIssue[] {
  loadDefinitions();
  // @medplum/core looks element names up on plain objects: `constructor` passes it unchecked.
  assertNoReservedKeys(resource, resource.resourceType);
  // Lists, objects and nulls where FHIR JSON puts none (json-shape.ts).
  const shape = jsonShapeIssues(resource);
  let issues: OperationOutcomeIssue[];
  try {
    issues = validateResource(resource);
  } catch (error) {
    if (error instanceof OperationOutcomeError) issues = error.outcome.issue ?? [];
    else if (shape.some(isError)) issues = []; // tripped on a misshapen element: the shape's issues say what is wrong
    else throw new FhirError(400, 'FHIR_INVALID_RESOURCE', `invalid ${resource.resourceType}: ${(error as Error).message}`);
  }
  issues = issues.filter((issue) => !isLenientBase64(resource, issue)).map(referenceTargetIsError);
  if (shape.some(isError)) {
    // The definitions' other faults are reported with the shape's (a bad date beside a misshapen name);
    // their words for the same misshapen elements are not, and the checks below would walk them.
    issues = [...shape, ...issues.filter((issue) => !SAID_BY_SHAPE.test(issue.details?.text ?? ''))];
  } else {
    // txt-1/txt-2 (narrative.ts): @medplum/core does not check the XHTML of narratives, nor the
    // invariants of data types (datatype-invariants.ts: qty-3, per-1, rng-2...).
    issues = [...shape, ...issues, ...datatypeInvariantIssues(resource), ...integerRangeIssues(resource), ...narrativeIssues(resource, resource.resourceType), ...localReferenceIssues(resource as unknown as Record<string, unknown>),
      ...checkRequiredBindings(resource, verdicts)];
  }
  const errors = issues.filter((i) => i.severity === 'error' || i.severity === 'fatal');
  if (errors.length) {
    const where = errors.map((i) => `${i.expression?.[0] ?? '?'}: ${i.details?.text ?? i.diagnostics ?? ''}`).slice(0, 5);
    throw new FhirError(400, 'FHIR_INVALID_RESOURCE', `invalid ${resource.resourceType}: ${where.join('; ')}`, errors);
  }
  return issues;
}

/** @medplum/core's words for faults json-shape.ts names itself (a list for one value, an object for a string...). */
const SAID_BY_SHAPE = /^(Expected (array of values|single value) for property|Invalid additional property|Invalid empty (non-primitive )?value|Invalid JSON type|Invalid null value|Primitive extension must be an object)/;

/**
 * @medplum/core reports a reference to a type the element does not allow (an Observation.subject
 * pointing at a Medication) as a warning; R4 makes the target types part of the definition, so
 * the engine refuses such a resource.
 */
function referenceTargetIsError(issue: OperationOutcomeIssue): OperationOutcomeIssue {
  if (issue.severity !== 'warning') return issue;
  // Only a relative Type/id names its type for sure; urn:uuid, absolute and other forms stay warnings.
  const got = /^Invalid reference: got "([^"]*)"/.exec(issue.details?.text ?? '')?.[1];
  return got && isResourceType(got) ? { ...issue, severity: 'error' } : issue;
}

/**
 * R4 bounds a string at 1 MB, not a base64Binary: a PDF or an image in Binary.data or an
 * Attachment's data is bigger (the body limit bounds it). @medplum/core applies the string bound
 * to both, and checks nothing else of a value past it: its base64 is checked here, in one pass.
 */
function isLargeBase64(resource: Resource, issue: OperationOutcomeIssue): boolean {
  const path = issue.expression?.[0];
  if (!path || !/\.data$/.test(path)) return false; // Binary.data, Attachment.data, Signature.data: base64Binary
  try {
    const values = evalFhirPath(path, resource);
    return values.length > 0 && values.every((v) => typeof v === 'string' && isBase64Text(v));
  } catch {
    return false;
  }
}

/** Base64 (whitespace between characters allowed, as R4's examples have it), without a backtracking pattern. */
function isBase64Text(value: string): boolean {
  const bare = value.replace(/\s+/g, '');
  return bare.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(bare);
}

/** R4's base64Binary allows whitespace between groups (as in the official examples); @medplum/core does not. */
const R4_BASE64 = /^(\s*([0-9a-zA-Z+/=]){4}\s*)+$/;

function isLenientBase64(resource: Resource, issue: OperationOutcomeIssue): boolean {
  if (issue.details?.text === 'String cannot be larger than 1 MB') return isLargeBase64(resource, issue);
  if (issue.details?.text !== 'Invalid base64Binary format' || !issue.expression?.[0]) return false;
  try {
    const values = evalFhirPath(issue.expression[0], resource);
    return values.length > 0 && values.every((v) => typeof v === 'string' && R4_BASE64.test(v));
  } catch {
    return false;
  }
}
