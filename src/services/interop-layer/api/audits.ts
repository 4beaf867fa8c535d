/**
 * The audit log's routes (admins): our FHIR AuditEvents (GET /audit-events), and OpenHIM's ATNA
 * audit repository API (src/api/audits.js v8.5): POST /audits stores an ATNA record, GET /audits
 * lists the records (ours built from our AuditEvents), GET /audits/:id, /audits-filter-options.
 * Reading records in detail is itself audited ("Audit Log Used"), as OpenHIM does.
 */
import { hostname } from 'node:os';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { IolDeps } from '../deps.js';
import { badRequest, missing } from '../errors.js';
import { parseBody } from '../validation.js';
import { auditLogUsedRecord, parseAtnaRecord } from '../atna/record.js';
import type { AuditKind } from '../store/audits.js';
import { userOf } from './auth.js';
import { AUDIT_SOURCE_ID, openhimFilterOptions, parseOpenhimFilters, toOpenhimAudit } from './openhim-audits.js';
import { checkStorable, isRegexRefusal, oneOf, parsePaging, parseTimestamp, refuseUnknownParameters } from './query-filters.js';
import type { ScopedRoutes } from './scopes.js';

const AUDIT_KINDS: readonly AuditKind[] = ['login', 'auth-failure', 'admin-change', 'routed-request', 'atna'];

/** Our own small record of an admin's action (a body without `eventIdentification`). */
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
      `POST /audits cannot store ${unknown.length ? unknown.slice(0, 10).join(', ') : 'a list'}: it takes an ATNA record (with eventIdentification) or {action, outcome, outcomeDesc, entity}`,
      "send OpenHIM's audit record: eventIdentification, activeParticipant, auditSourceIdentification, participantObjectIdentification",
    );
  }
  return parseBody(postedAuditSchema, body, 'audit');
}

const isAtnaRecord = (body: unknown) => !!body && typeof body === 'object' && !Array.isArray(body) && Object.hasOwn(body, 'eventIdentification');

export function auditRoutes(deps: IolDeps): ScopedRoutes {
  return { admin: (scope) => registerAuditRoutes(scope, deps) };
}

function registerAuditRoutes(app: FastifyInstance, deps: IolDeps): void {
  /** The address of a record on this API, as OpenHIM names it in an Audit Log Used record. */
  const recordUri = (request: FastifyRequest, id: string) => {
    const host = /^[A-Za-z0-9.-]{1,253}(:\d{1,5})?$|^\[[0-9A-Fa-f:.]{2,45}\](:\d{1,5})?$/.test(request.host) ? request.host : `localhost:${deps.config.apiPort}`;
    return `${deps.config.apiTls ? 'https' : 'http'}://${host}/audits/${encodeURIComponent(id)}`;
  };
  /** atna-audit's auditLogUsedAudit for each record read, written behind the answer. */
  const auditLogUsed = (request: FastifyRequest, ids: readonly string[], outcome: '0' | '4') => {
    const user = userOf(request);
    const groups = (user.groups ?? []).join(',');
    for (const id of ids) {
      void deps.audits.recordAtna(auditLogUsedRecord({ outcome, sourceId: AUDIT_SOURCE_ID, hostname: hostname(), user: user.email, groups, auditUri: recordUri(request, id) }), false);
    }
  };

  // Our own view: FHIR AuditEvents, routed requests included (built from the transaction log).
  app.get<{ Querystring: { filterLimit?: string; filterPage?: string; kind?: string; outcome?: string; from?: string; to?: string } }>('/audit-events', async (request) => {
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
  });

  // OpenHIM's view, for OpenHIM consoles: ATNA records, newest first (api/openhim-audits.ts).
  app.get<{ Querystring: Record<string, string | undefined> }>('/audits', async (request) => {
    const q = request.query;
    const ours = ['kind', 'outcome', 'from', 'to'].find((name) => q[name] !== undefined);
    if (ours) throw badRequest(`GET /audits takes OpenHIM's filters; ${ours} belongs to GET /audit-events (FHIR AuditEvents)`, `call GET /audit-events?${ours}=...`);
    refuseUnknownParameters(q, ['filterLimit', 'filterPage', 'filters', 'filterRepresentation'], 'GET /audits');
    const { limit, offset } = parsePaging(q, deps.config.apiMaxFilterLimit);
    const representation = oneOf(q.filterRepresentation, 'filterRepresentation', ['simple', 'simpledetails', 'full'] as const);
    const detailed = representation === 'full' || representation === 'simpledetails';
    let stored;
    try {
      stored = await deps.audits.findStored({ ...parseOpenhimFilters(q.filters), storedOnly: true, limit, offset, detailBytes: deps.config.limits.apiMaxPageBytes, details: detailed });
    } catch (error) {
      if (isRegexRefusal(error)) throw badRequest(`participantObjectIdentification.participantObjectID: not a regular expression the database accepts: ${(error as Error).message}`);
      throw error;
    }
    if (detailed) auditLogUsed(request, stored.filter((row) => !row.details_omitted).map((row) => row.doc.id), '0');
    return stored.map((row) => toOpenhimAudit(row, detailed));
  });

  app.get<{ Params: { id: string } }>('/audits/:id', async (request) => {
    checkStorable(request.params.id, 'id');
    const stored = request.params.id.length <= 64 ? await deps.audits.storedById(request.params.id) : undefined;
    auditLogUsed(request, [request.params.id.slice(0, 64)], stored ? '0' : '4');
    if (!stored) throw missing(`Could not find audits record with ID: ${request.params.id.slice(0, 64)}`);
    return toOpenhimAudit(stored, true);
  });

  app.get('/audits-filter-options', async () => openhimFilterOptions(await deps.audits.storedKinds(), await deps.audits.atnaCodes()));

  // An ATNA record (OpenHIM's body: eventIdentification, ...) is stored as received before the
  // 201; a body without eventIdentification is our own small record of an admin's action.
  app.post('/audits', async (request, reply) => {
    if (isAtnaRecord(request.body)) {
      const record = parseAtnaRecord(request.body);
      checkStorable(record, 'audit');
      const stored = await deps.audits.recordAtna(record, true);
      reply.code(201);
      return toOpenhimAudit(stored, true);
    }
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
}
