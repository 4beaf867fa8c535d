/** Heartbeat, about, audits, metrics (JSON and Prometheus), contact groups, logs. */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { IolDeps } from '../deps.js';
import { IolError, badRequest, notFound } from '../errors.js';
import { newObjectId } from '../ids.js';
import { parseBody } from '../validation.js';
import { contactGroupSchema } from '../models.js';
import { auditChange } from './common.js';
import type { ScopedRoutes } from './scopes.js';
import { checkStorable, oneOf, parsePaging, parseTimestamp, refuseUnknownParameters } from './query-filters.js';
import type { AuditKind } from '../store/audits.js';
import { openhimFilterOptions, parseOpenhimFilters, toOpenhimAudit } from './openhim-audits.js';

const AUDIT_KINDS: readonly AuditKind[] = ['login', 'auth-failure', 'admin-change', 'routed-request'];

const VERSION = '8.5.0-instant';
const HEARTBEAT_WINDOW_MS = 60_000;

const METRIC_COLUMNS = `
  count(*)::int AS total,
  COALESCE(avg(resp_ms), 0)::float AS "avgResp",
  COALESCE(min(resp_ms), 0)::float AS "minResp",
  COALESCE(max(resp_ms), 0)::float AS "maxResp",
  count(*) FILTER (WHERE status = 'Failed')::int AS failed,
  count(*) FILTER (WHERE status = 'Successful')::int AS successful,
  count(*) FILTER (WHERE status = 'Processing')::int AS processing,
  count(*) FILTER (WHERE status = 'Completed')::int AS completed,
  count(*) FILTER (WHERE status = 'Completed with error(s)')::int AS "completedWErrors"`;

const TIMESERIES = new Set(['minute', 'hour', 'day', 'week', 'month', 'year']);

/**
 * A bucket start as OpenHIM's `_id` parts (moment, en locale), in UTC: `day` is the day of the
 * week (0 = Sunday), `month` counts from 0, `week` is the Sunday-first week of the year whose
 * week 1 holds 1 January.
 */
export function calendarParts(date: Date): { minute: number; hour: number; day: number; week: number; month: number; year: number } {
  const year = date.getUTCFullYear();
  const dayMs = 86_400_000;
  const midnight = Date.UTC(year, date.getUTCMonth(), date.getUTCDate());
  const saturday = new Date(midnight + (6 - date.getUTCDay()) * dayMs);
  let week: number;
  if (saturday.getUTCFullYear() > year) week = 1; // this week holds next 1 January
  else {
    const jan1 = Date.UTC(year, 0, 1);
    week = Math.floor(((midnight - jan1) / dayMs + new Date(jan1).getUTCDay()) / 7) + 1;
  }
  return { minute: date.getUTCMinutes(), hour: date.getUTCHours(), day: date.getUTCDay(), week, month: date.getUTCMonth(), year };
}

const groupSchema = contactGroupSchema;

/** The heartbeat (open, as OpenHIM's), `/about` (any user) and the rest: audits, metrics, contact groups (admins). */
export function systemRoutes(deps: IolDeps): ScopedRoutes {
  return { open: (scope) => registerHeartbeat(scope, deps), user: registerAbout, admin: (scope) => registerSystemAdminRoutes(scope, deps) };
}

function registerHeartbeat(app: FastifyInstance, deps: IolDeps): void {
  app.get('/heartbeat', async () => {
    const now = Date.now();
    const mediators: Record<string, number | null> = {};
    for (const m of await deps.mediators.list()) {
      const last = m._lastHeartbeat ? Date.parse(m._lastHeartbeat) : 0;
      mediators[m.urn] = last && now - last <= HEARTBEAT_WINDOW_MS ? (m._uptime ?? null) : null;
    }
    return { master: process.uptime(), mediators, now };
  });

}

function registerAbout(app: FastifyInstance): void {
  app.get('/about', { config: { userCheck: 'none' } }, async () => ({
    currentCoreVersion: VERSION,
    serverTimezone: Intl.DateTimeFormat().resolvedOptions().timeZone,
    product: 'Instant OpenHIE interop-layer (OpenHIM-compatible)',
  }));
}

