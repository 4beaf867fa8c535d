/**
 * The definitions of the instance's schemas read from the database's catalog, as the SQL that
 * makes them again: what a logical backup needs to restore into an empty database without
 * pg_dump. It covers what the services' migrations create (schemas, sequences, tables with
 * defaults and NOT NULL, constraints, indexes, plpgsql functions, triggers), not every kind of
 * PostgreSQL object: an unsupported one (a view, a type) is refused, never silently left out.
 */
import type { Queryable } from '../../db/database.js';
import { MIGRATIONS_SCHEMA } from '../../db/migrate.js';

/** Schemas that belong to PostgreSQL, not to the instance. */
const SYSTEM_SCHEMA = `(nspname IN ('pg_catalog', 'information_schema') OR nspname LIKE 'pg\\_%')`;

export interface TableInfo {
  schema: string;
  name: string;
  columns: string[];
}

export interface SchemaDefinitions {
  schemas: string[];
  tables: TableInfo[];
  /** Before the rows: schemas, sequences, functions, tables (no constraints, so rows load in any order). */
  preData: string[];
  /** After the rows: sequence positions, constraints, indexes, triggers. */
  postData: string[];
}

const q = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/**
 * The schemas the instance owns: those its migrations made (instant_meta.migrations) and
 * instant_meta itself. Anything else on the server (another application's schema, public) is
 * neither backed up nor ever dropped by a restore.
 */
