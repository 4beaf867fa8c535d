/**
 * Writes one resource version: the current row, its history row and its index rows, in the
 * caller's transaction. Index rows are replaced with one statement per write.
 */
import type { Resource } from '@medplum/fhirtypes';
import type { Queryable } from '../../db/database.js';
import { FhirError } from '../outcome.js';
import type { SearchParameterRegistry } from '../search-parameters.js';
import { buildIndexRows, type IndexRows } from './indexer.js';
import { EventLoopTurns } from '../event-loop-turns.js';
import { stringifyJsonKeepingDecimals } from '../../common/json-decimals.js';
import { forgetIntegerTexts } from '../integer-texts.js';

export interface CurrentRow {
  rid: number;
  version: number;
  deleted: boolean;
  content: Resource | null;
}

/** How a version was written; 'update-create' is a PUT that created the resource (201, PUT in _history). */
export type WriteMethod = 'create' | 'update' | 'update-create' | 'patch' | 'delete';

export interface VersionToWrite {
  type: string;
  id: string;
  version: number;
  lastUpdated: string;
  method: WriteMethod;
  /** null writes a tombstone (delete). */
  resource: Resource | null;
  /** The row as locked before the write; undefined when the resource never existed. */
  current?: CurrentRow;
}

/** Reads and locks the current row of a resource for the rest of the transaction. */
export async function lockCurrent(tx: Queryable, schema: string, type: string, id: string): Promise<CurrentRow | undefined> {
  const result = await tx.query<CurrentRow>(
    `SELECT rid, version, deleted, content FROM ${schema}.resources WHERE type = $1 AND id = $2 FOR UPDATE`,
    [type, id],
  );
  const row = result.rows[0];
  return row ? { ...row, rid: Number(row.rid), version: Number(row.version) } : undefined;
}

/**
 * The whole write in one statement (one round trip): the resource row (insert or update), its
 * history row, and the replacement of its index rows. Data-modifying CTEs all see the snapshot
 * from before the statement, so deleting old index rows and inserting new ones do not interfere.
 */
export async function writeVersion(
  tx: Queryable, schema: string, write: VersionToWrite, baseUrl: string | string[] | undefined, definitions: SearchParameterRegistry,
): Promise<void> {
  if (write.resource) forgetIntegerTexts(write.resource);
  const content = write.resource ? stringifyJsonKeepingDecimals(write.resource) : null;
  const deleted = write.resource === null;
  const rows = write.resource ? buildIndexRows(write.resource, baseUrl, definitions) : emptyRows();
  const params: unknown[] = [write.type, write.id, write.version, write.lastUpdated, deleted, content, write.method];
  const p = (value: unknown): string => {
    params.push(value);
    return `$${params.length}`;
  };
  const parts: string[] = [];
  if (write.current) {
    const rid = p(write.current.rid);
    parts.push(`r AS (UPDATE ${schema}.resources SET version = $3, last_updated = $4, deleted = $5, content = $6::jsonb
                      WHERE rid = ${rid} RETURNING rid)`);
    for (const table of ['idx_token', 'idx_string', 'idx_date', 'idx_reference', 'idx_number', 'idx_quantity', 'idx_uri']) {
      parts.push(`d_${table} AS (DELETE FROM ${schema}.${table} WHERE rid = ${rid})`);
    }
  } else {
    parts.push(`r AS (INSERT INTO ${schema}.resources (type, id, version, last_updated, deleted, content)
                      VALUES ($1, $2, $3, $4, $5, $6::jsonb) ON CONFLICT (type, id) DO NOTHING RETURNING rid)`);
  }
  parts.push(`h AS (INSERT INTO ${schema}.history (rid, type, id, version, last_updated, deleted, method, content)
                    SELECT r.rid, $1, $2, $3, $4, $5, $7, $6::jsonb FROM r)`);
  parts.push(...indexInserts(schema, rows, p));
  const result = await tx.query<{ rid: number }>(`WITH ${parts.join(',\n')} SELECT rid FROM r`, params);
  if (!result.rows[0]) {
    throw new FhirError(409, 'FHIR_CONFLICT', `${write.type}/${write.id} was created by a concurrent request; retry`);
  }
}

