/** Heartbeat, about, audits, metrics (JSON and Prometheus), contact groups, logs. */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { IolDeps } from '../deps.js';
import { IolError, badRequest, notFound } from '../errors.js';
import { newObjectId } from '../ids.js';
import { parseBody } from '../validation.js';
import { contactGroupSchema } from '../models.js';
import { auditChange } from './common.js';
import { userOf } from './auth.js';
import type { ScopedRoutes } from './scopes.js';
import { checkStorable, oneOf, parsePaging, parseTimestamp, refuseUnknownParameters } from './query-filters.js';
import type { AuditKind } from '../store/audits.js';
import { openhimFilterOptions, parseOpenhimFilters, toOpenhimAudit } from './openhim-audits.js';

const AUDIT_KINDS: readonly AuditKind[] = ['login', 'auth-failure', 'admin-change', 'routed-request'];

export { calendarParts } from './metrics.js';

const VERSION = '8.5.0-instant';
const HEARTBEAT_WINDOW_MS = 60_000;

/** What POST /audits stores; any other field (OpenHIM's ATNA record) is a 400 that names it. */
const postedAuditSchema = z.object({
  action: z.enum(['C', 'R', 'U', 'D', 'E']).default('E'),
  outcome: z.enum(['0', '4', '8', '12']).default('0'),
  outcomeDesc: z.string().max(2000).optional(),
  entity: z.string().max(2000).optional(),
});

function parsePostedAudit(body: unknown): z.infer<typeof postedAuditSchema> {
  const known = Object.keys(postedAuditSchema.shape);
  const unknown = body && typeof body === 'object' && !Array.isArray(body) ? Object.keys(body).filter((key) => !known.includes(key)) : [];
  if (unknown.length > 0 || Array.isArray(body)) {
    throw badRequest(
      `POST /audits cannot store ${unknown.length ? unknown.slice(0, 10).join(', ') : 'a list'}: it takes one object {action: C|R|U|D|E, outcome: 0|4|8|12, outcomeDesc, entity}`,
      "OpenHIM's ATNA records (eventIdentification, activeParticipant, ...) are not stored here; send them to an ATNA repository",
    );
  }
  return parseBody(postedAuditSchema, body, 'audit');
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

  // Our own record of an admin's action. OpenHIM's ATNA record (eventIdentification,
  // activeParticipant, ...) is refused rather than stored empty: a 400 names what is taken.
  app.post('/audits', async (request, reply) => {
    const body = parsePostedAudit(request.body);
    reply.code(201);
    return deps.audits.record({
      kind: 'admin-change',
      action: body.action,
      success: body.outcome === '0',
      // Who posted it: the authenticated user, never "anonymous".
      who: userOf(request).email,
      address: request.ip,
      ...(body.outcomeDesc ? { description: body.outcomeDesc } : {}),
      ...(body.entity ? { entity: body.entity } : {}),
    });
  });

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
  app.delete<{ Params: { id: string } }>('/groups/:id', async (request, reply) => {
    const existing = await deps.contactGroups.find(request.params.id);
    if (!existing) throw notFound(`contact group ${request.params.id}`);
    // As OpenHIM (contactGroups.js removeContactGroup): a group a channel's alert names stays; 409 with those channels.
    const alerting = (await deps.channels.list()).filter((channel) => channel.alerts.some((alert) => Array.isArray(alert.groups) && alert.groups.includes(existing._id)));
    if (alerting.length) return reply.code(409).send(alerting);
    if (!(await deps.contactGroups.delete(existing._id))) throw notFound(`contact group ${request.params.id}`);
    auditChange(deps, request, 'D', `ContactGroup/${existing._id}`);
    return { result: 'contact group deleted' };
  });
}
