/**
 * Role names and clientIDs share one namespace: a channel's `allow` lists both, and the router
 * lets a client in when `allow` names its clientID or one of its roles. A role named like a
 * client would silently hand that client's channels to the role's members (or the role's
 * channels to the client), so the two never collide, as OpenHIM answers: 409 for a name taken by
 * the other kind, 400 for a client listing its own clientID as a role.
 */
import type { IolDeps } from '../deps.js';
import { badRequest, conflict } from '../errors.js';

/**
 * Where a name is used as a role: by clients' `roles`, and (`channelAllow`) by a channel's
 * `allow` (the name is no client's yet, so there it is a role, as OpenHIM counts it).
 */
async function roleUses(deps: IolDeps, name: string, exceptClientId: string | undefined, channelAllow: boolean): Promise<string[]> {
  const [channels, clients] = await Promise.all([channelAllow ? deps.channels.list(true) : [], deps.clients.list()]);
  const uses: string[] = [];
  for (const c of clients) if (c._id !== exceptClientId && c.roles.includes(name)) uses.push(`client ${c.clientID}`);
  for (const ch of channels) if (ch.allow.includes(name)) uses.push(`channel ${ch.name}`);
  return uses;
}

/**
 * A new or renamed client's clientID must not be a role name (OpenHIM api/clients.js addClient).
 * `channelAllow: false` (metadata import) counts only clients' roles: an OpenHIM export lists
 * channels, whose `allow` names clients directly, before the clients themselves.
 */
export async function refuseClientIdTakenByRole(deps: IolDeps, clientID: string, clientId?: string, channelAllow = true): Promise<void> {
  const uses = await roleUses(deps, clientID, clientId, channelAllow);
  if (uses.length > 0) {
    throw conflict(
      `A role name conflicts with clientID '${clientID}'. A role name cannot be the same as a clientID: ` +
        `${clientID} is a role of ${uses.slice(0, 5).join(', ')}${uses.length > 5 ? ', ...' : ''}; choose another clientID or delete the role (DELETE /roles/${encodeURIComponent(clientID)})`,
    );
  }
}

/** A client's roles: never its own clientID (400, as OpenHIM) nor another client's (409: it would act as that client). */
export async function refuseRolesNamingClients(deps: IolDeps, clientID: string, roles: readonly string[], clientId?: string): Promise<void> {
  if (roles.includes(clientID)) throw badRequest(`ClientID '${clientID}' cannot be the same as a role name: remove it from roles`);
  if (roles.length === 0) return;
  const wanted = new Set(roles);
  const clash = (await deps.clients.list()).find((c) => c._id !== clientId && wanted.has(c.clientID));
  if (clash) throw conflict(`role '${clash.clientID}' is the clientID of another client: a role name cannot be the same as a clientID (its members would get that client's channels)`);
}

/** A role's new name must not be a clientID (OpenHIM api/roles.js addRole, updateRole). */
export async function refuseRoleNamedLikeClient(deps: IolDeps, name: string): Promise<void> {
  if ((await deps.clients.list()).some((c) => c.clientID === name)) {
    throw conflict(`A clientID conflicts with role name '${name}'. A role name cannot be the same as a clientID.`);
  }
}