/**
 * A version's content changed where it is stored, without a new version: the R4 meta operations
 * (`$meta-add`, `$meta-delete`: "does not cause a new version of the resource to be created. The
 * meta is updated directly"). Its history row always; for the current version, its resource row
 * and index rows too (a label is searchable at once).
 */
export async function rewriteVersionContent(
  tx: Queryable, schema: string, write: { rid: number; type: string; id: string; version: number; resource: Resource; current: boolean },
  baseUrl: string | string[] | undefined, definitions: SearchParameterRegistry,
): Promise<void> {
  forgetIntegerTexts(write.resource);
  const params: unknown[] = [write.type, write.id, write.version, stringifyJsonKeepingDecimals(write.resource)];
  const p = (value: unknown): string => {
    params.push(value);
    return `$${params.length}`;
  };
  const parts = [`h AS (UPDATE ${schema}.history SET content = $4::jsonb WHERE type = $1 AND id = $2 AND version = $3)`];
  if (write.current) {
    const rid = p(write.rid);
    parts.push(`r AS (UPDATE ${schema}.resources SET content = $4::jsonb WHERE rid = ${rid} RETURNING rid)`);
    for (const table of INDEX_TABLE_NAMES) parts.push(`d_${table} AS (DELETE FROM ${schema}.${table} WHERE rid = ${rid})`);
    parts.push(...indexInserts(schema, buildIndexRows(write.resource, baseUrl, definitions), p));
  }
  await tx.query(`WITH ${parts.join(',\n')} SELECT 1`, params);
}

/**
 * Inserts many new resources (version 1) in one statement: the transaction bundle path, where
 * one statement per entry would spend most of its time planning. Fails with 409 if any id exists.
 * `methods`: each one's history method ('create', or 'update-create' for a PUT that created it).
 */
export async function insertNewResources(
  tx: Queryable, schema: string, resources: Resource[], baseUrl: string | string[] | undefined, definitions: SearchParameterRegistry,
  methods?: ReadonlyArray<'create' | 'update-create'>,
): Promise<void> {
  if (!resources.length) return;
  const params: unknown[] = [
    resources.map((r) => r.resourceType),
    resources.map((r) => r.id),
    resources.map((r) => r.meta!.lastUpdated),
    resources.map((r) => (forgetIntegerTexts(r), stringifyJsonKeepingDecimals(r))),
    resources.map((_, n) => n),
    resources.map((_, n) => methods?.[n] ?? 'create'),
  ];
  const p = (value: unknown): string => {
    params.push(value);
    return `$${params.length}`;
  };
  const parts = [
    `r AS (INSERT INTO ${schema}.resources (type, id, version, last_updated, deleted, content)
           SELECT t, i, 1, lu, false, c::jsonb FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[]) AS v(t, i, lu, c)
           ON CONFLICT (type, id) DO NOTHING RETURNING rid, type, id, last_updated, content)`,
    `k AS (SELECT r.rid, r.type, v.n, v.m FROM r JOIN unnest($1::text[], $2::text[], $5::int[], $6::text[]) AS v(t, i, n, m) ON v.t = r.type AND v.i = r.id)`,
    `h AS (INSERT INTO ${schema}.history (rid, type, id, version, last_updated, deleted, method, content)
           SELECT r.rid, r.type, r.id, 1, r.last_updated, false, k.m, r.content FROM r JOIN k ON k.rid = r.rid)`,
  ];
  parts.push(...(await batchIndexInserts(schema, resources, baseUrl, definitions, p)));
  const result = await tx.query<{ n: number }>(`WITH ${parts.join(',\n')} SELECT n FROM k`, params);
  if (result.rows.length !== resources.length) {
    const written = new Set(result.rows.map((row) => Number(row.n)));
    const missing = resources.findIndex((_, n) => !written.has(n));
    const resource = resources[missing]!;
    throw new CreateConflict(missing, `${resource.resourceType}/${resource.id} was created by a concurrent request; retry`);
  }
}

