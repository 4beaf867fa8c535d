import { assertSchemaName, type Migration, type MigrationReport, type Queryable } from './database.js';

export const MIGRATIONS_SCHEMA = 'instant_meta';

const bootstrapSql = `
  CREATE SCHEMA IF NOT EXISTS ${MIGRATIONS_SCHEMA};
  CREATE TABLE IF NOT EXISTS ${MIGRATIONS_SCHEMA}.migrations (
    schema_name text NOT NULL,
    version integer NOT NULL,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (schema_name, version)
  );`;

export function validateMigrations(schema: string, migrations: readonly Migration[]): Migration[] {
  assertSchemaName(schema);
  const sorted = [...migrations].sort((a, b) => a.version - b.version);
  for (let i = 0; i < sorted.length; i++) {
    const m = sorted[i]!;
    if (!Number.isInteger(m.version) || m.version < 1) {
      throw new Error(`migration "${m.name}" of schema ${schema} has version ${m.version}; versions are integers from 1`);
    }
    if (i > 0 && sorted[i - 1]!.version === m.version) {
      throw new Error(`schema ${schema} has two migrations with version ${m.version}`);
    }
  }
  return sorted;
}

/**
 * Applies pending migrations inside an open transaction. The caller holds whatever lock
 * serialises migrators (an advisory lock on PostgreSQL; PGlite has one connection).
 */
export async function applyMigrations(
  tx: Queryable,
  schema: string,
  migrations: readonly Migration[],
): Promise<MigrationReport> {
  const sorted = validateMigrations(schema, migrations);
  await tx.exec(bootstrapSql);
  await tx.exec(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  const done = await tx.query<{ version: number }>(
    `SELECT version FROM ${MIGRATIONS_SCHEMA}.migrations WHERE schema_name = $1`,
    [schema],
  );
  const appliedBefore = new Set(done.rows.map((r) => Number(r.version)));
  const applied: number[] = [];
  for (const migration of sorted) {
    if (appliedBefore.has(migration.version)) continue;
    try {
      await tx.exec(migration.sql);
    } catch (error) {
      throw new Error(
        `migration ${schema}#${migration.version} (${migration.name}) failed: ${(error as Error).message}`,
        { cause: error },
      );
    }
    await tx.query(
      `INSERT INTO ${MIGRATIONS_SCHEMA}.migrations (schema_name, version, name) VALUES ($1, $2, $3)`,
      [schema, migration.version, migration.name],
    );
    applied.push(migration.version);
  }
  const current = sorted.length ? sorted[sorted.length - 1]!.version : 0;
  return { schema, applied, current: Math.max(current, ...appliedBefore) };
}

export async function forgetSchema(tx: Queryable, schema: string): Promise<void> {
  assertSchemaName(schema);
  await tx.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await tx.exec(bootstrapSql);
  await tx.query(`DELETE FROM ${MIGRATIONS_SCHEMA}.migrations WHERE schema_name = $1`, [schema]);
}
