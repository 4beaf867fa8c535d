/**
 * Metadata export and import (OpenHIM's /metadata): channels by name, clients by clientID,
 * mediators by urn, users by email, contact groups by group. Import upserts, so running it
 * twice changes nothing the second time; /metadata/validate reports what import would do.
 * Exports carry no secret: route and mediator passwords are masked (and a mask imported keeps the
 * stored value), clients and users have no hashes, salts or tokens in their documents.
 */
import type { FastifyInstance } from 'fastify';
import type { IolDeps } from '../deps.js';
import { IolError, badRequest } from '../errors.js';
import { newObjectId } from '../ids.js';
import { clientSchema, contactGroupSchema, mediatorSchema, userSchema, type User } from '../models.js';
import { auditFields, recordChannelChange } from './channels.js';
import { userOf } from './auth.js';
import { parseBody, unmaskConfig, validateChannel, validateConfigDefs } from '../validation.js';
import type { ScopedRoutes } from './scopes.js';
import { auditChange } from './common.js';
import { publicMediator } from './mediators.js';
import { publicChannel, withStoredMediatorPasswords, withStoredRoutePasswords } from './secrets.js';
import { secretsFrom, toClient } from './clients.js';
import { refuseClientIdTakenByRole, refuseRolesNamingClients } from './role-names.js';
import { userSecrets } from './users.js';

const KEYS = ['Channels', 'Clients', 'Mediators', 'Users', 'ContactGroups'] as const;
type Key = (typeof KEYS)[number];

interface ImportResult {
  model: string;
  record: string;
  status: 'Inserted' | 'Updated' | 'Valid' | 'Conflict' | 'Error';
  message: string;
}

const groupSchema = contactGroupSchema;

/** Metadata export and import: admins only. */
export function metadataRoutes(deps: IolDeps): ScopedRoutes {
  return { admin: (scope) => registerMetadataRoutes(scope, deps) };
}

