/**
 * Stores one code system version's concepts and what is derived from them (parent links, the
 * transitive closure, the words of displays) in bulk: unnest() statements of WRITE_BATCH rows, so half a
 * million concepts are a few hundred statements, not millions. A version is replaced whole.
 */
import { randomUUID } from 'node:crypto';
import type { Database, Queryable } from '../../db/database.js';
import { FhirError } from '../../fhir/outcome.js';
import { ancestorsOf, assertConceptsFit, normaliseText, wordsOf, type ConceptBounds, type ConceptRecord } from './concepts.js';

/** Rows per statement (and, for an import, per transaction). Exported for the tests, which shrink it. */
export const WRITE_BATCH = { rows: 20_000 };

export interface CodeSystemHeader {
  url: string;
  version?: string;
  resourceId: string;
  name?: string;
  /** is-a (or absent) makes nesting subsumption; grouped-by, part-of... keep links without it. */
  hierarchyMeaning?: string;
  caseSensitive?: boolean;
  /** CodeSystem.content: fragment, example or not-present are kept (they make answers say so); others stored as null (complete). */
  content?: string;
}

/** What code_system.content holds for a header: only the contents that make the held concepts less than the code system. */
export function storedContent(header: CodeSystemHeader): string | null {
  return header.content === 'fragment' || header.content === 'example' || header.content === 'not-present' ? header.content : null;
}

export interface WriteProgress {
  (stage: string, done: number, total: number): void;
}

/** Rows built column by column (unnest takes one array per column). */
class Columns {
  readonly columns: unknown[][];
  constructor(count: number) {
    this.columns = Array.from({ length: count }, () => []);
  }
  push(...values: unknown[]): void {
    values.forEach((v, i) => this.columns[i]!.push(v));
  }
  get length(): number {
    return this.columns[0]!.length;
  }
  clear(): void {
    for (const c of this.columns) c.length = 0;
  }
}

/** The code_system row of url|version, if any; a 422 when another live CodeSystem resource owns it. */
async function rowToClaim(q: Queryable, schema: string, header: CodeSystemHeader): Promise<{ csid: string; resource_id: string } | undefined> {
  const version = header.version ?? '';
  const existing = await q.query<{ csid: string; resource_id: string }>(
    `SELECT csid, resource_id FROM ${schema}.code_system WHERE url = $1 AND version = $2`, [header.url, version]);
  const row = existing.rows[0];
  if (row && row.resource_id !== header.resourceId) {
    const owner = await q.query(`SELECT 1 FROM ${schema}.resources WHERE type = 'CodeSystem' AND id = $1 AND NOT deleted`, [row.resource_id]);
    if (owner.rows.length) {
      throw new FhirError(422, 'FHIR_INVALID_RESOURCE', `CodeSystem ${header.url}${version ? `|${version}` : ''} already exists as CodeSystem/${row.resource_id}; ` +
        'update that resource, or give this one another version');
    }
  }
  return row;
}

/** The code_system row for url|version, refusing one owned by another CodeSystem resource. */
export async function claimCodeSystem(q: Queryable, schema: string, header: CodeSystemHeader): Promise<number> {
  const version = header.version ?? '';
  const row = await rowToClaim(q, schema, header);
  if (row) {
    await q.query(`UPDATE ${schema}.code_system SET resource_id = $2, name = $3, hierarchy_meaning = $4, case_sensitive = $5, loaded_at = now() WHERE csid = $1`,
      [row.csid, header.resourceId, header.name ?? null, header.hierarchyMeaning ?? null, header.caseSensitive ?? true]);
    return Number(row.csid);
  }
  // A row claimed anew holds no concepts: nothing can be checked against it (content not-present).
  const inserted = await q.query<{ csid: string }>(
    `INSERT INTO ${schema}.code_system (url, version, resource_id, name, hierarchy_meaning, case_sensitive, content) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING csid`,
    [header.url, version, header.resourceId, header.name ?? null, header.hierarchyMeaning ?? null, header.caseSensitive ?? true, storedContent(header)]);
  return Number(inserted.rows[0]!.csid);
}

