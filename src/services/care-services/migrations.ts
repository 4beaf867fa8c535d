/**
 * The care-services registry's own storage, in the engine's schema (versions from 1001, clear of
 * the engine's migrations that share the schema's migration record).
 *
 * location_position   an expression index on the engine's resources table: latitude and
 *                     longitude of every live Location, for `near` (near.ts). It is an index,
 *                     not a copy, so it can never disagree with the stored resource.
 * consumer_state      the mCSD Update Consumer's cursor per source (update-consumer.ts): the
 *                     source's lastUpdated it has applied up to, written in the same transaction
 *                     as the changes it covers, so a restart (even after kill -9) resumes there.
 */
import type { Migration } from '../../db/database.js';
import { LATITUDE_SQL, LONGITUDE_SQL } from './near.js';

export function careServicesMigrations(schema: string): Migration[] {
  return [
    {
      version: 1001,
      name: 'care services: Location position index, update consumer state',
      sql: `
        CREATE INDEX location_position ON ${schema}.resources (${LATITUDE_SQL()}, ${LONGITUDE_SQL()})
          WHERE type = 'Location' AND NOT deleted;
        CREATE TABLE ${schema}.consumer_state (
          source text PRIMARY KEY,
          cursor text,
          applied bigint NOT NULL DEFAULT 0,
          created bigint NOT NULL DEFAULT 0,
          updated bigint NOT NULL DEFAULT 0,
          deleted bigint NOT NULL DEFAULT 0,
          failed bigint NOT NULL DEFAULT 0,
          last_error text,
          last_run_at timestamptz,
          updated_at timestamptz NOT NULL DEFAULT now()
        );
      `,
    },
    {
      version: 1002,
      name: 'care services: update consumer cursor per type',
      sql: `ALTER TABLE ${schema}.consumer_state ADD COLUMN type_cursors jsonb NOT NULL DEFAULT '{}'::jsonb;`,
    },
  ];
}
