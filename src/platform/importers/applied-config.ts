import type { Queryable } from '../../db/database.js';
import { MIGRATIONS_SCHEMA } from '../../db/migrate.js';

/**
 * What an importer last applied to a service, item by item, so that `init` run again can tell an
 * operator's change (a channel disabled in the console, a role taken from a client, an item
 * deleted) from the package's own, and keep the operator's: a three-way comparison of the
 * package's item, what was applied, and what the service holds now.
 */
export interface AppliedItem {
  /** A digest of the item the package gave (secrets as digests too): has the package changed it? */
  given: string;
  /** The service's values of the item's fields right after it was applied: has anyone changed them since? */
  seen: Record<string, unknown>;
}

export interface AppliedConfig {
  get(item: string): Promise<AppliedItem | undefined>;
  set(item: string, applied: AppliedItem): Promise<void>;
}

// Kept in the database with the data it describes: a restore brings back both, and destroying
// the service's package forgets both (forgetAppliedConfig).
const TABLE = `${MIGRATIONS_SCHEMA}.applied_config`;
const CREATE = `
  CREATE SCHEMA IF NOT EXISTS ${MIGRATIONS_SCHEMA};
  CREATE TABLE IF NOT EXISTS ${TABLE} (
    service text NOT NULL,
    item text NOT NULL,
    package text NOT NULL,
    applied jsonb NOT NULL,
    PRIMARY KEY (service, item)
  )`;

/** The record of what `packageId`'s importers applied to `service`. */
export async function databaseAppliedConfig(db: Queryable, packageId: string, service: string): Promise<AppliedConfig> {
  await db.exec(CREATE);
  return {
    async get(item) {
      const { rows } = await db.query<{ applied: AppliedItem | string }>(`SELECT applied FROM ${TABLE} WHERE service = $1 AND item = $2`, [service, item]);
      const applied = rows[0]?.applied;
      return typeof applied === 'string' ? (JSON.parse(applied) as AppliedItem) : applied;
    },
    async set(item, applied) {
      await db.query(
        `INSERT INTO ${TABLE} (service, item, package, applied) VALUES ($1, $2, $3, $4)
         ON CONFLICT (service, item) DO UPDATE SET package = EXCLUDED.package, applied = EXCLUDED.applied`,
        [service, item, packageId, JSON.stringify(applied)],
      );
    },
  };
}

/**
 * Forgets what was applied by the destroyed packages, and to the services they ran (whose data
 * is gone): a later init applies the packages' items afresh instead of taking their absence for
 * an operator's deletion.
 */
export async function forgetAppliedConfig(db: Queryable, packageIds: string[], services: string[]): Promise<void> {
  await db.exec(CREATE);
  await db.query(`DELETE FROM ${TABLE} WHERE package = ANY($1::text[]) OR service = ANY($2::text[])`, [packageIds, services]);
}

/**
 * The record kept by the interop layer itself, through its admin API (`/instant/applied-config`,
 * admins only): for the container targets' import job, which has no database access. Against an
 * interop layer without that route (an OpenHIM of the operator's own) nothing is kept, as before
 * there was a record: `onMissing` is told once.
 */
export function adminApiAppliedConfig(
  api: { base: string; authorization: string },
  packageId: string,
  service: string,
  onMissing: (message: string) => void,
): AppliedConfig {
  const url = `${api.base}/instant/applied-config`;
  const headers = { authorization: api.authorization, 'content-type': 'application/json', accept: 'application/json' };
  let missing = false;
  const noRoute = (status: number) => {
    if (status !== 404 || missing) return status === 404;
    missing = true;
    onMissing(`the interop layer at ${api.base} keeps no record of what was imported (no ${url}): every item is applied as the package gives it`);
    return true;
  };
  const failed = async (response: Response, what: string) =>
    new Error(`${what} ${url}: HTTP ${response.status} ${(await response.text()).slice(0, 300)}`);
  return {
    async get(item) {
      if (missing) return undefined;
      const query = new URLSearchParams({ service, item, package: packageId });
      const response = await fetch(`${url}?${query}`, { headers });
      if (noRoute(response.status)) return undefined;
      if (!response.ok) throw await failed(response, 'GET');
      return ((await response.json()) as { applied: AppliedItem | null }).applied ?? undefined;
    },
    async set(item, applied) {
      if (missing) return;
      const response = await fetch(url, { method: 'PUT', headers, body: JSON.stringify({ service, item, package: packageId, applied }) });
      if (noRoute(response.status)) return;
      if (!response.ok) throw await failed(response, 'PUT');
    },
  };
}
