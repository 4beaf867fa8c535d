import type { FastifyInstance } from 'fastify';
import type { IolDeps } from '../deps.js';
import { badRequest, conflict, missing } from '../errors.js';
import { newObjectId } from '../ids.js';
import { clientSchema, type Client, type ClientInput, type ClientSecrets } from '../models.js';
import { clientHashToStore } from '../client-passwords.js';
import { hashPassword, sha256hex } from '../passwords.js';
import type { ClientRow } from '../store/entities.js';
import { parseBody } from '../validation.js';
import type { ScopedRoutes } from './scopes.js';
import { auditChange } from './common.js';
import { checkStorable } from './query-filters.js';
import { refuseClientIdTakenByRole, refuseRolesNamingClients } from './role-names.js';

/** Hashes what a client input carries (password, console hash, custom token) over the stored secrets. */
export async function secretsFrom(input: ClientInput, maxBcryptCost: number, previous: ClientSecrets = {}): Promise<ClientSecrets> {
  const secrets: ClientSecrets = { ...previous };
  if (input.password) {
    secrets.passwordAlgorithm = 'scrypt';
    secrets.passwordHash = await hashPassword(input.password);
    delete secrets.passwordSalt;
  } else if (input.passwordHash !== undefined) {
    // An empty hash is refused there, not ignored: it never verifies.
    Object.assign(secrets, clientHashToStore(input.passwordAlgorithm, input.passwordHash, input.passwordSalt, maxBcryptCost));
  }
  if (input.customTokenID) secrets.customTokenHash = sha256hex(input.customTokenID);
  return secrets;
}

/** The stored client document: the input without its secrets. */
export function toClient(input: ClientInput, id: string, secrets: ClientSecrets): Client {
  const { password: _p, passwordHash: _h, passwordSalt: _s, customTokenID: _t, _id: _i, passwordAlgorithm: _a, ...doc } = input;
  return { ...doc, _id: id, ...(secrets.passwordAlgorithm ? { passwordAlgorithm: secrets.passwordAlgorithm } : {}) };
}

/** What GET shows: never the hash, salt or custom token; `customTokenSet` says whether there is one. */
export function publicClient(row: ClientRow): Client & { customTokenSet: boolean } {
  return { ...row.doc, customTokenSet: Boolean(row.secrets.customTokenHash) };
}

type Credential = 'password' | 'customToken';

/**
 * OpenHIM's console removes a client's Basic auth by sending `passwordHash: null, passwordSalt:
 * null` (or `password: null`), and its custom token by `customTokenID: null` (clientsAPITests):
 * those nulls clear the credential; the rest of the body is read as any.
 */
function withoutClearedCredentials(given: Record<string, unknown>): { body: Record<string, unknown>; cleared: Set<Credential> } {
  const body = { ...given };
  const cleared = new Set<Credential>();
  for (const key of ['password', 'passwordHash', 'passwordSalt', 'passwordAlgorithm'] as const) {
    if (Object.hasOwn(body, key) && body[key] === null) {
      delete body[key];
      if (key !== 'passwordSalt' && key !== 'passwordAlgorithm') cleared.add('password');
    }
  }
  if (Object.hasOwn(body, 'customTokenID') && body.customTokenID === null) {
    delete body.customTokenID;
    cleared.add('customToken');
  }
  return { body, cleared };
}

function withoutSecrets(secrets: ClientSecrets, cleared: ReadonlySet<Credential>): ClientSecrets {
  const { passwordAlgorithm, passwordHash, passwordSalt, customTokenHash, ...rest } = secrets;
  return {
    ...rest,
    ...(cleared.has('password') ? {} : { passwordAlgorithm, passwordHash, passwordSalt }),
    ...(cleared.has('customToken') ? {} : { customTokenHash }),
  };
}

/**
 * A custom token names one client (OpenHIM: a unique index on customTokenID): a second client with
 * it would take over the first's token (the router looks clients up by it). 400 as OpenHIM.
 */
async function refuseTakenToken(deps: IolDeps, token: string | undefined, exceptId?: string): Promise<void> {
  if (!token) return;
  const holder = await deps.clients.holderOfToken(sha256hex(token), exceptId);
  if (holder !== undefined) throw badRequest(`customTokenID is already the token of another client: give each client its own`);
}

/** Clients: admins only, but for a client's name, which every user may read (as OpenHIM). */
export function clientRoutes(deps: IolDeps): ScopedRoutes {
  return { user: (scope) => registerClientNameRoute(scope, deps), admin: (scope) => registerClientRoutes(scope, deps) };
}

