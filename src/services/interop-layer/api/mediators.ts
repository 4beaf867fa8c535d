/**
 * Mediators: registration (201; a semver-greater version updates what it sends and keeps the rest,
 * config values set so far included), heartbeat with config delivery, config updates checked against
 * configDefs, and installing a mediator's default channels.
 */
import semver from 'semver';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { IolDeps } from '../deps.js';
import { badRequest, missing } from '../errors.js';
import { newObjectId } from '../ids.js';
import { mediatorSchema, type Mediator } from '../models.js';
import { maskConfig, parseBody, unmaskConfig, validateChannel, validateConfig, validateConfigDefs } from '../validation.js';
import type { ScopedRoutes } from './scopes.js';
import { createChannel } from './channels.js';
import { userOf } from './auth.js';
import { auditChange } from './common.js';
import { maskMediatorRoutes, withStoredMediatorPasswords } from './secrets.js';

const heartbeatSchema = z.object({ uptime: z.number().nonnegative(), config: z.boolean().optional() });

/** What GET and exports show: password config values and route passwords masked. */
export function publicMediator(m: Mediator): Mediator {
  const masked = maskConfig(m.configDefs, m.config);
  return { ...maskMediatorRoutes(m), ...(masked ? { config: masked } : {}) };
}

/** Mediators: admins only (mediators authenticate as an admin user, as in OpenHIM). */
export function mediatorRoutes(deps: IolDeps): ScopedRoutes {
  return { admin: (scope) => registerMediatorRoutes(scope, deps) };
}

