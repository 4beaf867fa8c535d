/**
 * The transaction log API: OpenHIM's filters (JSON in `filters`), representations and paging,
 * newest first; PUT lets an asynchronous mediator add routes and set the final status.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { IolDeps } from '../deps.js';
import { badRequest, notFound } from '../errors.js';
import { TRANSACTION_STATUSES, type Channel, type Transaction, type User } from '../models.js';
import type { TransactionQuery } from '../store/transactions.js';
import { parseBody } from '../validation.js';
import { isAdmin, requireAdmin, userOf } from './auth.js';
import { auditChange } from './common.js';

type Representation = 'full' | 'simpledetails' | 'simple' | 'bulkrerun';

interface ListQuery {
  filterLimit?: string;
  filterPage?: string;
  filterRepresentation?: string;
  filters?: string;
  channelID?: string;
}

function stripBodies(tx: Transaction): Transaction {
  const strip = <T extends { body?: string; bodyBase64?: string } | undefined>(part: T): T => {
    if (!part) return part;
    const { body: _b, bodyBase64: _e, ...rest } = part;
    return rest as T;
  };
  return {
    ...tx,
    request: strip(tx.request),
    response: strip(tx.response),
    routes: tx.routes.map((r) => ({ ...r, request: strip(r.request), response: strip(r.response) })),
    orchestrations: tx.orchestrations.map((o) => ({ ...o, request: strip(o.request), response: strip(o.response) })),
  };
}

function represent(tx: Transaction, representation: Representation): Partial<Transaction> {
  switch (representation) {
    case 'full':
      return tx;
    case 'simpledetails':
      return stripBodies(tx);
    case 'bulkrerun':
      return { _id: tx._id, childIDs: tx.childIDs, canRerun: tx.canRerun, channelID: tx.channelID, status: tx.status } as Partial<Transaction>;
    case 'simple': {
      const { routes: _r, orchestrations: _o, ...rest } = stripBodies(tx);
      return rest;
    }
  }
}

function asJson(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

/** OpenHIM's `filters` JSON → our query. Unknown keys are refused so a typo does not list everything. */
export function parseFilters(raw: string | undefined | Record<string, unknown>): Omit<TransactionQuery, 'limit' | 'offset'> {
  if (!raw) return {};
  let filters: Record<string, unknown>;
  try {
    filters = typeof raw === 'string' ? (JSON.parse(raw) as Record<string, unknown>) : raw;
  } catch {
    throw badRequest('filters is not valid JSON');
  }
  if (!filters || typeof filters !== 'object') throw badRequest('filters must be a JSON object');
  const q: Omit<TransactionQuery, 'limit' | 'offset'> = {};
  for (const [key, value] of Object.entries(filters)) {
    switch (key) {
      case 'channelID':
        q.channelIDs = Array.isArray(value) ? value.map(String) : [String(value)];
        break;
      case 'clientID':
        q.clientID = String(value);
        break;
      case 'status': {
        const v = asJson(value) as unknown;
        const list = Array.isArray(v) ? v : v && typeof v === 'object' && '$in' in v ? (v as { $in: unknown[] }).$in : [v];
        q.status = list.map(String);
        break;
      }
      case 'request.timestamp': {
        const v = asJson(value) as { $gte?: string; $lte?: string; $gt?: string; $lt?: string } | string;
        if (typeof v === 'object' && v) {
          q.from = v.$gte ?? v.$gt;
          q.to = v.$lte ?? v.$lt;
        }
        break;
      }
      case 'request.path':
        q.path = String(value);
        break;
      case 'response.status':
        q.responseStatus = String(value);
        break;
      case 'properties':
        q.properties = asJson(value) as Record<string, unknown>;
        break;
      default:
        if (key.startsWith('properties.')) {
          q.properties = { ...(q.properties ?? {}), [key.slice('properties.'.length)]: value };
          break;
        }
        throw badRequest(`unknown transaction filter "${key}"`, 'use channelID, clientID, status, request.timestamp, request.path, response.status or properties');
    }
  }
  if (q.path) {
    try {
      new RegExp(q.path);
    } catch {
      throw badRequest('request.path filter is not a valid regular expression');
    }
  }
  return q;
}

