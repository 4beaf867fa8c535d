/**
 * The transaction log API: OpenHIM's filters (JSON in `filters`), representations and paging,
 * newest first; PUT lets an asynchronous mediator add routes and set the final status.
 */
import { refuseTooManyParts } from '../transaction-parts.js';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { IolDeps } from '../deps.js';
import { badRequest, forbidden, notFound, missing } from '../errors.js';
import { storedNumber, TRANSACTION_STATUSES, type Channel, type Transaction, type User } from '../models.js';
import type { TransactionQuery } from '../store/transactions.js';
import { parseBody } from '../validation.js';
import { isAdmin, userOf } from './auth.js';
import { auditChange } from './common.js';
import type { ScopedRoutes } from './scopes.js';
import { asJson, checkStorable, filterValues, filtersObject, isRegexRefusal, parseFilterRegex, parsePaging, instantRange } from './query-filters.js';
import { mayHoldUnstorable } from '../store/storable.js';
import { capBody, clientIdSchema, requestUpdateSchema, transactionFromBody } from './transaction-create.js';
import { settlePendingAsyncTasks } from './pending-async-tasks.js';
import { reachedMaxAttempts } from '../retry-attempts.js';

const REPRESENTATIONS = ['full', 'fulltruncate', 'simpledetails', 'simple', 'bulkrerun'] as const;
/** fulltruncate, as OpenHIM's defaults (api.truncateSize, api.truncateAppend): each body cut to this many characters. */
const TRUNCATE_SIZE = 15_000;
const TRUNCATE_APPEND = '\n[truncated ...]';
type Representation = (typeof REPRESENTATIONS)[number];

interface ListQuery {
  filterLimit?: string;
  filterPage?: string;
  filterRepresentation?: string;
  filters?: string;
  channelID?: string;
}

type BodyPart = { body?: string; bodyBase64?: string } | undefined;

/**
 * The transaction with `change` applied to every request and response it holds (its own, its
 * routes', its orchestrations', and those of the orchestrations a mediator on a route reported).
 */
function withEachPart(tx: Transaction, change: <T extends BodyPart>(part: T) => T): Transaction {
  // An entry that is no object (logged from a mediator before the router left such entries out) is kept as it is.
  const each = (orchestrations: Transaction['orchestrations']) => orchestrations.map((o) => (o && typeof o === 'object' ? { ...o, request: change(o.request), response: change(o.response) } : o));
  return {
    ...tx,
    request: change(tx.request),
    response: change(tx.response),
    routes: tx.routes.map((r) => ({ ...r, request: change(r.request), response: change(r.response), ...(Array.isArray(r.orchestrations) ? { orchestrations: each(r.orchestrations) } : {}) })),
    orchestrations: each(tx.orchestrations),
  };
}

function stripBodies(tx: Transaction): Transaction {
  return withEachPart(tx, <T extends BodyPart>(part: T): T => {
    if (!part || typeof part !== 'object') return part;
    const { body: _b, bodyBase64: _e, ...rest } = part;
    return rest as T;
  });
}

/** Every body longer than TRUNCATE_SIZE characters cut there and marked, as OpenHIM's fulltruncate. */
function truncateBodies(tx: Transaction): Transaction {
  return withEachPart(tx, <T extends BodyPart>(part: T): T =>
    part && typeof part.body === 'string' && part.body.length > TRUNCATE_SIZE ? { ...part, body: part.body.slice(0, TRUNCATE_SIZE) + TRUNCATE_APPEND } : part);
}

function represent(tx: Transaction, representation: Representation): Partial<Transaction> {
  switch (representation) {
    case 'full':
      return tx;
    case 'fulltruncate':
      return truncateBodies(tx);
    case 'simpledetails':
      return stripBodies(tx);
    case 'bulkrerun':
      return { _id: tx._id, childIDs: tx.childIDs, canRerun: tx.canRerun, channelID: tx.channelID, status: tx.status } as Partial<Transaction>;
    case 'simple': {
      const { routes: _r, orchestrations: _o, ...rest } = stripBodies(tx);
      return { ...rest, request: withoutHeaders(rest.request), ...(rest.response ? { response: withoutHeaders(rest.response) } : {}) };
    }
  }
}

function withoutHeaders<T extends { headers?: unknown }>(part: T): T {
  const { headers: _h, ...rest } = part;
  return rest as T;
}

/**
 * The representation asked for. As OpenHIM (getProjectionObject's default branch), none or one it
 * does not know is the simple view: lists are light unless a caller asks for more.
 */