function registerMediatorRoutes(app: FastifyInstance, deps: IolDeps): void {
  app.get('/mediators', async () => {
    return (await deps.mediators.list()).map(publicMediator);
  });

  app.get<{ Params: { urn: string } }>('/mediators/:urn', async (request) => {
    const m = await deps.mediators.byUrn(request.params.urn);
    if (!m) throw missing('No mediator found for this urn.');
    return publicMediator(m);
  });

  app.post('/mediators', async (request, reply) => {
    const parsed = parseBody(mediatorSchema, request.body, 'mediator registration');
    const existing = await deps.mediators.byUrn(parsed.urn);
    // A greater version updates only what it sends, as OpenHIM's findByIdAndUpdate ($set): a
    // description, default channels or config definitions it leaves out stay as they were.
    const sent = (field: string): boolean => Object.hasOwn(request.body as object, field);
    const input = existing ? {
      ...parsed,
      description: sent('description') ? parsed.description : existing.description,
      defaultChannelConfig: sent('defaultChannelConfig') ? parsed.defaultChannelConfig : existing.defaultChannelConfig,
      configDefs: sent('configDefs') ? parsed.configDefs : existing.configDefs,
    } : parsed;
    // Default channels are checked for shape here and fully (one primary route, valid patterns)
    // when installed, as OpenHIM does: a registration is not refused for a channel it may never install.
    const defaultChannels = input.defaultChannelConfig;
    validateConfigDefs(input.configDefs);
    if (input.config) validateConfig(input.configDefs, input.config);
    if (!existing && !input.endpoints?.length) throw badRequest(`mediator ${input.urn} is new: its registration must give its endpoints (at least one)`);
    reply.code(201);
    if (existing && !semver.gt(input.version, existing.version)) {
      return { result: `mediator ${input.urn} ${existing.version} is already registered; send a greater version to update it` };
    }
    // Keep the config values set so far for parameters the new version still defines.
    const params = new Set(input.configDefs.map((d) => d.param));
    const kept = Object.fromEntries(Object.entries(existing?.config ?? {}).filter(([k]) => params.has(k)));
    const given = input.config && unmaskConfig(input.configDefs, input.config, existing?.config);
    const config = existing ? { ...(given ?? {}), ...kept } : given;
    const mediator: Mediator = {
      ...withStoredMediatorPasswords({ ...input, endpoints: input.endpoints?.length ? input.endpoints : existing!.endpoints, defaultChannelConfig: defaultChannels }, existing),
      _id: existing?._id ?? newObjectId(),
      ...(config ? { config } : {}),
      ...(existing?._lastHeartbeat ? { _lastHeartbeat: existing._lastHeartbeat, _uptime: existing._uptime } : {}),
      _configModifiedTS: new Date().toISOString(),
    };
    await deps.mediators.upsert(mediator);
    auditChange(deps, request, existing ? 'U' : 'C', `Mediator/${mediator.urn}`);
    return { result: `mediator ${mediator.urn} ${mediator.version} registered` };
  });

  app.delete<{ Params: { urn: string } }>('/mediators/:urn', async (request) => {
    if (!(await deps.mediators.delete(request.params.urn))) throw missing('No mediator found for this urn.');
    auditChange(deps, request, 'D', `Mediator/${request.params.urn}`);
    return { result: `mediator ${request.params.urn} deleted` };
  });

  app.post<{ Params: { urn: string } }>('/mediators/:urn/heartbeat', async (request, reply) => {
    const beat = parseBody(heartbeatSchema, request.body, 'heartbeat');
    // Only the heartbeat fields change, in one statement: a heartbeat on one replica never
    // overwrites a config saved meanwhile through another.
    const beaten = await deps.mediators.recordHeartbeat(request.params.urn, beat.uptime, new Date().toISOString());
    if (!beaten) throw missing('No mediator found for this urn.');
    const { mediator: m, previous } = beaten;
    const changed = Boolean(m._configModifiedTS && (!previous || m._configModifiedTS > previous));
    if (beat.config === true || changed) return m.config ?? {};
    reply.code(200);
    return '';
  });

  app.put<{ Params: { urn: string } }>('/mediators/:urn/config', async (request) => {
    const m = await deps.mediators.byUrn(request.params.urn);
    if (!m) throw missing('No mediator found for this urn.');
    const body = request.body;
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('send the config as a JSON object');
    const config = unmaskConfig(m.configDefs, body as Record<string, unknown>, m.config);
    validateConfig(m.configDefs, config);
    await deps.mediators.upsert({ ...m, config, _configModifiedTS: new Date().toISOString() });
    auditChange(deps, request, 'U', `Mediator/${m.urn}`);
    return maskConfig(m.configDefs, config);
  });

  app.post<{ Params: { urn: string } }>('/mediators/:urn/channels', async (request, reply) => {
    const m = await deps.mediators.byUrn(request.params.urn);
    if (!m) throw missing('No mediator found for this urn.');
    // No body (an empty JSON body reads as {}, as koa-bodyparser reads it for OpenHIM) installs all.
    const body = request.body;
    const names = body === undefined || body === null || (typeof body === 'object' && !Array.isArray(body) && Object.keys(body).length === 0) ? [] : body;
    if (!Array.isArray(names) || !names.every((n) => typeof n === 'string')) throw badRequest('send a list of channel names ([] installs all)');
    const wanted = names.length ? m.defaultChannelConfig.filter((c) => names.includes(c.name)) : m.defaultChannelConfig;
    const unknown = (names as string[]).filter((n) => !m.defaultChannelConfig.some((c) => c.name === n));
    if (unknown.length) throw badRequest(`mediator ${m.urn} has no default channel named ${unknown.join(', ')}`);
    const installed: string[] = [];
    // OpenHIM installs a mediator's default channels as given (saveDefaultChannelConfig), and its own
    // fixtures give routes no `primary`: a channel with no primary route takes its first enabled one.
    const installable = wanted.map(withPrimaryRoute);
    for (const channel of installable) validateChannel(channel); // all or nothing: check every one first
    for (const channel of installable) {
      // Idempotent: a channel of that name already there is left as it is.
      if (await deps.channels.byName(channel.name)) continue;
      const { _id: _unused, ...fresh } = channel;
      await createChannel(deps, fresh, userOf(request));
      installed.push(channel.name);
    }
    auditChange(deps, request, 'C', `Mediator/${m.urn}/channels`);
    reply.code(201);
    return { result: 'channels installed', installed };
  });
}

type DefaultChannel = Mediator['defaultChannelConfig'][number];

/** The channel with its first enabled route primary when none is (a mediator's default channel, as OpenHIM's fixtures write them). */
function withPrimaryRoute(channel: DefaultChannel): DefaultChannel {
  const routes = channel.routes ?? [];
  if (routes.some((r) => r.primary && r.status !== 'disabled')) return channel;
  const first = routes.findIndex((r) => r.status !== 'disabled');
  if (first < 0) return channel;
  return { ...channel, routes: routes.map((r, i) => (i === first ? { ...r, primary: true } : r)) };
}