/** A create of insertNewResources that found its id taken: which one (its index in the list). */
export class CreateConflict extends FhirError {
  constructor(readonly index: number, message: string) {
    super(409, 'FHIR_CONFLICT', message);
  }
}

/**
 * CTE parts inserting the index rows of many resources, each row tagged with its resource's number
 * `n` and joined to the CTE `k` (rid, type, n) of the written rows.
 */
async function batchIndexInserts(
  schema: string, resources: Resource[], baseUrl: string | string[] | undefined, definitions: SearchParameterRegistry, p: (value: unknown) => string,
): Promise<string[]> {
  const all = emptyRows();
  const turns = new EventLoopTurns();
  for (let n = 0; n < resources.length; n++) {
    await turns.share();
    const rows = buildIndexRows(resources[n]!, baseUrl, definitions);
    for (const key of Object.keys(rows) as Array<keyof IndexRows>) {
      for (const row of rows[key]) (all[key] as unknown[][]).push([n, ...row]);
    }
  }
  const parts: string[] = [];
  for (const [key, { table, columns, types }] of INDEX_TABLES) {
    const data = all[key];
    if (!data.length) continue;
    const arrays = ['int', ...types].map((type, i) => `${p(column(data, i))}::${type}[]`).join(', ');
    parts.push(`i_${table} AS (INSERT INTO ${schema}.${table} (rid, type, ${columns.join(', ')})
      SELECT k.rid, k.type, ${columns.map((c) => `u.${c}`).join(', ')} FROM unnest(${arrays}) AS u(n, ${columns.join(', ')}) JOIN k ON k.n = u.n)`);
  }
  return parts;
}

/** A new version of a stored resource, for updateVersions: its locked row and what to store. */
export interface VersionUpdate {
  rid: number;
  version: number;
  resource: Resource;
}

/**
 * Writes a new version of many stored resources (PUTs of a transaction bundle) in one statement:
 * their rows, history rows ('update'), and their index rows replaced. The rows must be locked by
 * the caller (FOR UPDATE), so no concurrent write can come between.
 */
export async function updateVersions(
  tx: Queryable, schema: string, updates: VersionUpdate[], baseUrl: string | string[] | undefined, definitions: SearchParameterRegistry,
): Promise<void> {
  if (!updates.length) return;
  const resources = updates.map((u) => u.resource);
  const params: unknown[] = [
    updates.map((u) => u.rid),
    updates.map((u) => u.version),
    resources.map((r) => r.meta!.lastUpdated),
    resources.map((r) => (forgetIntegerTexts(r), stringifyJsonKeepingDecimals(r))),
    updates.map((_, n) => n),
  ];
  const p = (value: unknown): string => {
    params.push(value);
    return `$${params.length}`;
  };
  const parts = [
    `v AS (SELECT * FROM unnest($1::bigint[], $2::int[], $3::timestamptz[], $4::text[], $5::int[]) AS v(rid, version, lu, c, n))`,
    `r AS (UPDATE ${schema}.resources SET version = v.version, last_updated = v.lu, deleted = false, content = v.c::jsonb
           FROM v WHERE ${schema}.resources.rid = v.rid RETURNING ${schema}.resources.rid, ${schema}.resources.type, ${schema}.resources.id, v.version, v.lu, v.c)`,
    `k AS (SELECT r.rid, r.type, v.n FROM r JOIN v ON v.rid = r.rid)`,
    `h AS (INSERT INTO ${schema}.history (rid, type, id, version, last_updated, deleted, method, content)
           SELECT rid, type, id, version, lu, false, 'update', c::jsonb FROM r)`,
    ...INDEX_TABLE_NAMES.map((table) => `d_${table} AS (DELETE FROM ${schema}.${table} WHERE rid = ANY($1::bigint[]))`),
    ...(await batchIndexInserts(schema, resources, baseUrl, definitions, p)),
  ];
  const result = await tx.query<{ n: number }>(`WITH ${parts.join(',\n')} SELECT count(*)::int AS n FROM r`, params);
  if (Number(result.rows[0]?.n) !== updates.length) {
    throw new FhirError(500, 'FHIR_INTERNAL', 'a locked resource of this transaction was not found to update');
  }
}