export async function instanceSchemas(db: Queryable): Promise<string[]> {
  const meta = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = '${MIGRATIONS_SCHEMA}' AND tablename = 'migrations'`);
  if (!Number(meta.rows[0]!.n)) return [];
  const r = await db.query<{ nspname: string }>(
    `SELECT nspname FROM pg_namespace n WHERE NOT ${SYSTEM_SCHEMA} AND nspname <> 'public'
       AND (nspname = '${MIGRATIONS_SCHEMA}' OR nspname IN (SELECT schema_name FROM ${MIGRATIONS_SCHEMA}.migrations))
     ORDER BY nspname`,
  );
  return r.rows.map((row) => row.nspname);
}

export async function readDefinitions(db: Queryable): Promise<SchemaDefinitions> {
  const schemas = await instanceSchemas(db);
  const preData: string[] = [];
  const postData: string[] = [];
  for (const schema of schemas) if (schema !== 'public') preData.push(`CREATE SCHEMA IF NOT EXISTS ${q(schema)}`);

  const unsupported = await db.query<{ what: string }>(
    `SELECT n.nspname || '.' || c.relname || ' (' || CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' ELSE c.relkind::text END || ')' AS what
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('v', 'm', 'f', 'p')`,
    [schemas],
  );
  if (unsupported.rows.length) {
    throw new Error(`the logical backup cannot copy ${unsupported.rows.map((r) => r.what).join(', ')}: use pg_dump (put it on PATH)`);
  }

  // bigint values as text: the drivers return JavaScript numbers, which cannot hold 2^63 - 1.
  const sequences = await db.query<{ schema: string; name: string; type: string; start: string; inc: string; min: string; max: string; cycle: boolean }>(
    `SELECT schemaname AS schema, sequencename AS name, data_type::text AS type, start_value::text AS start, increment_by::text AS inc,
            min_value::text AS min, max_value::text AS max, cycle
       FROM pg_sequences WHERE schemaname = ANY($1::text[]) ORDER BY 1, 2`,
    [schemas],
  );
  for (const s of sequences.rows) {
    preData.push(`CREATE SEQUENCE ${q(s.schema)}.${q(s.name)} AS ${s.type} INCREMENT BY ${s.inc} MINVALUE ${s.min} MAXVALUE ${s.max} START WITH ${s.start}${s.cycle ? ' CYCLE' : ''}`);
    const position = await db.query<{ last_value: string; is_called: boolean }>(`SELECT last_value::text AS last_value, is_called FROM ${q(s.schema)}.${q(s.name)}`);
    const p = position.rows[0]!;
    postData.push(`SELECT setval('${q(s.schema)}.${q(s.name)}', ${p.last_value}, ${p.is_called})`);
  }

  const functions = await db.query<{ def: string }>(
    `SELECT pg_get_functiondef(p.oid) AS def FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = ANY($1::text[]) AND p.prokind = 'f' ORDER BY n.nspname, p.proname`,
    [schemas],
  );
  for (const f of functions.rows) preData.push(f.def);

  const columns = await db.query<{ schema: string; table: string; column: string; type: string; notnull: boolean; def: string | null; storage: string; typstorage: string; generated: string; identity: string }>(
    `SELECT n.nspname AS schema, c.relname AS table, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type,
            a.attnotnull AS notnull, pg_get_expr(d.adbin, d.adrelid) AS def, a.attstorage::text AS storage, t.typstorage::text AS typstorage,
            a.attgenerated::text AS generated, a.attidentity::text AS identity
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
       JOIN pg_type t ON t.oid = a.atttypid
       LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
      WHERE n.nspname = ANY($1::text[]) AND c.relkind = 'r'
      ORDER BY n.nspname, c.relname, a.attnum`,
    [schemas],
  );
  const tables = new Map<string, TableInfo & { defs: string[] }>();
  const storageNames: Record<string, string> = { p: 'PLAIN', e: 'EXTERNAL', m: 'MAIN', x: 'EXTENDED' };
  for (const c of columns.rows) {
    const key = `${c.schema}.${c.table}`;
    let table = tables.get(key);
    if (!table) tables.set(key, (table = { schema: c.schema, name: c.table, columns: [], defs: [] }));
    if (c.identity) throw new Error(`the logical backup cannot copy the identity column ${key}.${c.column}: use pg_dump (put it on PATH)`);
    // A generated column is computed again from the row: it is defined, never copied.
    const generated = c.generated === 's';
    if (!generated) table.columns.push(c.column);
    const value = c.def === null ? '' : generated ? ` GENERATED ALWAYS AS (${c.def}) STORED` : ` DEFAULT ${c.def}`;
    table.defs.push(`${q(c.column)} ${c.type}${value}${c.notnull ? ' NOT NULL' : ''}`);
    if (c.storage !== c.typstorage && storageNames[c.storage]) {
      postData.push(`ALTER TABLE ${q(c.schema)}.${q(c.table)} ALTER COLUMN ${q(c.column)} SET STORAGE ${storageNames[c.storage]}`);
    }
  }
  for (const t of tables.values()) preData.push(`CREATE TABLE ${q(t.schema)}.${q(t.name)} (${t.defs.join(', ')})`);

  // Primary keys and unique constraints first, then checks, then foreign keys (which need them).
  const constraints = await db.query<{ schema: string; table: string; name: string; def: string }>(
    `SELECT n.nspname AS schema, c.relname AS table, k.conname AS name, pg_get_constraintdef(k.oid) AS def
       FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = ANY($1::text[]) AND k.contype IN ('p', 'u', 'c', 'f', 'x') AND c.relkind = 'r'
      ORDER BY CASE k.contype WHEN 'p' THEN 0 WHEN 'u' THEN 1 WHEN 'x' THEN 2 WHEN 'c' THEN 3 ELSE 4 END, n.nspname, c.relname, k.conname`,
    [schemas],
  );
  for (const k of constraints.rows) postData.push(`ALTER TABLE ${q(k.schema)}.${q(k.table)} ADD CONSTRAINT ${q(k.name)} ${k.def}`);

  const indexes = await db.query<{ def: string }>(
    `SELECT pg_get_indexdef(i.indexrelid) AS def
       FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = ANY($1::text[]) AND c.relkind = 'r'
        AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
      ORDER BY n.nspname, c.relname, i.indexrelid::regclass::text`,
    [schemas],
  );
  for (const i of indexes.rows) postData.push(i.def);

  // Sequences of serial columns belong to their column (dropped with it), as the migrations made them.
  const owned = await db.query<{ seq_schema: string; seq: string; schema: string; table: string; column: string }>(
    `SELECT sn.nspname AS seq_schema, s.relname AS seq, tn.nspname AS schema, t.relname AS table, a.attname AS column
       FROM pg_depend d
       JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' JOIN pg_namespace sn ON sn.oid = s.relnamespace
       JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = t.relnamespace
       JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
      WHERE d.deptype = 'a' AND d.classid = 'pg_class'::regclass AND sn.nspname = ANY($1::text[])`,
    [schemas],
  );
  for (const o of owned.rows) postData.push(`ALTER SEQUENCE ${q(o.seq_schema)}.${q(o.seq)} OWNED BY ${q(o.schema)}.${q(o.table)}.${q(o.column)}`);

  const triggers = await db.query<{ def: string }>(
    `SELECT pg_get_triggerdef(t.oid) AS def
       FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = ANY($1::text[]) AND NOT t.tgisinternal
      ORDER BY n.nspname, c.relname, t.tgname`,
    [schemas],
  );
  for (const t of triggers.rows) postData.push(t.def);

  return { schemas, tables: [...tables.values()].map(({ schema, name, columns: cols }) => ({ schema, name, columns: cols })), preData, postData };
}

export const quoteIdent = q;
