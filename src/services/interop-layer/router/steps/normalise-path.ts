/**
 * The path is read once, here, before anything looks at it: channel matching, authorisation,
 * the log and the upstream request all see the same normalised path (see request-path.ts).
 * A path that could be read two ways is a 400.
 */
import { halt, textResponse, type Exchange } from '../exchange.js';
import { normaliseRequestPath, refusedQuery } from '../request-path.js';

export function normalisePath(exchange: Exchange): void {
  const result = normaliseRequestPath(exchange.request.path);
  const queryProblem = refusedQuery(exchange.request.querystring);
  if (!result.ok) halt(exchange, textResponse(400, `Bad request path: ${result.reason}`));
  else if (queryProblem) halt(exchange, textResponse(400, `Bad request target: ${queryProblem}`));
  else exchange.request.path = result.path;
}