export function representationOf(raw: unknown, fallback: Representation = 'simple'): Representation {
  if (raw === undefined || raw === '') return fallback;
  return typeof raw === 'string' && (REPRESENTATIONS as readonly string[]).includes(raw) ? (raw as Representation) : 'simple';
}

/** Filters on each route or orchestration, as OpenHIM's parseTransactionFilters and its console send them. */
const PART_FILTERS = ['request.path', 'request.querystring', 'request.host', 'request.port', 'response.status'] as const;
const TRANSACTION_FILTERS = [
  'channelID', 'clientID', 'status', 'request.timestamp', 'request.path', 'request.querystring', 'request.host', 'request.port', 'request.method', 'response.status', 'childIDs', 'properties',
  ...PART_FILTERS.map((f) => `routes.${f}`), ...PART_FILTERS.map((f) => `orchestrations.${f}`),
];
/** Properties one query may test (each is one condition on the document). */
export const MAX_PROPERTY_FILTERS = 20;

/** '2xx' or '404' as a regular expression on the status as text (a stored status may be a number or a string). */
function statusPattern(value: unknown, name: string): string {
  const status = String(value);
  if (!/^(?:[1-5]xx|[1-5]\d\d)$/i.test(status)) throw badRequest(`filter ${name} must be like 2xx or 404, not "${status.slice(0, 40)}"`);
  return /xx$/i.test(status) ? `^${status[0]}\\d\\d$` : `^${status}$`;
}

/**
 * `properties` as OpenHIM reads it: `{key: value}` matches the value, `{key: null}` a transaction
 * that has the property at all. Keys stay data (entries, never an object's own keys), so a key
 * such as `__proto__` touches no prototype.
 */
function addProperty(q: ParsedFilters, key: string, value: unknown): void {
  if (key.length === 0 || key.length > 200) throw badRequest('filter properties: a property name has 1 to 200 characters');
  const entries = (q.properties ??= []);
  if (entries.length >= MAX_PROPERTY_FILTERS) throw badRequest(`filter properties may test at most ${MAX_PROPERTY_FILTERS} properties`);
  entries.push({ key, value: value === null ? undefined : value });
}

type ParsedFilters = Omit<TransactionQuery, 'limit' | 'offset'>;

/** A filter matched exactly (host, port, method): a string or a number, up to 200 characters. */
function exactValue(value: unknown, name: string, shape?: { pattern: RegExp; what: string }): string {
  if ((typeof value !== 'string' && typeof value !== 'number') || String(value).length > 200) throw badRequest(`filter ${name} must be a string of up to 200 characters`);
  const text = String(value);
  if (shape && !shape.pattern.test(text)) throw badRequest(`filter ${name} must be ${shape.what}, not "${text.slice(0, 40)}"`);
  return text;
}

/**
 * The OpenHIM consoles' "Reruns" filter on childIDs, as Mongo conditions: {"$exists": true,
 * "$ne": []} (has reruns), {"$eq": []}, {"$size": 0} or {"$exists": false} (has none).
 */
function hasChildrenFilter(value: unknown): boolean {
  const v = asJson(value);
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    const c = v as Record<string, unknown>;
    const empty = (x: unknown) => Array.isArray(x) && x.length === 0;
    const keys = Object.keys(c);
    if (keys.every((k) => ['$exists', '$ne', '$eq', '$size'].includes(k)) && (c.$exists === undefined || typeof c.$exists === 'boolean')) {
      if (c.$exists === false || empty(c.$eq) || c.$size === 0) return false;
      if (c.$exists === true || empty(c.$ne)) return true;
    }
  }
  if (Array.isArray(v) && v.length === 0) return false;
  throw badRequest('filter childIDs must be {"$exists": true, "$ne": []} (reruns) or {"$eq": []}, {"$size": 0} or {"$exists": false} (none), as the OpenHIM consoles send it');
}

