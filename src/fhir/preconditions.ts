/**
 * HTTP preconditions on a resource's version (RFC 9110 section 13.1, FHIR R4 http.html#concurrency):
 * If-Match and If-None-Match with `*` or a list of entity tags (`W/"1", W/"4"`). A resource's
 * entity tag is its versionId; FHIR uses weak tags, so `W/"3"` and `"3"` name the same version.
 */
import { FhirError, badRequest } from './outcome.js';

/** What a precondition is checked against: the current row (a deleted resource has no current representation). */
export interface CurrentVersion {
  version: number;
  deleted: boolean;
}

/** `*`, or the versions a list of entity tags names. */
type TagList = '*' | string[];

/** RFC 9110: `If-Match = "*" / #entity-tag`; FHIR clients also send the bare version (`3`). */
export function parseEntityTags(header: string, name: string): TagList {
  const text = header.trim();
  if (text === '*') return '*';
  const tags: string[] = [];
  for (const part of text.split(',')) {
    const tag = part.trim();
    if (!tag) continue;
    const m = /^(?:W\/)?"([^"]*)"$/.exec(tag) ?? /^([A-Za-z0-9\-.]{1,64})$/.exec(tag);
    if (!m) throw badRequest(`${name} must be * or entity tags such as W/"3", got "${header.slice(0, 80)}"`, 'FHIR_BAD_REQUEST');
    tags.push(m[1]!);
  }
  if (!tags.length) throw badRequest(`${name} must be * or entity tags such as W/"3"`, 'FHIR_BAD_REQUEST');
  return tags;
}

const exists = (current: CurrentVersion | undefined): current is CurrentVersion => current !== undefined && !current.deleted;

/** Whether the tags name the current version (`*`: any current version). */
function tagsMatch(tags: TagList, current: CurrentVersion | undefined): boolean {
  if (!exists(current)) return false;
  return tags === '*' || tags.includes(String(current.version));
}

/**
 * If-Match on a write (update, conditional update, patch, delete): true when the resource exists
 * and one tag names its current version (`*`: it exists). A false one is 412 and nothing is done.
 */
export function checkIfMatch(ifMatch: string | undefined, current: CurrentVersion | undefined, what: string): void {
  if (ifMatch === undefined) return;
  if (tagsMatch(parseEntityTags(ifMatch, 'If-Match'), current)) return;
  throw new FhirError(412, 'FHIR_PRECONDITION_FAILED',
    `If-Match ${ifMatch.slice(0, 80)} does not match ${what}: ` +
    (exists(current) ? `its current version is ${current.version}` : 'it does not exist') + '; nothing was changed');
}

/**
 * If-None-Match on a write: false when one tag names the current version, so `If-None-Match: *`
 * makes a PUT create-only (412 when the resource exists; RFC 9110 13.1.2).
 */
export function checkIfNoneMatch(ifNoneMatch: string | undefined, current: CurrentVersion | undefined, what: string): void {
  if (ifNoneMatch === undefined) return;
  if (!tagsMatch(parseEntityTags(ifNoneMatch, 'If-None-Match'), current)) return;
  throw new FhirError(412, 'FHIR_PRECONDITION_FAILED',
    `If-None-Match ${ifNoneMatch.slice(0, 80)}: ${what} exists (version ${current!.version}); nothing was changed`);
}

/**
 * If-None-Match on a read: true (answer 304) when one tag names the current version, or `*` and
 * it exists. A read is safe, so a header it cannot parse only means the full answer (200).
 */
export function notModified(ifNoneMatch: string, version: number): boolean {
  let tags: TagList;
  try {
    tags = parseEntityTags(ifNoneMatch, 'If-None-Match');
  } catch {
    return false;
  }
  return tagsMatch(tags, { version, deleted: false });
}
