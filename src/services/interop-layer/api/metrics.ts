/**
 * Metrics: JSON totals and time series from the transaction log, scoped as OpenHIM's
 * (api/metrics.js) to the channels the user may view (admins: all, deleted ones too); and the
 * router's Prometheus counters, for admins only (OpenHIM leaves the OpenMetrics form open:
 * docs/interop-layer.md, "Differences from OpenHIM").
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { IolDeps } from '../deps.js';
import { badRequest, forbidden, notFound } from '../errors.js';
import { isAdmin, userOf } from './auth.js';
import { visibleTo } from './channels.js';
import { checkStorable, parseTimestamp } from './query-filters.js';
import type { ScopedRoutes } from './scopes.js';

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

type MetricsQuery = { startDate?: string; endDate?: string; format?: string };

/** Metrics routes: every user, scoped to the channels their groups may view. */
export function metricsRoutes(deps: IolDeps): ScopedRoutes {
  return { user: (scope) => registerMetricsRoutes(scope, deps) };
}

/**
 * The channel ids a request's metrics may count: all (undefined) for an admin, else those the
 * user may view; with `channelID`, that one alone, or 404 when it is unknown or not viewable
 * (OpenHIM answers 401 there; a 401 would tell a console its session ended).
 */
async function channelScope(deps: IolDeps, request: FastifyRequest, channelID: string | undefined): Promise<string[] | undefined> {
  const user = userOf(request);
  checkStorable(channelID, 'channelID');
  if (channelID !== undefined) {
    const channel = await deps.channels.byId(channelID);
    if (!channel || !visibleTo(user, channel)) throw notFound(`channel ${channelID} (or it is not one your groups may view)`);
    return [channel._id];
  }
  if (isAdmin(user)) return undefined;
  return (await deps.channels.list(true)).filter((c) => visibleTo(user, c)).map((c) => c._id);
}

function registerMetricsRoutes(app: FastifyInstance, deps: IolDeps): void {
  async function metrics(q: MetricsQuery, groups: Array<[expr: string, alias: string]>, channelIDs: string[] | undefined): Promise<unknown[]> {
    const startDate = parseTimestamp(q.startDate, 'startDate');
    const endDate = parseTimestamp(q.endDate, 'endDate');
    if (!startDate || !endDate) throw badRequest('startDate and endDate are required ISO dates');
    if (channelIDs?.length === 0) return [];
    await deps.transactions.flush();
    const params: unknown[] = [startDate, endDate];
    let where = 'request_ts >= $1::timestamptz AND request_ts <= $2::timestamptz';
    if (channelIDs) {
      params.push(channelIDs);
      where += ` AND channel_id = ANY($3::text[])`;
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

  const viewable = { config: { userCheck: 'txViewAcl' as const } };

  app.get<{ Querystring: MetricsQuery }>('/metrics', viewable, async (request, reply) => {
    const accept = request.headers.accept ?? '';
    const openMetrics = accept.includes('application/openmetrics-text');
    if (openMetrics || request.query.format === 'prometheus' || (!request.query.startDate && accept.startsWith('text/plain'))) {
      // The router's counters span every channel and client: admins only.
      if (!isAdmin(userOf(request))) throw forbidden('the Prometheus metrics are for admins; other users get JSON metrics with startDate and endDate');
      const registry = openMetrics ? deps.metrics.openMetrics : deps.metrics.registry;
      reply.header('content-type', registry.contentType);
      return registry.metrics();
    }
    const rows = (await metrics(request.query, [], await channelScope(deps, request, undefined))) as Array<{ total: number }>;
    // As OpenHIM's aggregation: one item when the period holds transactions, none when it holds none.
    return rows.filter((row) => row.total > 0);
  });

  app.get<{ Querystring: MetricsQuery; Params: { channelID?: string } }>('/metrics/channels/:channelID?', viewable, async (request) => {
    const rows = (await metrics(request.query, [['channel_id', 'key']], await channelScope(deps, request, request.params.channelID))) as Array<Record<string, unknown>>;
    return rows.map(({ key, ...m }) => ({ _id: { channelID: key }, ...m }));
  });

  app.get<{ Querystring: MetricsQuery; Params: { type: string } }>('/metrics/timeseries/:type', viewable, async (request) => {
    return timeseries(request.params.type, request.query, false, await channelScope(deps, request, undefined));
  });
  app.get<{ Querystring: MetricsQuery; Params: { type: string; channelID?: string } }>('/metrics/timeseries/:type/channels/:channelID?', viewable, async (request) => {
    return timeseries(request.params.type, request.query, true, await channelScope(deps, request, request.params.channelID));
  });

  async function timeseries(type: string, q: MetricsQuery, byChannel: boolean, channelIDs: string[] | undefined) {
    if (!TIMESERIES.has(type)) throw badRequest(`timeseries type must be one of ${[...TIMESERIES].join(', ')}`);
    // Weeks start on Sunday, as OpenHIM's (moment's en locale) and as calendarParts numbers them;
    // PostgreSQL's own weeks start on Monday. In UTC, as the parts are.
    const bucket =
      type === 'week'
        ? `(date_trunc('week', (request_ts AT TIME ZONE 'UTC') + interval '1 day') - interval '1 day') AT TIME ZONE 'UTC'`
        : `date_trunc('${type}', request_ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'`;
    const groups: Array<[string, string]> = [[bucket, 'key']];
    if (byChannel) groups.push(['channel_id', 'channel']);
    const rows = (await metrics(q, groups, channelIDs)) as Array<Record<string, unknown>>;
    // OpenHIM's item (src/api/metrics.js convertMetric): the counts, the bucket's start as
    // `timestamp`, and `_id` with the channel and the bucket's calendar parts.
    return rows.map(({ key, channel, ...m }) => {
      const start = key instanceof Date ? key : new Date(String(key));
      return { ...m, timestamp: start.toISOString(), _id: { ...(byChannel ? { channelID: channel } : {}), ...calendarParts(start) } };
    });
  }
}