/** OpenHIM's `filters` JSON → our query, every filter checked. Unknown keys are refused so a typo does not list everything. */
export function parseFilters(raw: string | undefined | Record<string, unknown>): ParsedFilters {
  if (!raw) return {};
  const q: ParsedFilters = {};
  for (const [key, value] of Object.entries(filtersObject(raw))) {
    switch (key) {
      case 'channelID':
        q.channelIDs = filterValues(value, 'channelID', 1000);
        break;
      case 'clientID':
        if (typeof value !== 'string') throw badRequest('filter clientID must be a string');
        q.clientID = value;
        break;
      case 'status': {
        q.status = filterValues(value, 'status', 1000);
        const unknown = q.status.find((s) => !(TRANSACTION_STATUSES as readonly string[]).includes(s));
        if (unknown !== undefined) throw badRequest(`filter status "${unknown.slice(0, 40)}" is not a transaction status`, `use ${TRANSACTION_STATUSES.join(', ')}`);
        break;
      }
      case 'request.timestamp': {
        ({ from: q.from, to: q.to } = instantRange(asJson(value), 'filter request.timestamp'));
        break;
      }
      case 'request.path':
        q.path = parseFilterRegex(value, 'filter request.path');
        break;
      case 'request.querystring':
        q.querystring = parseFilterRegex(value, 'filter request.querystring');
        break;
      case 'request.host':
        q.host = exactValue(value, 'request.host');
        break;
      case 'request.port':
        q.port = exactValue(value, 'request.port', { pattern: /^\d{1,5}$/, what: 'a port number' });
        break;
      case 'request.method':
        q.method = exactValue(value, 'request.method', { pattern: /^[A-Za-z]{1,20}$/, what: 'an HTTP method such as GET' }).toUpperCase();
        break;
      case 'childIDs':
        q.hasChildren = hasChildrenFilter(value);
        break;
      case 'response.status': {
        statusPattern(value, 'response.status');
        q.responseStatus = String(value);
        break;
      }
      case 'properties': {
        const v = asJson(value);
        if (!v || typeof v !== 'object' || Array.isArray(v)) throw badRequest('filter properties must be an object like {"key": "value"}, or {"key": null} for "has the property"');
        for (const [name, wanted] of Object.entries(v)) addProperty(q, name, wanted);
        break;
      }
      default: {
        if (key.startsWith('properties.') && key.length > 'properties.'.length) {
          addProperty(q, key.slice('properties.'.length), value);
          break;
        }
        const part = /^(routes|orchestrations)\.(.+)$/.exec(key);
        const field = part?.[2] as (typeof PART_FILTERS)[number] | undefined;
        if (part && field && (PART_FILTERS as readonly string[]).includes(field)) {
          const pattern = field === 'response.status' ? statusPattern(value, key)
            : field === 'request.host' ? exactValue(value, key)
              : field === 'request.port' ? exactValue(value, key, { pattern: /^\d{1,5}$/, what: 'a port number' })
                : parseFilterRegex(value, `filter ${key}`);
          if (pattern !== undefined) (q.partFilters ??= []).push({ list: part[1] as 'routes' | 'orchestrations', field, pattern });
          break;
        }
        throw badRequest(`unknown transaction filter "${key.slice(0, 60)}"`, `use ${TRANSACTION_FILTERS.join(', ')}`);
      }
    }
  }
  return q;
}

/** The filters of a query that are regular expressions, by name (what a database refusal is about). */
function regexFilterNames(q: ParsedFilters): string[] {
  return [
    ...(q.path ? ['request.path'] : []),
    ...(q.querystring ? ['request.querystring'] : []),
    ...(q.partFilters ?? []).filter((p) => p.field === 'request.path' || p.field === 'request.querystring').map((p) => `${p.list}.${p.field}`),
  ];
}

/** Runs a query from user filters: PostgreSQL refusing a regular expression is the caller's 400, naming the filters. */
export async function withFilterErrors<T>(q: ParsedFilters, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (isRegexRefusal(error)) throw badRequest(`filter ${regexFilterNames(q).join(' or ')}: not a regular expression the database accepts: ${(error as Error).message}`);
    throw error;
  }
}

/** Ids from the URL: one that no query can take (NUL, lone surrogate) names nothing. */
function checkId(id: string, what: string): void {
  if (id.length > 200 || mayHoldUnstorable(JSON.stringify(id))) throw notFound(`${what} ${JSON.stringify(id.slice(0, 40))}`);
}

type WithOrchestrations = { orchestrations?: unknown[] };

