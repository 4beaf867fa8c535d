/**
 * POST /transactions (admins), as OpenHIM's addTransaction: a transaction recorded elsewhere (a
 * mediator, an import) stored in the log. Checked here so that every stored row is one the log's
 * columns take (a date for the request time, an integer status, a known transaction status); the
 * body's size is the API's body limit (OPENHIM_API_BODY_LIMIT_BYTES), as for every admin body, and
 * each stored body is cut at OPENHIM_MAX_STORED_BODY_BYTES as the router cuts it (OpenHIM cuts at
 * api.maxBodiesSizeMB the same way: a cut request body cannot be rerun).
 */
import { z } from 'zod';
import { newObjectId } from '../ids.js';
import { storedNumber, TRANSACTION_STATUSES, type Transaction } from '../models.js';
import { parseBody } from '../validation.js';
import { parseTimestamp } from './query-filters.js';
import { storedBody } from '../router/bodies.js';

/** An instant as ISO text (what the log's timestamptz column and the API return). */
const instant = z.union([z.string().max(64), z.number()]).transform((value, ctx) => {
  try {
    return parseTimestamp(value, 'timestamp') ?? z.NEVER;
  } catch (error) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: (error as Error).message });
    return z.NEVER;
  }
});
const id = z.string().min(1).max(200);
const headers = z.record(z.union([z.string(), z.array(z.string())])).default({});
const error = z.object({ message: z.string(), stack: z.string().optional() }).passthrough();

const request = z
  .object({
    host: z.string().max(1000).optional(),
    port: z.union([z.string().max(10), z.number().int().min(0).max(65535)]).optional(),
    path: z.string().default(''),
    headers,
    querystring: z.string().default(''),
    body: z.string().optional(),
    method: z.string().max(20).default(''),
    timestamp: instant,
  })
  .passthrough();
const response = z
  .object({ status: storedNumber(z.number().int().min(100).max(999)), headers, body: z.string().optional(), timestamp: instant.optional() })
  .passthrough();
/** Routes and orchestrations: OpenHIM's shape, their request and response timestamps dates when given. */
const part = z
  .object({
    name: z.string().max(1000),
    request: request.partial().passthrough().optional(),
    response: response.partial().passthrough().optional(),
    error: error.optional(),
  })
  .passthrough();

const transactionSchema = z
  .object({
    clientID: id.optional(),
    clientIP: z.string().max(100).optional(),
    channelID: id.optional(),
    parentID: id.optional(),
    childIDs: z.array(id).default([]),
    request,
    response: response.optional(),
    routes: z.array(part.extend({ orchestrations: z.array(part).optional() })).default([]),
    orchestrations: z.array(part).default([]),
    properties: z.record(z.unknown()).optional(),
    canRerun: z.boolean().default(true),
    wasRerun: z.boolean().optional(),
    autoRetry: z.boolean().default(false),
    autoRetryAttempt: z.number().int().min(0).max(1_000_000).optional(),
    error: error.optional(),
    status: z.enum(TRANSACTION_STATUSES).default('Processing'),
  })
  .passthrough();

/** A transaction's request as an update (PUT /transactions/:id) may give it: any of its fields. */
export const requestUpdateSchema = request.partial().passthrough();
export const clientIdSchema = id;

type Part = { body?: string; bodyTruncated?: boolean } | undefined;

/** The part with its body cut at `cap` bytes and marked, as the router stores bodies; whether it was cut. */
export function capBody<T extends Part>(part: T, cap: number): [T, boolean] {
  if (!part || typeof part.body !== 'string') return [part, false];
  const stored = storedBody(part.body, true, cap);
  return stored.bodyTruncated ? [{ ...part, ...stored }, true] : [part, false];
}

function capParts<T extends { request?: Part; response?: Part }>(parts: T[], cap: number): T[] {
  return parts.map((p) => ({ ...p, request: capBody(p.request, cap)[0], response: capBody(p.response, cap)[0] }));
}

/**
 * The transaction a POST body describes, with a new `_id` (a given `_id` is not taken: ids are
 * the log's) and its bodies cut at `maxStoredBodyBytes`.
 */
export function transactionFromBody(body: unknown, maxStoredBodyBytes: number): Transaction {
  const { _id: _ignored, ...input } = (body && typeof body === 'object' && !Array.isArray(body) ? body : {}) as Record<string, unknown>;
  const parsed = parseBody(transactionSchema, body === null || typeof body !== 'object' || Array.isArray(body) ? body : input, 'transaction') as unknown as Transaction;
  const [request, requestCut] = capBody(parsed.request, maxStoredBodyBytes);
  const [response] = capBody(parsed.response, maxStoredBodyBytes);
  return {
    ...parsed,
    _id: newObjectId(),
    request,
    ...(response ? { response } : {}),
    routes: capParts(parsed.routes, maxStoredBodyBytes).map((r) => ({ ...r, ...(r.orchestrations ? { orchestrations: capParts(r.orchestrations, maxStoredBodyBytes) } : {}) })),
    orchestrations: capParts(parsed.orchestrations, maxStoredBodyBytes),
    ...(requestCut ? { canRerun: false } : {}),
  };
}
