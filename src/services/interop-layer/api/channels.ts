import type { FastifyInstance } from 'fastify';
import type { IolDeps } from '../deps.js';
import { badRequest, conflict, forbidden, IolError, missing } from '../errors.js';
import type { Channel, User } from '../models.js';
import { channelPatchOps } from '../channel-patches.js';
import { newObjectId } from '../ids.js';
import { validateChannel } from '../validation.js';
import { isAdmin, userOf } from './auth.js';
import { auditChange } from './common.js';
import type { ScopedRoutes } from './scopes.js';
import { publicChannel, withStoredRoutePasswords } from './secrets.js';

/** Channels a non-admin may see: those whose transaction view ACLs name one of their groups. */
export function visibleTo(user: User, channel: Channel): boolean {
  if (isAdmin(user)) return true;
  return [...channel.txViewAcl, ...channel.txViewFullAcl].some((g) => user.groups.includes(g));
}

/** Who saved a channel, as OpenHIM records it (utils.selectAuditFields). */
export function auditFields(user: User | undefined): Channel['updatedBy'] {
  if (!user) return undefined;
  return { id: user._id, name: `${user.firstname} ${user.surname}`.trim() || user.email };
}

/** Adds the change to the channel's audit trail (GET /channels/:id/audits). */
export async function recordChannelChange(deps: IolDeps, before: Channel | undefined, after: Channel, user: User | undefined): Promise<void> {
  const ops = channelPatchOps(before ?? {}, after);
  if (ops.length === 0) return;
  await deps.channels.recordPatch({ _id: newObjectId(), ref: after._id, ops, date: new Date().toISOString(), updatedBy: auditFields(user) ?? {} });
}

/** Creates a channel, or answers 409 when the name is taken. Shared with mediator channel install. */
export async function createChannel(deps: IolDeps, body: unknown, user?: User): Promise<Channel> {
  const channel = withStoredRoutePasswords(validateChannel(body), undefined);
  if (user) channel.updatedBy = auditFields(user);
  if (await deps.channels.byName(channel.name)) throw conflict(`a channel named "${channel.name}" already exists`);
  await deps.channels.insert(channel);
  await recordChannelChange(deps, undefined, channel, user);
  await deps.routing.reload();
  return channel;
}

/** Any user lists and reads the channels their groups may view; admins change them. */
export function channelRoutes(deps: IolDeps): ScopedRoutes {
  return { user: (scope) => registerChannelReads(scope, deps), admin: (scope) => registerChannelChanges(scope, deps) };
}

function registerChannelReads(app: FastifyInstance, deps: IolDeps): void {
  // As OpenHIM (authorisation.getUserViewableChannels): deleted channels too (status "deleted"),
  // so transactions of a deleted channel can still be named; lists of live channels filter them.
  app.get('/channels', { config: { userCheck: 'txViewAcl' } }, async (request) => {
    const user = userOf(request);
    return (await deps.channels.list(true)).filter((c) => visibleTo(user, c)).map((c) => publicChannel(c, isAdmin(user)));
  });

  app.get<{ Params: { id: string } }>('/channels/:id', { config: { userCheck: 'txViewAcl' } }, async (request) => {
    const user = userOf(request);
    const channel = (await deps.channels.byId(request.params.id)) ?? (await deps.channels.byName(request.params.id));
    if (!channel) throw missing(`We could not find a channel with Id:'${request.params.id}'.`);
    // As OpenHIM's getChannel: a channel the user may not view is a 403.
    // OpenHIM's getChannel words (the user's groups are not in the channel's txViewAcl).
    if (!visibleTo(user, channel)) throw forbidden(`Access denied to channel with Id: '${request.params.id}'.`);
    return publicChannel(channel, isAdmin(user));
  });
}

function registerChannelChanges(app: FastifyInstance, deps: IolDeps): void {
  app.post('/channels', async (request, reply) => {
    const channel = await createChannel(deps, request.body, userOf(request));
    auditChange(deps, request, 'C', `Channel/${channel._id}`);
    reply.code(201);
    return publicChannel(channel, true);
  });

  app.put<{ Params: { id: string } }>('/channels/:id', async (request) => {
    const existing = (await deps.channels.byId(request.params.id)) ?? (await deps.channels.byName(request.params.id));
    if (!existing) throw missing(`We could not find a channel with Id:'${request.params.id}'.`);
    const channel = withStoredRoutePasswords(validateChannel(request.body, existing), existing);
    if (channel.name !== existing.name && (await deps.channels.byName(channel.name))) {
      throw conflict(`a channel named "${channel.name}" already exists`);
    }
    channel.updatedBy = auditFields(userOf(request));
    await deps.channels.update(channel);
    await recordChannelChange(deps, existing, channel, userOf(request));
    await deps.routing.reload();
    auditChange(deps, request, 'U', `Channel/${channel._id}`);
    return publicChannel(channel, true);
  });

  app.delete<{ Params: { id: string } }>('/channels/:id', async (request) => {
    const existing = await deps.channels.byId(request.params.id);
    if (!existing) throw missing(`We could not find a channel with Id:'${request.params.id}'.`);
    // Transactions keep pointing at their channel: one with transactions is marked deleted, not removed.
    const used = (await deps.transactions.count({ channelIDs: [existing._id] })) > 0;
    if (used) {
      const deleted: Channel = { ...existing, status: 'deleted', name: `${existing.name} (deleted ${existing._id})`, updatedBy: auditFields(userOf(request)) };
      await deps.channels.update(deleted);
      await recordChannelChange(deps, existing, deleted, userOf(request));
    } else await deps.channels.delete(existing._id);
    await deps.routing.reload();
    auditChange(deps, request, 'D', `Channel/${existing._id}`);
    return { result: `channel ${existing.name} deleted` };
  });

  // As OpenHIM: the channel's changes, newest first; an unknown channel has none ([]).
  app.get<{ Params: { id: string } }>('/channels/:id/audits', async (request) => {
    const channel = await deps.channels.byId(request.params.id);
    return channel ? deps.channels.patches(channel._id) : [];
  });

  // As OpenHIM's triggerChannel: the channel's routes get the request its polling job sends (GET /trigger), now.
  app.post<{ Params: { id: string } }>('/channels/:id/trigger', { config: { deniedAs: 'removeChannel' } }, async (request, reply) => {
    const existing = await deps.channels.byId(request.params.id);
    if (!existing) throw new IolError(404, 'IOL_NOT_FOUND', `We could not find a channel with Id:'${request.params.id.slice(0, 64)}'.`);
    const outcome = await deps.poll?.(existing._id);
    if (!outcome) throw badRequest(`channel ${existing.name} is not an enabled http or polling channel: it cannot be triggered`);
    auditChange(deps, request, 'E', `Channel/${existing._id}`);
    if (outcome.failed) reply.code(500);
    return { ...(outcome.transactionId ? { transactionId: outcome.transactionId } : {}), result: outcome.failed ? 'the poll failed: see the transaction' : 'Channel successfully polled' };
  });
}
