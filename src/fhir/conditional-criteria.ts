/**
 * The criteria of a conditional interaction (If-None-Exist, conditional update, patch and delete,
 * a transaction's ifNoneExist and conditional references): the search parameters that select the
 * resources. Result parameters shape a search's answer and select nothing (R4 search.html
 * "Modifying Search Results", http.html general parameters), so they are dropped: left in,
 * `_summary=count` or `_count=0` would return no resource and a conditional create would add a
 * duplicate, a conditional delete delete nothing.
 */

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