/** Any user reads the transactions of the channels their groups may view; admins count, change and delete. */
export function transactionRoutes(deps: IolDeps): ScopedRoutes {
  /** The channels a user may read, and those whose bodies they may read (undefined = all). */
  async function access(user: User): Promise<{ view?: Channel[]; full?: Set<string> }> {
    if (isAdmin(user)) return {};
    const channels = await deps.channels.list(true);
    const view = channels.filter((c) => [...c.txViewAcl, ...c.txViewFullAcl].some((g) => user.groups.includes(g)));
    const full = new Set(channels.filter((c) => c.txViewFullAcl.some((g) => user.groups.includes(g))).map((c) => c._id));
    return { view, full };
  }

  async function list(request: FastifyRequest<{ Querystring: ListQuery }>, extra: Partial<TransactionQuery> = {}) {
    const user = userOf(request);
    const qs = request.query;
    const { limit, offset } = parsePaging(qs, deps.config.apiMaxFilterLimit);
    const rep = representationOf(qs.filterRepresentation);
    const q = { ...parseFilters(qs.filters), ...extra };
    if (qs.channelID !== undefined) {
      checkStorable(qs.channelID, 'channelID');
      q.channelIDs = [String(qs.channelID)];
    }
    const { view, full } = await access(user);
    if (view) {
      const allowed = new Set(view.map((c) => c._id));
      // As OpenHIM's getTransactions: asking for a channel the user may not view is a 403, not an empty list.
      const refused = q.channelIDs?.find((id) => !allowed.has(id));
      if (refused !== undefined) throw forbidden(`user ${user.email} may not view the transactions of channel ${refused.slice(0, 40)} (txViewAcl)`);
      q.channelIDs = q.channelIDs ?? [...allowed];
    }
    // As OpenHIM: the bulk rerun dialog asks how many transactions its filters match.
    if (rep === 'bulkrerun') return { count: await withFilterErrors(q, () => deps.transactions.count(q)) };
    const withBodies = rep === 'full' || rep === 'fulltruncate';
    const txs = await withFilterErrors(q, () => deps.transactions.find({ ...q, limit, offset }, withBodies, deps.config.limits.apiMaxPageBytes));
    // Past the page's byte budget a transaction comes without any bodies (its routes' neither).
    const omitted = (tx: Transaction) => (tx as { bodiesOmitted?: boolean }).bodiesOmitted === true;
    return txs.map((tx) => represent(tx, withBodies && ((full && !full.has(tx.channelID ?? '')) || omitted(tx)) ? 'simpledetails' : rep));
  }

  function registerTransactionReads(app: FastifyInstance): void {
    const config = { userCheck: 'txViewAcl' } as const;
    app.get<{ Querystring: ListQuery }>('/transactions', { config }, (request) => list(request));

    app.get<{ Querystring: ListQuery; Params: { clientId: string } }>('/transactions/clients/:clientId', { config }, async (request) => {
      checkStorable(request.params.clientId, 'clientId');
      // As OpenHIM: transactions name the client by _id; its clientID also finds it, and rows
      // logged before clientID held the _id.
      const client = await deps.clients.find(request.params.clientId);
      return list(request, { clientID: client ? [client.doc._id, client.doc.clientID] : request.params.clientId });
    });

    app.get<{ Params: { id: string }; Querystring: { filterRepresentation?: string } }>('/transactions/:id', { config }, async (request) => {
      const user = userOf(request);
      checkId(request.params.id, 'transaction');
      // As OpenHIM's getTransactionById: full unless another representation is asked for.
      const rep = representationOf(request.query.filterRepresentation, 'full');
      const tx = await deps.transactions.byId(request.params.id);
      if (!tx) throw missing(`Could not find transaction with ID: ${request.params.id}`);
      const { view, full } = await access(user);
      // As OpenHIM's getTransactionById: one of a channel the user may not view is a 403.
      if (view && !view.some((c) => c._id === tx.channelID)) throw forbidden(`user ${user.email} may not view the transactions of this channel (txViewAcl)`);
      if (full && !full.has(tx.channelID ?? '') && (rep === 'full' || rep === 'fulltruncate')) return stripBodies(tx);
      return represent(tx, rep);
    });
  }

  function registerTransactionChanges(app: FastifyInstance): void {
    app.get<{ Querystring: ListQuery & { filters?: string } }>('/transactions/count', async (request) => {
      const filters = parseFilters(request.query.filters);
      return { count: await withFilterErrors(filters, () => deps.transactions.count(filters)) };
    });

    const updateSchema = z
      .object({
        status: z.enum(TRANSACTION_STATUSES).optional(),
        // A status is what an integer column and an HTTP client take: the row must stay storable.
        response: z.object({ status: storedNumber(z.number().int().min(100).max(999)).optional() }).passthrough().optional(),
        routes: z.array(z.record(z.unknown())).optional(),
        orchestrations: z.array(z.record(z.unknown())).optional(),
        properties: z.record(z.unknown()).optional(),
        error: z.object({ message: z.string(), stack: z.string().optional() }).optional(),
        // As OpenHIM's updateTransaction (transactionsAPITests): the request and the client may be set too.
        request: requestUpdateSchema.optional(),
        clientID: clientIdSchema.optional(),
        $push: z.object({ routes: z.union([z.record(z.unknown()), z.array(z.record(z.unknown()))]).optional() }).optional(),
      })
      .strict();

    app.put<{ Params: { id: string } }>('/transactions/:id', async (request) => {
      checkId(request.params.id, 'transaction');
      const tx = await deps.transactions.byId(request.params.id);
      if (!tx) throw missing(`Could not find transaction with ID: ${request.params.id}`);
      const update = parseBody(updateSchema, request.body, 'transaction update');
      const pushed = update.$push?.routes;
      refuseTooManyParts({
        routes: [...((update.routes as WithOrchestrations[] | undefined) ?? tx.routes), ...((pushed ? (Array.isArray(pushed) ? pushed : [pushed]) : []) as WithOrchestrations[])],
        orchestrations: update.orchestrations ?? tx.orchestrations,
      }, deps.config.limits.transactionMaxParts);
      const [recorded, requestCut] = update.request ? capBody({ ...tx.request, ...update.request } as Transaction['request'], deps.config.maxStoredBodyBytes) : [tx.request, false];
      // As OpenHIM's updateTransaction (src/api/transactions.js 19-38, 771-781): an error reported
      // (the transaction's, or a route's given or pushed) on a channel that retries flags the
      // transaction for auto-retry, unless it has had its channel's autoRetryMaxAttempts
      // (src/autoRetry.js reachedMaxAttempts).
      const channel = reportsError(update) && tx.channelID ? await deps.channels.byId(tx.channelID) : undefined;
      const retry = Boolean(channel?.autoRetryEnabled) && !reachedMaxAttempts(tx.autoRetryAttempt, channel);
      const next: Transaction = {
        ...tx,
        request: recorded,
        ...(requestCut ? { canRerun: false } : {}),
        ...(update.clientID ? { clientID: update.clientID } : {}),
        ...(retry ? { autoRetry: true } : {}),
        ...(update.status ? { status: update.status } : {}),
        ...(update.response ? { response: update.response as unknown as Transaction['response'] } : {}),
        ...(update.orchestrations ? { orchestrations: update.orchestrations as unknown as Transaction['orchestrations'] } : {}),
        ...(update.properties ? { properties: { ...(tx.properties ?? {}), ...update.properties } } : {}),
        ...(update.error ? { error: update.error } : {}),
        routes: [
          ...((update.routes as unknown as Transaction['routes']) ?? tx.routes),
          ...((pushed ? (Array.isArray(pushed) ? pushed : [pushed]) : []) as unknown as Transaction['routes']),
        ],
      };
      await deps.transactions.save(next);
      auditChange(deps, request, 'U', `Transaction/${tx._id}`);
      // A rerun's asynchronous mediator reporting its end settles the task waiting for it.
      if (typeof next.taskID === 'string') await settlePendingAsyncTasks(deps, next.taskID);
      return next;
    });

    app.post('/transactions', async (request, reply) => {
      const tx = transactionFromBody(request.body, deps.config.maxStoredBodyBytes);
      refuseTooManyParts(tx, deps.config.limits.transactionMaxParts);
      // OpenHIM's transaction model requires a channelID; one naming no channel is shown by no channel's ACL.
      if (!tx.channelID) throw badRequest('a transaction needs a channelID');
      if (!(await deps.channels.byId(tx.channelID))) throw badRequest(`channelID ${tx.channelID} names no channel`);
      await deps.transactions.save(tx);
      auditChange(deps, request, 'C', `Transaction/${tx._id}`);
      reply.code(201);
      return tx;
    });

    app.delete<{ Params: { id: string } }>('/transactions/:id', async (request) => {
      checkId(request.params.id, 'transaction');
      if (!(await deps.transactions.delete(request.params.id))) throw missing(`Could not find transaction with ID: ${request.params.id}`);
      auditChange(deps, request, 'D', `Transaction/${request.params.id}`);
      return { result: `transaction ${request.params.id} deleted` };
    });
  }

  return { user: registerTransactionReads, admin: registerTransactionChanges };
}

/** OpenHIM's hasError: the update reports an error of the transaction or of a route. */
function reportsError(update: { error?: unknown; routes?: Array<Record<string, unknown>>; $push?: { routes?: Record<string, unknown> | Array<Record<string, unknown>> } }): boolean {
  if (update.error != null) return true;
  if (update.routes?.some((r) => Boolean(r.error))) return true;
  const pushed = update.$push?.routes;
  return (Array.isArray(pushed) ? pushed : pushed ? [pushed] : []).some((r) => r.error != null);
}
