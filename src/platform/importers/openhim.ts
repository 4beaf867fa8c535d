import { createHash, scryptSync } from 'node:crypto';
import { InstantError } from '../../common/errors.js';
import { readJsonResponse, type ImportContext, type ImportResult, type Importer } from './importer.js';

/**
 * Applies OpenHIM configuration (the shape of OpenHIM's metadata export: Channels, Clients,
 * Roles, ContactGroups) through the admin API, upserting each item by its natural key so that
 * init run twice leaves the same state. Given a record of what it applied before (applied-config.ts),
 * it leaves alone what an operator changed or deleted since, unless told to reset. A client may carry a plain `password`: our interop layer
 * hashes it with scrypt (it is sent over the loopback admin API, never logged).
 */
const COLLECTIONS = [
  { key: 'Clients', path: '/clients', id: 'clientID' },
  { key: 'Channels', path: '/channels', id: 'name' },
  { key: 'Roles', path: '/roles', id: 'name' },
  { key: 'ContactGroups', path: '/groups', id: 'group' },
] as const;

type Item = Record<string, unknown>;

/** The admin API an openhim importer talks to, and the root credentials it uses. */
export function openhimAdminApi(context: Pick<ImportContext, 'vars' | 'endpoints' | 'service'>): { base: string; authorization: string } {
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
  if (SECRET_FIELDS.some((field) => field in wanted)) return false;
  return Object.entries(wanted).every(([key, value]) => canonical(existing[key]) === canonical(value));
}

/** Fields the admin API never answers with: compared by digest of what was sent, never by value. */
const SECRET_FIELDS = ['password', 'passwordHash', 'passwordSalt'];

/** JSON with object keys sorted: the same value however the service orders its fields. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v)) ?? 'undefined';
}

/** The service's values of the fields the package gives, secrets left out. */
function seenFields(current: Item, wanted: Item): Record<string, unknown> {
  return Object.fromEntries(Object.keys(wanted).filter((key) => !SECRET_FIELDS.includes(key)).map((key) => [key, current[key] ?? null]));
}

/**
 * A digest of the item as the package gives it. Secrets go in through scrypt (salted with the
 * item's name): the record in the database must not let anyone test guesses of a password fast.
 */
function digest(item: Item, name: string): string {
  const hidden = Object.fromEntries(Object.entries(item).map(([key, value]) => [key, SECRET_FIELDS.includes(key) ? scryptSync(String(value), `instant-applied-config:${name}`, 32).toString('hex') : value]));
  return createHash('sha256').update(canonical(hidden)).digest('hex');
}

/** The fields whose values differ from what was seen right after the last import. */
function changedSince(current: Item, seen: Record<string, unknown>): string[] {
  return Object.entries(seen).filter(([key, value]) => canonical(current[key] ?? null) !== canonical(value)).map(([key]) => key);
}

export const importOpenhimConfig: Importer = async (content, context, origin) => {
  if (!content || typeof content !== 'object' || Array.isArray(content)) {
    throw new InstantError('INSTANT_IMPORT_INVALID', `${origin}: expected an object with Channels, Clients, Roles or ContactGroups`);
  }
  const { base, authorization } = openhimAdminApi(context);
  const headers = { authorization, 'content-type': 'application/json' };
  const result: ImportResult = { created: 0, updated: 0, unchanged: 0, kept: 0 };
  const { applied } = context;
  for (const collection of COLLECTIONS) {
    const items = (content as Record<string, unknown>)[collection.key];
    if (items === undefined) continue;
    if (!Array.isArray(items)) throw new InstantError('INSTANT_IMPORT_INVALID', `${origin}: ${collection.key} must be a list`);
    const list = async (): Promise<Item[]> => (await readJsonResponse(await fetch(`${base}${collection.path}`, { headers }), `GET ${collection.path}`)) as Item[];
    const existing = await list();
    const toRecord: Array<{ key: string; wanted: Item }> = [];
    for (const raw of items as Item[]) {
      const key = raw[collection.id];
      if (typeof key !== 'string') throw new InstantError('INSTANT_IMPORT_INVALID', `${origin}: an item of ${collection.key} has no ${collection.id}`);
      const wanted = raw;
      const label = `${collection.key.replace(/s$/, '').toLowerCase()} "${key}"`;
      const current = existing.find((e) => e[collection.id] === key);
      const itemName = `${collection.key}/${key}`;
      const before = applied && !context.resetConfig ? await applied.get(itemName) : undefined;
      if (!current && before) {
        // Applied before and gone now: an operator deleted it.
        result.kept!++;
        context.notice?.(`${label} was deleted since it was imported: not created again (\`instant init --reset-config\` restores the package's items)`);
        continue;
      }
      const changed = current && before ? changedSince(current, before.seen) : [];
      if (changed.length) {
        result.kept!++;
        const packageChanged = before!.given !== digest(wanted, itemName) ? '; the package changed it too' : '';
        context.notice?.(`${label} was changed since it was imported (${changed.join(', ')}): kept as it is${packageChanged} (\`instant init --reset-config\` applies the package's)`);
        continue;
      }
      if (current && (before ? before.given === digest(wanted, itemName) : sameAs(current, wanted))) {
        result.unchanged++;
        if (!before) toRecord.push({ key, wanted });
        continue;
      }
      const id = current ? String(current._id ?? key) : undefined;
      const url = current ? `${base}${collection.path}/${encodeURIComponent(collection.key === 'Clients' || collection.key === 'Roles' ? key : id!)}` : `${base}${collection.path}`;
      const response = await fetch(url, { method: current ? 'PUT' : 'POST', headers, body: JSON.stringify(wanted) });
      await readJsonResponse(response, `${current ? 'PUT' : 'POST'} ${collection.path} ${key}`);
      if (current) result.updated++;
      else result.created++;
      toRecord.push({ key, wanted });
      context.logger.debug({ collection: collection.key, key }, current ? 'updated' : 'created');
    }
    if (applied && toRecord.length) {
      // What the service holds once applied (it may add defaults or order fields its own way).
      const now = await list();
      for (const { key, wanted } of toRecord) {
        const current = now.find((e) => e[collection.id] === key);
        const itemName = `${collection.key}/${key}`;
        if (current) await applied.set(itemName, { given: digest(wanted, itemName), seen: seenFields(current, wanted) });
      }
    }
  }
  return result;
};
