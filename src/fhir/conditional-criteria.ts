/**
 * The criteria of a conditional interaction (If-None-Exist, conditional update, patch and delete,
 * a transaction's ifNoneExist and conditional references): the search parameters that select the
 * resources. Result parameters shape a search's answer and select nothing (R4 search.html
 * "Modifying Search Results", http.html general parameters), so they are dropped: left in,
 * `_summary=count` or `_count=0` would return no resource and a conditional create would add a
 * duplicate, a conditional delete delete nothing.
 */

import { badRequest } from './outcome.js';
import { isEmptyValue } from './search/parse.js';

/** R4 result parameters, the general _format/_pretty, and this server's paging parameters. */
const RESULT_PARAMETERS = new Set([
  '_sort', '_count', '_include', '_revinclude', '_summary', '_total', '_elements', '_contained', '_containedType',
  '_format', '_pretty', '_offset', '_cursor', '_snapshot',
]);

/**
 * The selecting part of a conditional's query (`_include:iterate` is a result parameter too). A
 * parameter with no value (`identifier=`, `name=,`) selects nothing (search ignores it), so it
 * does not count: a `DELETE Patient?identifier=` must not read as "every Patient" and delete the
 * only one.
 */
export function selectingCriteria(query: ReadonlyArray<[string, string]>): Array<[string, string]> {
  return query.filter(([key, value]) => !isEmptyValue(value) && !RESULT_PARAMETERS.has(key.trim().split(':')[0]!));
}

/**
 * An If-None-Exist header as search pairs. R4 gives the query part only (`identifier=x|1`); HAPI
 * also takes it with its `?`, after the type (`Patient?identifier=x|1`) or a whole search URL
 * (`http://host/fhir/Patient?...`), as clients copy it from a search: so does this server, when
 * the type is the one created.
 */
export function ifNoneExistQuery(type: string, header: string): Array<[string, string]> {
  const mark = header.indexOf('?');
  let query = header;
  if (mark >= 0) {
    const before = header.slice(0, mark);
    const named = /^https?:\/\//i.test(before) ? before.slice(before.lastIndexOf('/') + 1) : before.replace(/^\//, '');
    if (named !== type && before !== '') throw badRequest(`If-None-Exist names ${named.slice(0, 64) || 'no type'} but the resource created is a ${type}: give the query part only, e.g. identifier=system|value`);
    query = header.slice(mark + 1);
  }
  return [...new URLSearchParams(query)] as Array<[string, string]>;
}