function registerClientNameRoute(app: FastifyInstance, deps: IolDeps): void {
  // OpenHIM's getClient(ctx, id, 'clientName'): by _id, or by clientID with ?byNamedClientID=true; only `name`.
  app.get<{ Params: { clientId: string }; Querystring: { byNamedClientID?: string } }>('/clients/:clientId/clientName', { config: { userCheck: 'client-name' } }, async (request) => {
    checkStorable(request.params.clientId, 'clientId');
    const row = await deps.clients.find(request.params.clientId);
    const byClientID = request.query.byNamedClientID === 'true';
    if (!row || (byClientID ? row.doc.clientID : row.doc._id) !== request.params.clientId) throw missing(`Client with id ${request.params.clientId} could not be found.`);
    return { name: row.doc.name };
  });
}

function registerClientRoutes(app: FastifyInstance, deps: IolDeps): void {
  app.get('/clients', async () => {
    return (await deps.clients.listWithSecrets()).map(publicClient);
  });

  app.get<{ Params: { domain: string } }>('/clients/domain/:domain', async (request) => {
    checkStorable(request.params.domain, 'domain');
    const row = await deps.clients.byDomain(request.params.domain);
    if (!row) throw missing(`Could not find client with clientDomain ${request.params.domain}`);
    return publicClient(row);
  });

  app.post('/clients', async (request, reply) => {
    const input = parseBody(clientSchema, request.body, 'client');
    if (await deps.clients.find(input.clientID)) throw conflict(`a client with clientID ${input.clientID} already exists`);
    // OpenHIM's order (clientsAPITests): a clientID that is a role already is 409 before its own roles are looked at (400).
    await refuseClientIdTakenByRole(deps, input.clientID);
    await refuseRolesNamingClients(deps, input.clientID, input.roles);
    await refuseTakenToken(deps, input.customTokenID);
    const secrets = await secretsFrom(input, deps.config.limits.clientBcryptMaxCost);
    const client = toClient(input, newObjectId(), secrets);
    await deps.clients.insert({ doc: client, secrets });
    await deps.routing.reload();
    auditChange(deps, request, 'C', `Client/${client._id}`);
    reply.code(201);
    return publicClient({ doc: client, secrets });
  });

  app.get<{ Params: { clientId: string } }>('/clients/:clientId', async (request) => {
    const row = await deps.clients.find(request.params.clientId);
    if (!row) throw missing(`Client with id ${request.params.clientId} could not be found.`);
    return publicClient(row);
  });

  app.put<{ Params: { clientId: string } }>('/clients/:clientId', async (request) => {
    const row = await deps.clients.find(request.params.clientId);
    if (!row) throw missing(`Client with id ${request.params.clientId} could not be found.`);
    const { body, cleared } = withoutClearedCredentials((request.body ?? {}) as Record<string, unknown>);
    const input = parseBody(clientSchema, { ...row.doc, ...body }, 'client');
    if (input.clientID !== row.doc.clientID) {
      const other = await deps.clients.find(input.clientID);
      if (other && other.doc._id !== row.doc._id) throw conflict(`a client with clientID ${input.clientID} already exists`);
    }
    // Roles are checked when they or the clientID change: a row stored before these checks can
    // still be edited otherwise (the router ignores a colliding role: routing-table.ts).
    // A new clientID that is a role (its own, as OpenHIM counts it, or another's) is 409 first.
    if (input.clientID !== row.doc.clientID) await refuseClientIdTakenByRole(deps, input.clientID);
    if ('roles' in body || input.clientID !== row.doc.clientID) await refuseRolesNamingClients(deps, input.clientID, input.roles, row.doc._id);
    if (typeof body.customTokenID === 'string') await refuseTakenToken(deps, body.customTokenID, row.doc._id);
    const secrets = await secretsFrom(parseBody(clientSchema, { clientID: input.clientID, name: input.name, ...body }, 'client'), deps.config.limits.clientBcryptMaxCost, withoutSecrets(row.secrets, cleared));
    const client = toClient(input, row.doc._id, secrets);
    await deps.clients.update({ doc: client, secrets });
    deps.verified.clear();
    await deps.routing.reload();
    auditChange(deps, request, 'U', `Client/${client._id}`);
    return publicClient({ doc: client, secrets });
  });

  app.delete<{ Params: { clientId: string } }>('/clients/:clientId', async (request) => {
    const row = await deps.clients.find(request.params.clientId);
    if (!row || !(await deps.clients.delete(row.doc._id))) throw missing(`Client with id ${request.params.clientId} could not be found.`);
    deps.verified.clear();
    await deps.routing.reload();
    auditChange(deps, request, 'D', `Client/${row.doc._id}`);
    return { result: `client ${row.doc.clientID} deleted` };
  });
}