/**
 * Versions replaced or deleted by a write: their code_system row is renamed (no reader asks for
 * it) inside the write's transaction, and their rows are deleted after the commit in short batches
 * (dropRetired). Deleting a 200,000-concept system's millions of closure rows inside the request's
 * transaction would run past the statement limit, which restarts the embedded database.
 */
export const RETIRED_URL_PREFIX = 'urn:instant:terminology-retired:';

async function retire(q: Queryable, schema: string, csid: number): Promise<void> {
  await q.query(`UPDATE ${schema}.code_system SET url = $2, version = '', resource_id = '' WHERE csid = $1`, [csid, `${RETIRED_URL_PREFIX}${csid}`]);
}

/** Forgets the code systems a CodeSystem resource carried (it was deleted, or now carries another url|version). */
export async function dropCodeSystemsOf(q: Queryable, schema: string, resourceId: string): Promise<void> {
  const rows = await q.query<{ csid: string }>(`SELECT csid FROM ${schema}.code_system WHERE resource_id = $1`, [resourceId]);
  for (const row of rows.rows) await retire(q, schema, Number(row.csid));
}

/** Deletes the rows of retired versions (committed ones), in short batches; returns how many versions. */
export async function dropRetired(db: Database, schema: string, stopping: () => boolean = () => false): Promise<number> {
  const rows = await db.query<{ csid: string }>(`SELECT csid FROM ${schema}.code_system WHERE url LIKE $1`, [`${RETIRED_URL_PREFIX}%`]);
  for (const row of rows.rows) await dropConceptRows(db, schema, Number(row.csid), stopping);
  return rows.rows.length;
}

/** Runs one bulk statement (an INSERT of up to WRITE_BATCH rows): inside the caller's transaction, or in one of its own. */
type StatementRunner = (sql: string, params: unknown[]) => Promise<void>;

/** A code system's concepts checked and worked out, before anything is written. */
export interface PreparedConcepts {
  unique: ConceptRecord[];
  parents: Int32Array[];
  ancestors: Int32Array[];
  isA: boolean;
}

/** Refuses (422) what cannot be stored (long codes, a cyclic, too deep or too large hierarchy) and works out the closure. */
export async function prepareConcepts(header: Pick<CodeSystemHeader, 'hierarchyMeaning'>, concepts: readonly ConceptRecord[], bounds: ConceptBounds): Promise<PreparedConcepts> {
  const seen = new Set<string>();
  const unique = concepts.filter((c) => (seen.has(c.code) ? false : (seen.add(c.code), true)));
  assertConceptsFit(unique, bounds);
  const { parents, ancestors } = await ancestorsOf(unique, bounds);
  return { unique, parents, ancestors, isA: !header.hierarchyMeaning || header.hierarchyMeaning === 'is-a' };
}

/** Replaces the concepts of a code system version inside the caller's transaction (a FHIR write). */
export async function writeCodeSystem(q: Queryable, schema: string, header: CodeSystemHeader, concepts: readonly ConceptRecord[], bounds: ConceptBounds): Promise<void> {
  await writeCodeSystems(q, schema, [{ header, concepts }], bounds);
}

/**
 * Replaces the concepts of code system versions inside the caller's transaction (FHIR writes): a
 * bulk load of small ones (the core content's ~600, a few dozen concepts each) costs a statement
 * per table, not ten per code system. Before anything is written, a code too long for its index, a
 * cyclic, too deep or too large hierarchy is refused (422). Each url|version once; one already
 * stored is replaced (refused with 422 when another live resource owns it).
 */