export function registerTransactionRoutes(app: FastifyInstance, deps: IolDeps): void {
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
    const limit = Math.min(Math.max(Number(qs.filterLimit ?? 100) || 100, 1), 10_000);
    const page = Math.max(Number(qs.filterPage ?? 0) || 0, 0);
    const rep = (qs.filterRepresentation ?? 'full') as Representation;
    if (!['full', 'simpledetails', 'simple', 'bulkrerun'].includes(rep)) throw badRequest(`unknown filterRepresentation "${rep}"`);
    const q = { ...parseFilters(qs.filters), ...extra };
    if (qs.channelID) q.channelIDs = [qs.channelID];
    const { view, full } = await access(user);
    if (view) {
      const allowed = new Set(view.map((c) => c._id));
      q.channelIDs = (q.channelIDs ?? [...allowed]).filter((id) => allowed.has(id));
    }
    const txs = await deps.transactions.find({ ...q, limit, offset: page * limit }, rep === 'full');
    return txs.map((tx) => represent(tx, rep === 'full' && full && !full.has(tx.channelID ?? '') ? 'simpledetails' : rep));
  }

  app.get<{ Querystring: ListQuery }>('/transactions', (request) => list(request));

  app.get<{ Querystring: ListQuery; Params: { clientId: string } }>('/transactions/clients/:clientId', async (request) => {
    const client = await deps.clients.find(request.params.clientId);
    return list(request, { clientID: client?.doc.clientID ?? request.params.clientId });
  });

  app.get<{ Querystring: ListQuery & { filters?: string } }>('/transactions/count', async (request) => {
    requireAdmin(request);
    return { count: await deps.transactions.count(parseFilters(request.query.filters)) };
  });

  app.get<{ Params: { id: string } }>('/transactions/:id', async (request) => {
    const user = userOf(request);
    const tx = await deps.transactions.byId(request.params.id);
    if (!tx) throw notFound(`transaction ${request.params.id}`);
    const { view, full } = await access(user);
    if (view && !view.some((c) => c._id === tx.channelID)) throw notFound(`transaction ${request.params.id}`);
    return full && !full.has(tx.channelID ?? '') ? stripBodies(tx) : tx;
  });

  const updateSchema = z
    .object({
      status: z.enum(TRANSACTION_STATUSES).optional(),
      response: z.record(z.unknown()).optional(),
      routes: z.array(z.record(z.unknown())).optional(),
      orchestrations: z.array(z.record(z.unknown())).optional(),
      properties: z.record(z.unknown()).optional(),
      error: z.object({ message: z.string(), stack: z.string().optional() }).optional(),
      $push: z.object({ routes: z.union([z.record(z.unknown()), z.array(z.record(z.unknown()))]).optional() }).optional(),
    })
    .strict();

  app.put<{ Params: { id: string } }>('/transactions/:id', async (request) => {
    requireAdmin(request);
    const tx = await deps.transactions.byId(request.params.id);
    if (!tx) throw notFound(`transaction ${request.params.id}`);
    const update = parseBody(updateSchema, request.body, 'transaction update');
    const pushed = update.$push?.routes;
    const next: Transaction = {
      ...tx,
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
    return next;
  });

  app.delete<{ Params: { id: string } }>('/transactions/:id', async (request) => {
    requireAdmin(request);
    if (!(await deps.transactions.delete(request.params.id))) throw notFound(`transaction ${request.params.id}`);
    auditChange(deps, request, 'D', `Transaction/${request.params.id}`);
    return { result: `transaction ${request.params.id} deleted` };
  });

}
