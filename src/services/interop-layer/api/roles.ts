/**
 * Roles, as OpenHIM keeps them: not a table but a name shared by clients' `roles` and channels'
 * `allow`. Creating a role adds the name to the listed channels and clients.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { IolDeps } from '../deps.js';
import { badRequest, conflict, missing } from '../errors.js';
import type { Channel } from '../models.js';
import { ChannelStore, ClientStore, type ClientRow } from '../store/entities.js';
import { parseBody } from '../validation.js';
import type { ScopedRoutes } from './scopes.js';
import { auditChange } from './common.js';
import { refuseRoleNamedLikeClient } from './role-names.js';

const refList = z.array(z.object({ _id: z.string().optional(), name: z.string().optional(), clientID: z.string().optional() })).default([]);
const roleSchema = z.object({ name: z.string().regex(/^[a-zA-Z0-9_.@-]+$/, 'letters, digits, _ . @ - only').optional(), channels: refList, clients: refList });

interface Role {
  name: string;
  channels: Array<{ _id: string; name: string }>;
  clients: Array<{ _id: string; clientID: string; name: string }>;
}

async function allRoles(deps: IolDeps): Promise<{ roles: Map<string, Role>; channels: Channel[]; clients: ClientRow[] }> {
  const [channels, clients] = await Promise.all([deps.channels.list(), deps.clients.listWithSecrets()]);
  const clientIds = new Set(clients.map((c) => c.doc.clientID));
  const roles = new Map<string, Role>();
  const role = (name: string) => {
    let r = roles.get(name);
    if (!r) roles.set(name, (r = { name, channels: [], clients: [] }));
    return r;
  };
  for (const c of clients) for (const name of c.doc.roles) role(name).clients.push({ _id: c.doc._id, clientID: c.doc.clientID, name: c.doc.name });
  for (const ch of channels) {
    for (const name of ch.allow) if (!clientIds.has(name)) role(name).channels.push({ _id: ch._id, name: ch.name });
  }
  return { roles, channels, clients };
}

async function applyMembership(
  deps: IolDeps,
  name: string,
  newName: string,
  channelRefs: z.infer<typeof refList> | undefined,
  clientRefs: z.infer<typeof refList> | undefined,
): Promise<void> {
  const { channels, clients } = await allRoles(deps);
  const chosenChannels = channelRefs && new Set(channelRefs.map((r) => r._id ?? r.name));
  const chosenClients = clientRefs && new Set(clientRefs.map((r) => r._id ?? r.clientID));
  if (chosenChannels) {
    for (const ref of chosenChannels) if (!channels.some((c) => c._id === ref || c.name === ref)) throw badRequest(`channel ${ref} does not exist`);
  }
  if (chosenClients) {
    for (const ref of chosenClients) if (!clients.some((c) => c.doc._id === ref || c.doc.clientID === ref)) throw badRequest(`client ${ref} does not exist`);
  }
  await deps.db.transaction(async (tx) => {
    const channelStore = new ChannelStore(tx);
    const clientStore = new ClientStore(tx);
    for (const ch of channels) {
      const member = chosenChannels ? chosenChannels.has(ch._id) || chosenChannels.has(ch.name) : ch.allow.includes(name);
      const allow = ch.allow.filter((a) => a !== name && a !== newName);
      if (member) allow.push(newName);
      if (JSON.stringify(allow) !== JSON.stringify(ch.allow)) await channelStore.update({ ...ch, allow });
    }
    for (const c of clients) {
      const member = chosenClients ? chosenClients.has(c.doc._id) || chosenClients.has(c.doc.clientID) : c.doc.roles.includes(name);
      const roles = c.doc.roles.filter((r) => r !== name && r !== newName);
      if (member) roles.push(newName);
      if (JSON.stringify(roles) !== JSON.stringify(c.doc.roles)) await clientStore.update({ doc: { ...c.doc, roles }, secrets: c.secrets });
    }
  });
  await deps.routing.reload();
}

/** Roles: admins only. */
export function roleRoutes(deps: IolDeps): ScopedRoutes {
  return { admin: (scope) => registerRoleRoutes(scope, deps) };
}

function registerRoleRoutes(app: FastifyInstance, deps: IolDeps): void {
  app.get('/roles', async () => {
    return [...(await allRoles(deps)).roles.values()].sort((a, b) => a.name.localeCompare(b.name));
  });

  app.get<{ Params: { name: string } }>('/roles/:name', async (request) => {
    const role = (await allRoles(deps)).roles.get(request.params.name);
    if (!role) throw missing(`Role with name '${request.params.name}' could not be found.`);
    return role;
  });

  app.post('/roles', async (request, reply) => {
    const input = parseBody(roleSchema, request.body, 'role');
    if (!input.name) throw badRequest('Must specify a role name');
    if (input.channels.length + input.clients.length === 0) throw badRequest('Must specify at least one channel or client to link the role to');
    if ((await allRoles(deps)).roles.has(input.name)) throw badRequest(`Role with name '${input.name}' already exists.`);
    await refuseRoleNamedLikeClient(deps, input.name);
    await applyMembership(deps, input.name, input.name, input.channels, input.clients);
    auditChange(deps, request, 'C', `Role/${input.name}`);
    reply.code(201);
    return (await allRoles(deps)).roles.get(input.name);
  });

  app.put<{ Params: { name: string } }>('/roles/:name', async (request) => {
    const body = (request.body ?? {}) as Record<string, unknown>;
    const input = parseBody(roleSchema, body, 'role');
    const { roles } = await allRoles(deps);
    if (!roles.has(request.params.name)) throw missing(`Role with name '${request.params.name}' could not be found.`);
    const newName = input.name ?? request.params.name;
    if (newName !== request.params.name && roles.has(newName)) throw badRequest(`Role with name '${newName}' already exists.`);
    if (newName !== request.params.name) await refuseRoleNamedLikeClient(deps, newName);
    // As OpenHIM (rolesAPITests): an update that would leave the role on no channel and no client
    // would delete it; that is DELETE's to do, so it is a 400.
    const current = roles.get(request.params.name)!;
    const channelsLeft = 'channels' in body ? (input.channels ?? []).length : current.channels.length;
    const clientsLeft = 'clients' in body ? (input.clients ?? []).length : current.clients.length;
    if (channelsLeft === 0 && clientsLeft === 0) throw badRequest(`role ${request.params.name} would be on no channel and no client, which would remove it: delete it with DELETE /roles/${request.params.name}`);
    await applyMembership(deps, request.params.name, newName, 'channels' in body ? input.channels : undefined, 'clients' in body ? input.clients : undefined);
    auditChange(deps, request, 'U', `Role/${newName}`);
    return (await allRoles(deps)).roles.get(newName) ?? { name: newName, channels: [], clients: [] };
  });

  app.delete<{ Params: { name: string } }>('/roles/:name', async (request) => {
    if (!(await allRoles(deps)).roles.has(request.params.name)) throw missing(`Role with name '${request.params.name}' could not be found.`);
    await applyMembership(deps, request.params.name, request.params.name, [], []);
    auditChange(deps, request, 'D', `Role/${request.params.name}`);
    return { result: `role ${request.params.name} deleted` };
  });
}