export async function writeCodeSystems(q: Queryable, schema: string, systems: ReadonlyArray<{ header: CodeSystemHeader; concepts: readonly ConceptRecord[] }>,
  bounds: ConceptBounds): Promise<void> {
  if (!systems.length) return;
  const key = (url: string, version: string | undefined): string => `${url}|${version ?? ''}`;
  const seen = new Set<string>();
  for (const { header } of systems) {
    const k = key(header.url, header.version);
    if (seen.has(k)) throw new FhirError(422, 'FHIR_INVALID_RESOURCE', `CodeSystem ${k.slice(0, 240)} is written twice in one batch: give each version once`);
    seen.add(k);
  }
  const prepared = await Promise.all(systems.map(({ header, concepts }) => prepareConcepts(header, concepts, bounds)));
  const headers = systems.map(({ header }) => header);
  const existing = await q.query<{ url: string; version: string }>(
    `SELECT c.url, c.version FROM ${schema}.code_system c JOIN unnest($1::text[], $2::text[]) AS w(url, version) ON c.url = w.url AND c.version = w.version`,
    [headers.map((h) => h.url), headers.map((h) => h.version ?? '')]);
  // A version already stored (an update rewriting its own; rare in a bulk load): refused when
  // another live resource owns it, else retired, one by one.
  const stored = new Set(existing.rows.map((r) => key(r.url, r.version)));
  for (const header of headers) {
    if (!stored.has(key(header.url, header.version))) continue;
    const row = await rowToClaim(q, schema, header);
    if (row) await retire(q, schema, Number(row.csid));
  }
  const inserted = await q.query<{ csid: string; url: string; version: string }>(
    `INSERT INTO ${schema}.code_system (url, version, resource_id, name, hierarchy_meaning, case_sensitive, content, concept_count)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bool[], $7::text[], $8::int[]) RETURNING csid, url, version`,
    [headers.map((h) => h.url), headers.map((h) => h.version ?? ''), headers.map((h) => h.resourceId), headers.map((h) => h.name ?? null),
      headers.map((h) => h.hierarchyMeaning ?? null), headers.map((h) => h.caseSensitive ?? true), headers.map(storedContent), prepared.map((p) => p.unique.length)]);
  const csids = new Map(inserted.rows.map((r) => [key(r.url, r.version), Number(r.csid)]));
  await writeConceptRows(async (sql, params) => { await q.query(sql, params); }, schema,
    headers.map((header, n) => ({ csid: csids.get(key(header.url, header.version))!, prepared: prepared[n]! })));
}

