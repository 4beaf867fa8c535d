/**
 * Every table of the instance's schemas with its row count and a checksum of its content
 * (order-independent: the md5 of the sorted md5s of its rows' text), to compare two databases.
 */
import type { Database } from '../../src/db/database.js';
import { instanceSchemas } from '../../src/platform/backup/catalog.js';

export async function tableChecksums(db: Database): Promise<Record<string, { rows: number; checksum: string }>> {
  // Rows as text depend on the session's time zone: the same on both sides.
  return db.transaction(async (tx) => {
    await tx.query(`SET LOCAL TimeZone = 'UTC'`);
    const schemas = await instanceSchemas(tx);
    const tables = await tx.query<{ schema: string; name: string }>(
      `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND n.nspname = ANY($1::text[]) ORDER BY 1, 2`,
      [schemas],
    );
    const out: Record<string, { rows: number; checksum: string }> = {};
    for (const { schema, name } of tables.rows) {
      const r = await tx.query<{ rows: number; checksum: string }>(
        `SELECT count(*)::int AS rows, md5(coalesce(string_agg(h, '' ORDER BY h), '')) AS checksum
           FROM (SELECT md5(t::text) AS h FROM "${schema}"."${name}" t) x`,
      );
      out[`${schema}.${name}`] = r.rows[0]!;
    }
    return out;
  });
}
