/** Heartbeat, about, contact groups, logs (api/logs.ts). */
import type { FastifyInstance } from 'fastify';
import type { IolDeps } from '../deps.js';
import { badRequest, missing } from '../errors.js';
import { newObjectId } from '../ids.js';
import { parseBody } from '../validation.js';
import { contactGroupSchema } from '../models.js';
import { auditChange } from './common.js';
import type { ScopedRoutes } from './scopes.js';
import { checkStorable } from './query-filters.js';
import { registerLogs } from './logs.js';

export { calendarParts } from './metrics.js';

const VERSION = '8.5.0-instant';
const HEARTBEAT_WINDOW_MS = 60_000;

const groupSchema = contactGroupSchema;

/** The heartbeat (open, as OpenHIM's), `/about` (any user) and the rest: logs, contact groups (admins). */
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
  registerLogs(app, deps.serverLogs);

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
    if (!group) throw missing(`Contact Group with id '${request.params.id}' could not be found.`);
    return group;
  });
  app.put<{ Params: { id: string } }>('/groups/:id', async (request) => {
    const existing = await deps.contactGroups.find(request.params.id);
    if (!existing) throw missing(`Contact Group with id '${request.params.id}' could not be found.`);
    const input = parseBody(groupSchema, { ...existing, ...(request.body as object) }, 'contact group');
    const group = { _id: existing._id, ...input };
    await deps.contactGroups.upsert(group);
    auditChange(deps, request, 'U', `ContactGroup/${group._id}`);
    return group;
  });
  app.delete<{ Params: { id: string } }>('/groups/:id', async (request, reply) => {
    const existing = await deps.contactGroups.find(request.params.id);
    if (!existing) throw missing(`Contact Group with id '${request.params.id}' could not be found.`);
    // As OpenHIM (contactGroups.js removeContactGroup): a group a channel's alert names stays; 409 with those channels.
    const alerting = (await deps.channels.list()).filter((channel) => channel.alerts.some((alert) => Array.isArray(alert.groups) && alert.groups.includes(existing._id)));
    if (alerting.length) return reply.code(409).send(alerting);
    if (!(await deps.contactGroups.delete(existing._id))) throw missing(`Contact Group with id '${request.params.id}' could not be found.`);
    auditChange(deps, request, 'D', `ContactGroup/${existing._id}`);
    return { result: 'contact group deleted' };
  });
}