/** The rows of every concept table for each csid, WRITE_BATCH rows a statement. */
async function writeConceptRows(run: StatementRunner, schema: string, systems: ReadonlyArray<{ csid: number; prepared: PreparedConcepts }>,
  progress?: WriteProgress): Promise<void> {
  const flush = async (sql: string, rows: Columns, types: string[]): Promise<void> => {
    if (!rows.length) return;
    const casts = ['bigint', ...types].map((t, i) => `$${i + 1}::${t}[]`).join(', ');
    await run(sql.replace('$ROWS', `unnest(${casts})`), rows.columns);
    rows.clear();
  };
  const total = systems.reduce((sum, { prepared }) => sum + prepared.unique.length, 0);
  let done = 0;
  const conceptRows = new Columns(7);
  const designationRows = new Columns(6);
  const propertyRows = new Columns(5);
  const wordRows = new Columns(5);
  const conceptSql = `INSERT INTO ${schema}.concept (csid, ord, code, display, norm, definition, active) SELECT * FROM $ROWS`;
  const designationSql = `INSERT INTO ${schema}.designation (csid, ord, language, use_system, use_code, value) SELECT * FROM $ROWS`;
  const propertySql = `INSERT INTO ${schema}.property (csid, ord, code, type, value) SELECT * FROM $ROWS`;
  const wordSql = `INSERT INTO ${schema}.word (csid, word, ord, pos, len) SELECT * FROM $ROWS ON CONFLICT DO NOTHING`;
  for (const { csid, prepared: { unique } } of systems) {
    for (let n = 0; n < unique.length; n++) {
      const c = unique[n]!;
      const ord = n + 1;
      const norm = c.display ? normaliseText(c.display) : null;
      conceptRows.push(csid, ord, c.code, c.display ?? null, norm, c.definition ?? null, c.active);
      for (const d of c.designations) designationRows.push(csid, ord, d.language ?? null, d.useSystem ?? null, d.useCode ?? null, d.value);
      for (const p of c.properties) propertyRows.push(csid, ord, p.code, p.type, p.value);
      if (norm) wordsOf(norm).forEach((w, i) => wordRows.push(csid, w.slice(0, 200), ord, Math.min(i, 1), Math.min(norm.length, 32_767)));
      if (conceptRows.length >= WRITE_BATCH.rows) await flush(conceptSql, conceptRows, ['int', 'text', 'text', 'text', 'text', 'bool']);
      if (designationRows.length >= WRITE_BATCH.rows) await flush(designationSql, designationRows, ['int', 'text', 'text', 'text', 'text']);
      if (propertyRows.length >= WRITE_BATCH.rows) await flush(propertySql, propertyRows, ['int', 'text', 'text', 'text']);
      if (wordRows.length >= WRITE_BATCH.rows) await flush(wordSql, wordRows, ['text', 'int', 'smallint', 'smallint']);
      if (progress && ++done % 50_000 === 0) progress('concepts', done, total);
    }
  }
  await flush(conceptSql, conceptRows, ['int', 'text', 'text', 'text', 'text', 'bool']);
  await flush(designationSql, designationRows, ['int', 'text', 'text', 'text', 'text']);
  await flush(propertySql, propertyRows, ['int', 'text', 'text', 'text']);
  await flush(wordSql, wordRows, ['text', 'int', 'smallint', 'smallint']);

  const parentRows = new Columns(3);
  const parentSql = `INSERT INTO ${schema}.parent (csid, child, parent) SELECT * FROM $ROWS ON CONFLICT DO NOTHING`;
  const closureRows = new Columns(4);
  const closureSql = `INSERT INTO ${schema}.closure (csid, ancestor, descendant, depth) SELECT * FROM $ROWS`;
  done = 0;
  for (const { csid, prepared: { unique, parents, ancestors, isA } } of systems) {
    for (let n = 0; n < unique.length; n++) {
      for (const p of parents[n]!) parentRows.push(csid, n + 1, p + 1);
      closureRows.push(csid, n + 1, n + 1, 0);
      if (isA) {
        const pairs = ancestors[n]!;
        for (let i = 0; i < pairs.length; i += 2) closureRows.push(csid, pairs[i]! + 1, n + 1, pairs[i + 1]!);
      }
      if (parentRows.length >= WRITE_BATCH.rows) await flush(parentSql, parentRows, ['int', 'int']);
      if (closureRows.length >= WRITE_BATCH.rows) await flush(closureSql, closureRows, ['int', 'int', 'smallint']);
      if (progress && ++done % 50_000 === 0) progress('hierarchy', done, total);
    }
  }
  await flush(parentSql, parentRows, ['int', 'int']);
  await flush(closureSql, closureRows, ['int', 'int', 'smallint']);
}

/**
 * An imported code system is written beside the live one, never inside one long transaction:
 * a staging code_system row (a url no reader asks for), its rows in short transactions of WRITE_BATCH
 * rows each, so other requests interleave on the embedded database's single connection (one
 * 3.2M-row import held it 31 s); then publishStaged makes it the live version in one short
 * transaction, and the replaced version's rows are deleted afterwards in short batches.
 */
export const STAGING_URL_PREFIX = 'urn:instant:terminology-staging:';

/** Staging csids this process is writing or publishing now: never taken for abandoned ones. */
const stagingInProgress = new Set<number>();

/** The staged csid is published or dropped: no longer in progress. */
export function stagingEnded(csid: number): void {
  stagingInProgress.delete(csid);
}