function registerSystemAdminRoutes(app: FastifyInstance, deps: IolDeps): void {
  // OpenHIM's certificate authority (generating certificates): not implemented; say so rather than 404.
  // The keystore itself is api/keystore.ts.
  const notYet = async () => {
    throw new IolError(501, 'IOL_NOT_IMPLEMENTED', 'generating certificates (POST /certificates) is not implemented', 'make the certificate elsewhere and add it with POST /keystore/ca/cert or POST /keystore/cert');
  };
  app.post('/certificates', notYet);

  app.get('/logs', async () => []);

  // Our own view: FHIR AuditEvents, routed requests included (built from the transaction log).
  app.get<{ Querystring: { filterLimit?: string; filterPage?: string; kind?: string; outcome?: string; from?: string; to?: string } }>(
    '/audit-events',
    async (request) => {
      const q = request.query;
      refuseUnknownParameters(q, ['filterLimit', 'filterPage', 'kind', 'outcome', 'from', 'to'], 'GET /audit-events');
      const { limit, offset } = parsePaging(q, deps.config.apiMaxFilterLimit);
      return deps.audits.find({
        kind: oneOf(q.kind, 'kind', AUDIT_KINDS),
        outcome: oneOf(q.outcome, 'outcome', ['0', '4', '8', '12'] as const),
        from: parseTimestamp(q.from, 'from'),
        to: parseTimestamp(q.to, 'to'),
        limit,
        offset,
      });
    },
  );

  // OpenHIM's view, for OpenHIM consoles: its ATNA records, newest first (api/openhim-audits.ts).
  app.get<{ Querystring: Record<string, string | undefined> }>('/audits', async (request) => {
    const q = request.query;
    const ours = ['kind', 'outcome', 'from', 'to'].find((name) => q[name] !== undefined);
    if (ours) throw badRequest(`GET /audits takes OpenHIM's filters; ${ours} belongs to GET /audit-events (FHIR AuditEvents)`, `call GET /audit-events?${ours}=...`);
    refuseUnknownParameters(q, ['filterLimit', 'filterPage', 'filters', 'filterRepresentation'], 'GET /audits');
    const { limit, offset } = parsePaging(q, deps.config.apiMaxFilterLimit);
    const representation = oneOf(q.filterRepresentation, 'filterRepresentation', ['simple', 'simpledetails', 'full'] as const);
    const events = await deps.audits.find({ ...parseOpenhimFilters(q.filters), storedOnly: true, limit, offset });
    return events.map((event) => toOpenhimAudit(event, representation === 'full' || representation === 'simpledetails'));
  });

  app.get<{ Params: { id: string } }>('/audits/:id', async (request) => {
    checkStorable(request.params.id, 'id');
    const event = await deps.audits.byId(request.params.id);
    if (!event) throw notFound(`audit ${request.params.id}`);
    return toOpenhimAudit(event, true);
  });

  app.get('/audits-filter-options', async () => openhimFilterOptions(await deps.audits.storedKinds()));

  app.post('/audits', async (request, reply) => {
    const body = parseBody(
      z.object({ action: z.enum(['C', 'R', 'U', 'D', 'E']).default('E'), outcome: z.enum(['0', '4', '8', '12']).default('0'), outcomeDesc: z.string().optional(), entity: z.string().optional() }),
      request.body,
      'audit',
    );
    reply.code(201);
    return deps.audits.record({
      kind: 'admin-change',
      action: body.action,
      success: body.outcome === '0',
      ...(body.outcomeDesc ? { description: body.outcomeDesc } : {}),
      ...(body.entity ? { entity: body.entity } : {}),
    });
  });

  // Metrics from the transaction log (JSON) or the router's counters (Prometheus text).
  type MetricsQuery = { startDate?: string; endDate?: string };
  async function metrics(q: MetricsQuery, groups: Array<[expr: string, alias: string]>, channelID?: string): Promise<unknown[]> {
    const startDate = parseTimestamp(q.startDate, 'startDate');
    const endDate = parseTimestamp(q.endDate, 'endDate');
    if (!startDate || !endDate) throw badRequest('startDate and endDate are required ISO dates');
    checkStorable(channelID, 'channelID');
    await deps.transactions.flush();
    const params: unknown[] = [startDate, endDate];
    let where = 'request_ts >= $1::timestamptz AND request_ts <= $2::timestamptz';
    if (channelID) {
      params.push(channelID);
      where += ` AND channel_id = $3`;
    }
    const group = groups.map(([expr, alias]) => `, ${expr} AS ${alias}`).join('');
    const groupBy = groups.map(([expr]) => expr).join(', ');
    const r = await deps.db.query<Record<string, unknown>>(
      `SELECT ${METRIC_COLUMNS}${group} FROM (
         SELECT *, COALESCE(response_ms, EXTRACT(EPOCH FROM ((doc->'response'->>'timestamp')::timestamptz - request_ts)) * 1000) AS resp_ms
           FROM iol.transactions WHERE ${where}) t
       ${groups.length ? `GROUP BY ${groupBy} ORDER BY 10` : ''}`,
      params,
    );
    return r.rows;
  }

  app.get<{ Querystring: MetricsQuery & { format?: string } }>('/metrics', async (request, reply) => {
    const accept = request.headers.accept ?? '';
    if (accept.includes('application/openmetrics-text')) {
      reply.header('content-type', deps.metrics.openMetrics.contentType);
      return deps.metrics.openMetrics.metrics();
    }
    if (request.query.format === 'prometheus' || (!request.query.startDate && accept.startsWith('text/plain'))) {
      reply.header('content-type', deps.metrics.registry.contentType);
      return deps.metrics.registry.metrics();
    }
    return metrics(request.query, []);
  });

  app.get<{ Querystring: MetricsQuery; Params: { channelID?: string } }>('/metrics/channels/:channelID?', async (request) => {
    const rows = (await metrics(request.query, [['channel_id', 'key']], request.params.channelID)) as Array<Record<string, unknown>>;
    return rows.map(({ key, ...m }) => ({ _id: { channelID: key }, ...m }));
  });

  app.get<{ Querystring: MetricsQuery; Params: { type: string; channelID?: string } }>('/metrics/timeseries/:type', async (request) => {
    return timeseries(request.params.type, request.query);
  });
  app.get<{ Querystring: MetricsQuery; Params: { type: string; channelID?: string } }>('/metrics/timeseries/:type/channels/:channelID?', async (request) => {
    return timeseries(request.params.type, request.query, true, request.params.channelID);
  });

  async function timeseries(type: string, q: MetricsQuery, byChannel = false, channelID?: string) {
    if (!TIMESERIES.has(type)) throw badRequest(`timeseries type must be one of ${[...TIMESERIES].join(', ')}`);
    // Weeks start on Sunday, as OpenHIM's (moment's en locale) and as calendarParts numbers them;
    // PostgreSQL's own weeks start on Monday. In UTC, as the parts are.
    const bucket =
      type === 'week'
        ? `(date_trunc('week', (request_ts AT TIME ZONE 'UTC') + interval '1 day') - interval '1 day') AT TIME ZONE 'UTC'`
        : `date_trunc('${type}', request_ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'`;
    const groups: Array<[string, string]> = [[bucket, 'key']];
    if (byChannel) groups.push(['channel_id', 'channel']);
    const rows = (await metrics(q, groups, channelID)) as Array<Record<string, unknown>>;
    // OpenHIM's item (src/api/metrics.js convertMetric): the counts, the bucket's start as
    // `timestamp`, and `_id` with the channel and the bucket's calendar parts.
    return rows.map(({ key, channel, ...m }) => {
      const start = key instanceof Date ? key : new Date(String(key));
      return { ...m, timestamp: start.toISOString(), _id: { ...(byChannel ? { channelID: channel } : {}), ...calendarParts(start) } };
    });
  }

  // Contact groups (alerting recipients).
  app.get('/groups', async () => {
    return deps.contactGroups.list();
  });
  app.post('/groups', async (request, reply) => {
    const input = parseBody(groupSchema, request.body, 'contact group');
    if (await deps.contactGroups.find(input.group)) throw badRequest(`contact group ${input.group} already exists`);
    const group = { _id: newObjectId(), ...input };
    await deps.contactGroups.upsert(group);
    auditChange(deps, request, 'C', `ContactGroup/${group._id}`);
    reply.code(201);
    return group;
  });
  app.get<{ Params: { id: string } }>('/groups/:id', async (request) => {
    const group = await deps.contactGroups.find(request.params.id);
    if (!group) throw notFound(`contact group ${request.params.id}`);
    return group;
  });
  app.put<{ Params: { id: string } }>('/groups/:id', async (request) => {
    const existing = await deps.contactGroups.find(request.params.id);
    if (!existing) throw notFound(`contact group ${request.params.id}`);
    const input = parseBody(groupSchema, { ...existing, ...(request.body as object) }, 'contact group');
    const group = { _id: existing._id, ...input };
    await deps.contactGroups.upsert(group);
    auditChange(deps, request, 'U', `ContactGroup/${group._id}`);
    return group;
  });
  app.delete<{ Params: { id: string } }>('/groups/:id', async (request) => {
    const existing = await deps.contactGroups.find(request.params.id);
    if (!existing || !(await deps.contactGroups.delete(existing._id))) throw notFound(`contact group ${request.params.id}`);
    auditChange(deps, request, 'D', `ContactGroup/${existing._id}`);
    return { result: 'contact group deleted' };
  });
}