/** CTE parts inserting index rows for the row `r` (rid) of type $1. */
function indexInserts(schema: string, rows: IndexRows, p: (value: unknown) => string): string[] {
  const parts: string[] = [];
  const insert = (table: string, columns: string[], types: string[], data: unknown[][]): void => {
    if (!data.length) return;
    const arrays = columns.map((_, i) => `${p(column(data, i))}::${types[i]}[]`).join(', ');
    parts.push(
      `i_${table} AS (INSERT INTO ${schema}.${table} (rid, type, ${columns.join(', ')}) SELECT r.rid, $1, u.* FROM r, unnest(${arrays}) AS u)`,
    );
  };
  for (const [key, { table, columns, types }] of INDEX_TABLES) insert(table, columns, types, rows[key]);
  return parts;
}

/** Each kind of index row: its table, the columns after (rid, type), and their SQL types. */
const INDEX_TABLES: ReadonlyArray<[keyof IndexRows, { table: string; columns: string[]; types: string[] }]> = [
  ['token', { table: 'idx_token', columns: ['param', 'system', 'code', 'grp'], types: ['text', 'text', 'text', 'int'] }],
  ['string', { table: 'idx_string', columns: ['param', 'value', 'folded', 'grp'], types: ['text', 'text', 'text', 'int'] }],
  ['date', { table: 'idx_date', columns: ['param', 'low', 'high', 'grp'], types: ['text', 'timestamptz', 'timestamptz', 'int'] }],
  ['reference', { table: 'idx_reference', columns: ['param', 'target_type', 'target_id', 'reference', 'grp'], types: ['text', 'text', 'text', 'text', 'int'] }],
  ['number', { table: 'idx_number', columns: ['param', 'low', 'high', 'grp'], types: ['text', 'numeric', 'numeric', 'int'] }],
  ['quantity', { table: 'idx_quantity', columns: ['param', 'value', 'system', 'code', 'unit', 'grp'], types: ['text', 'numeric', 'text', 'text', 'text', 'int'] }],
  ['uri', { table: 'idx_uri', columns: ['param', 'value', 'grp'], types: ['text', 'text', 'int'] }],
];

const INDEX_TABLE_NAMES = INDEX_TABLES.map(([, { table }]) => table);

/**
 * Rebuilds the index rows of stored resources of one type under the engine's parameters (after a
 * custom search parameter was added),
 * a batch at a time, without new versions. Returns how many resources were reindexed.
 */
export async function reindexType(
  tx: Queryable, schema: string, type: string, baseUrl: string | string[] | undefined, definitions: SearchParameterRegistry, batch = 500,
): Promise<number> {
  let after = 0;
  let count = 0;
  for (;;) {
    const page = await tx.query<{ rid: number; content: Resource }>(
      `SELECT rid, content FROM ${schema}.resources WHERE type = $1 AND NOT deleted AND rid > $2 ORDER BY rid LIMIT $3`,
      [type, after, batch],
    );
    for (const row of page.rows) {
      const params: unknown[] = [type, Number(row.rid)];
      const p = (value: unknown): string => {
        params.push(value);
        return `$${params.length}`;
      };
      const parts = ['r AS (SELECT $2::bigint AS rid)'];
      for (const table of INDEX_TABLE_NAMES) parts.push(`d_${table} AS (DELETE FROM ${schema}.${table} WHERE rid = $2)`);
      parts.push(...indexInserts(schema, buildIndexRows(row.content, baseUrl, definitions), p));
      await tx.query(`WITH ${parts.join(',\n')} SELECT 1`, params);
      after = Number(row.rid);
      count++;
    }
    if (page.rows.length < batch) return count;
  }
}

function emptyRows(): IndexRows {
  return { token: [], string: [], date: [], reference: [], number: [], quantity: [], uri: [] };
}

const column = <T>(rows: unknown[][], index: number): T[] => rows.map((row) => (row[index] ?? null) as T);