function registerMetadataRoutes(app: FastifyInstance, deps: IolDeps): void {
  app.get('/metadata', async () => {
    return [
      {
        Channels: (await deps.channels.list()).map((c) => publicChannel(c, true)),
        Clients: await deps.clients.list(),
        Mediators: (await deps.mediators.list()).map(publicMediator),
        Users: await deps.users.list(),
        ContactGroups: await deps.contactGroups.list(),
      },
    ];
  });

  async function importOne(key: Key, item: unknown, dryRun: boolean, user: User | undefined): Promise<ImportResult> {
    const model = key; // as OpenHIM's results name it: the collection (buildResponseObject)
    // The item's name as given, so an error names it even when the item is refused.
    let record = recordName(item);
    // What a dry run would do with an item, and what the import did: by whether it existed.
    const planned = (existing: unknown): ImportResult => ({ model, record, status: existing ? 'Conflict' : 'Valid', message: existing ? 'will update' : '' });
    const applied = (existing: unknown): ImportResult => ({ model, record, status: existing ? 'Updated' : 'Inserted', message: '' });
    try {
      switch (key) {
        case 'Channels': {
          const input = validateChannel(item);
          record = input.name;
          const existing = await deps.channels.byName(input.name);
          if (dryRun) return planned(existing);
          // An export carries masked route passwords: importing it keeps the stored ones.
          const channel = existing ? withStoredRoutePasswords(validateChannel(item, existing), existing) : withStoredRoutePasswords(input, undefined);
          channel.updatedBy = auditFields(user);
          if (existing) await deps.channels.update(channel);
          else await deps.channels.insert(channel);
          await recordChannelChange(deps, existing, channel, user);
          return applied(existing);
        }
        case 'Clients': {
          const input = parseBody(clientSchema, item, 'client');
          record = input.clientID;
          const existing = await deps.clients.find(input.clientID);
          // The same namespace rules as POST/PUT /clients (api/role-names.ts), in a dry run too.
          await refuseRolesNamingClients(deps, input.clientID, input.roles, existing?.doc._id);
          if (!existing) await refuseClientIdTakenByRole(deps, input.clientID, undefined, false);
          if (dryRun) return planned(existing);
          const secrets = await secretsFrom(input, deps.config.limits.clientBcryptMaxCost, existing?.secrets);
          const client = { ...existing?.doc, ...toClient(input, existing?.doc._id ?? newObjectId(), secrets) };
          if (existing) await deps.clients.update({ doc: client, secrets });
          else await deps.clients.insert({ doc: client, secrets });
          return applied(existing);
        }
        case 'Mediators': {
          const input = parseBody(mediatorSchema, item, 'mediator');
          record = input.urn;
          validateConfigDefs(input.configDefs);
          const existing = await deps.mediators.byUrn(input.urn);
          if (dryRun) return planned(existing);
          const config = { ...unmaskConfig(input.configDefs, input.config ?? {}, undefined), ...(existing?.config ?? {}) };
          await deps.mediators.upsert({
            ...existing,
            ...withStoredMediatorPasswords(input, existing),
            config,
            _id: existing?._id ?? newObjectId(),
          });
          return applied(existing);
        }
        case 'Users': {
          const input = parseBody(userSchema, item, 'user');
          record = input.email;
          const existing = await deps.users.byEmail(input.email);
          if (dryRun) return planned(existing);
          const secrets = await userSecrets(deps, input, input.email);
          const { password: _p, passwordHash: _h, passwordSalt: _s, passwordAlgorithm: _a, _id: _i, ...doc } = input;
          const user = { ...doc, _id: existing?.doc._id ?? newObjectId() };
          if (existing) await deps.users.update(user, secrets);
          else await deps.users.insert(user, secrets ?? { scryptHash: null, legacySalt: null, legacyHash: null });
          return applied(existing);
        }
        case 'ContactGroups': {
          const input = parseBody(groupSchema, item, 'contact group');
          record = input.group;
          const existing = await deps.contactGroups.find(input.group);
          if (dryRun) return planned(existing);
          // A new group keeps the `_id` it was exported with, free here, as OpenHIM's import keeps a
          // document's: channels' alerts in the same import name their groups by it.
          const given = (item as { _id?: unknown })._id;
          const keep = typeof given === 'string' && /^[0-9a-f]{24}$/.test(given) && !(await deps.contactGroups.find(given)) ? given : undefined;
          await deps.contactGroups.upsert({ _id: existing?._id ?? keep ?? newObjectId(), ...input });
          return applied(existing);
        }
      }
    } catch (error) {
      return { model, record, status: 'Error', message: error instanceof IolError ? error.message : (error as Error).message };
    }
  }

  async function importAll(body: unknown, dryRun: boolean, user?: User): Promise<ImportResult[]> {
    const documents = Array.isArray(body) ? body : [body];
    const results: ImportResult[] = [];
    for (const doc of documents) {
      if (!doc || typeof doc !== 'object') throw badRequest('metadata must be an object (or a list of objects) keyed by Channels, Clients, Mediators, Users, ContactGroups');
      for (const [key, items] of Object.entries(doc as Record<string, unknown>)) {
        if (!KEYS.includes(key as Key)) {
          // As OpenHIM (api/metadata.js): each item of a collection it does not import is an Error
          // result, the rest goes in. OpenHIM's own export has Passports and Keystore besides.
          for (const item of Array.isArray(items) ? items : [items]) {
            results.push({ model: key.slice(0, 60), record: recordName(item), status: 'Error', message: `Invalid Collection in Import Object: this server imports ${KEYS.join(', ')}` });
          }
          continue;
        }
        if (!Array.isArray(items)) throw badRequest(`metadata ${key} must be a list`);
        for (const item of items) results.push(await importOne(key as Key, item, dryRun, user));
      }
    }
    return results;
  }

  app.post('/metadata', async (request, reply) => {
    const results = await importAll(request.body, false, userOf(request));
    await deps.routing.reload();
    deps.verified.clear();
    auditChange(deps, request, 'U', 'Metadata', !results.some((r) => r.status === 'Error'));
    reply.code(201);
    return results;
  });

  app.post('/metadata/validate', async (request, reply) => {
    reply.code(201);
    return importAll(request.body, true);
  });
}

/** What names an import item (its name, clientID, urn, email or group), for the result list. */
function recordName(item: unknown): string {
  if (!item || typeof item !== 'object') return '?';
  const fields = item as Record<string, unknown>;
  for (const key of ['name', 'clientID', 'urn', 'email', 'group']) {
    if (typeof fields[key] === 'string' && fields[key]) return String(fields[key]).slice(0, 200);
  }
  return '?';
}