/** Writes the prepared concepts under a new staging csid, WRITE_BATCH rows per transaction; returns the csid. */
export async function stageCodeSystem(db: Database, schema: string, prepared: PreparedConcepts, progress?: WriteProgress): Promise<number> {
  const inserted = await db.transaction((q) => q.query<{ csid: string }>(
    `INSERT INTO ${schema}.code_system (url, version, resource_id, concept_count) VALUES ($1, '', '', $2) RETURNING csid`,
    [`${STAGING_URL_PREFIX}${randomUUID()}`, prepared.unique.length]), { maintenance: true });
  const csid = Number(inserted.rows[0]!.csid);
  stagingInProgress.add(csid);
  try {
    await writeConceptRows(async (sql, params) => {
      // A turn of the event loop first: on the in-line PGlite driver the batches would otherwise
      // follow each other as promise continuations, and no request could reach the database between them.
      await new Promise((resolve) => setImmediate(resolve));
      await db.transaction(async (q) => { await q.query(sql, params); }, { maintenance: true });
    }, schema, [{ csid, prepared }], progress);
  } catch (error) {
    await dropConceptRows(db, schema, csid).catch(() => undefined);
    stagingEnded(csid);
    throw error;
  }
  return csid;
}

/**
 * Inside the publishing transaction: the staged rows become url|version (refused with 422 when
 * another live CodeSystem resource owns it); returns the csid of the version replaced, whose rows
 * the caller deletes afterwards with dropConceptRows.
 */
export async function publishStaged(q: Queryable, schema: string, staged: number, header: CodeSystemHeader): Promise<number | undefined> {
  const version = header.version ?? '';
  const row = await rowToClaim(q, schema, header);
  if (row) await retire(q, schema, Number(row.csid));
  await q.query(`UPDATE ${schema}.code_system SET url = $2, version = $3, resource_id = $4, name = $5, hierarchy_meaning = $6, case_sensitive = $7, content = $8, loaded_at = now() WHERE csid = $1`,
    [staged, header.url, version, header.resourceId, header.name ?? null, header.hierarchyMeaning ?? null, header.caseSensitive ?? true, storedContent(header)]);
  return row ? Number(row.csid) : undefined;
}

/** Deletes one csid's rows of every concept table (and its code_system row, if any), WRITE_BATCH rows per transaction. */
export async function dropConceptRows(db: Database, schema: string, csid: number, stopping: () => boolean = () => false): Promise<void> {
  for (const table of ['concept', 'designation', 'property', 'parent', 'closure', 'word']) {
    for (;;) {
      if (stopping()) return; // the service is stopping: the rest is deleted at the next start
      await new Promise((resolve) => setImmediate(resolve)); // as in stageCodeSystem: let requests in between
      // Every table's first index starts with csid: each batch is an index range, not a scan.
      const deleted = await db.transaction((q) => q.query(
        `DELETE FROM ${schema}.${table} WHERE ctid IN (SELECT ctid FROM ${schema}.${table} WHERE csid = $1 LIMIT ${WRITE_BATCH.rows})`, [csid]), { maintenance: true });
      if (deleted.rowCount < WRITE_BATCH.rows) break;
    }
  }
  await db.transaction((q) => q.query(`DELETE FROM ${schema}.code_system WHERE csid = $1`, [csid]), { maintenance: true });
}

/**
 * Staging rows an import left when its process stopped midway, deleted at start: on the embedded
 * database all but this process's own imports under way, on PostgreSQL those over a day old
 * (another process may be importing now).
 */
export async function dropAbandonedStaging(db: Database, schema: string): Promise<number> {
  const age = db.kind === 'postgres' ? ` AND loaded_at < now() - interval '1 day'` : '';
  const rows = await db.query<{ csid: string }>(`SELECT csid FROM ${schema}.code_system WHERE url LIKE $1${age}`, [`${STAGING_URL_PREFIX}%`]);
  const abandoned = rows.rows.map((r) => Number(r.csid)).filter((csid) => !stagingInProgress.has(csid));
  for (const csid of abandoned) await dropConceptRows(db, schema, csid);
  return abandoned.length;
}
