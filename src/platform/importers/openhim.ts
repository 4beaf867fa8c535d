import { InstantError } from '../../common/errors.js';
import { readJsonResponse, type ImportContext, type ImportResult, type Importer } from './importer.js';

/**
 * Applies OpenHIM configuration (the shape of OpenHIM's metadata export: Channels, Clients,
 * Roles, ContactGroups) through the admin API, upserting each item by its natural key so that
 * init run twice leaves the same state. A client may carry a plain `password`: our interop layer
 * hashes it with scrypt (it is sent over the loopback admin API, never logged).
 */
const COLLECTIONS = [
  { key: 'Clients', path: '/clients', id: 'clientID' },
  { key: 'Channels', path: '/channels', id: 'name' },
  { key: 'Roles', path: '/roles', id: 'name' },
  { key: 'ContactGroups', path: '/groups', id: 'group' },
] as const;

type Item = Record<string, unknown>;

function adminApi(context: ImportContext): { base: string; authorization: string } {
  const base = context.endpoints[context.service ?? 'interop-layer']?.api ?? context.vars.OPENHIM_API_URL;
  if (!base) {
    throw new InstantError('INSTANT_IMPORT_TARGET_MISSING', 'the openhim importer needs the interop-layer service running (or OPENHIM_API_URL)', 'add the interoperability-layer package as a dependency');
  }
  const user = context.vars.OPENHIM_ROOT_EMAIL;
  const password = context.vars.OPENHIM_ROOT_PASSWORD;
  if (!user || !password) {
    throw new InstantError('INSTANT_SETTING_MISSING', 'the openhim importer needs OPENHIM_ROOT_EMAIL and OPENHIM_ROOT_PASSWORD', 'run `instant init` so the secrets are generated');
  }
  return { base, authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

/** True when every field we would send already has that value; a password cannot be compared. */
function sameAs(existing: Item, wanted: Item): boolean {
  if ('password' in wanted || 'passwordHash' in wanted) return false;
  return Object.entries(wanted).every(([key, value]) => JSON.stringify(existing[key]) === JSON.stringify(value));
}

export const importOpenhimConfig: Importer = async (content, context, origin) => {
  if (!content || typeof content !== 'object' || Array.isArray(content)) {
    throw new InstantError('INSTANT_IMPORT_INVALID', `${origin}: expected an object with Channels, Clients, Roles or ContactGroups`);
  }
  const { base, authorization } = adminApi(context);
  const headers = { authorization, 'content-type': 'application/json' };
  const result: ImportResult = { created: 0, updated: 0, unchanged: 0 };
  for (const collection of COLLECTIONS) {
    const items = (content as Record<string, unknown>)[collection.key];
    if (items === undefined) continue;
    if (!Array.isArray(items)) throw new InstantError('INSTANT_IMPORT_INVALID', `${origin}: ${collection.key} must be a list`);
    const existing = (await readJsonResponse(await fetch(`${base}${collection.path}`, { headers }), `GET ${collection.path}`)) as Item[];
    for (const raw of items as Item[]) {
      const key = raw[collection.id];
      if (typeof key !== 'string') throw new InstantError('INSTANT_IMPORT_INVALID', `${origin}: an item of ${collection.key} has no ${collection.id}`);
      const wanted = raw;
      const current = existing.find((e) => e[collection.id] === key);
      if (current && sameAs(current, wanted)) {
        result.unchanged++;
        continue;
      }
      const id = current ? String(current._id ?? key) : undefined;
      const url = current ? `${base}${collection.path}/${encodeURIComponent(collection.key === 'Clients' || collection.key === 'Roles' ? key : id!)}` : `${base}${collection.path}`;
      const response = await fetch(url, { method: current ? 'PUT' : 'POST', headers, body: JSON.stringify(wanted) });
      await readJsonResponse(response, `${current ? 'PUT' : 'POST'} ${collection.path} ${key}`);
      if (current) result.updated++;
      else result.created++;
      context.logger.debug({ collection: collection.key, key }, current ? 'updated' : 'created');
    }
  }
  return result;
};
