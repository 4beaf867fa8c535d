/**
 * Stores one code system version's concepts and what is derived from them (parent links, the
 * transitive closure, the words of displays) in bulk: unnest() statements of BATCH rows, so half a
 * million concepts are a few hundred statements, not millions. A version is replaced whole.
 */
import type { Queryable } from '../../db/database.js';
import { FhirError } from '../../fhir/outcome.js';
import { ancestorsOf, assertConceptsFit, normaliseText, wordsOf, type ConceptBounds, type ConceptRecord } from './concepts.js';

const BATCH = 20_000;

export interface CodeSystemHeader {
  url: string;
  version?: string;
  resourceId: string;
  name?: string;
  /** is-a (or absent) makes nesting subsumption; grouped-by, part-of... keep links without it. */
  hierarchyMeaning?: string;
  caseSensitive?: boolean;
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

/** The code_system row for url|version, refusing one owned by another CodeSystem resource. */
export async function claimCodeSystem(q: Queryable, schema: string, header: CodeSystemHeader): Promise<number> {
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
  if (row) {
    await q.query(`UPDATE ${schema}.code_system SET resource_id = $2, name = $3, hierarchy_meaning = $4, case_sensitive = $5, loaded_at = now() WHERE csid = $1`,
      [row.csid, header.resourceId, header.name ?? null, header.hierarchyMeaning ?? null, header.caseSensitive ?? true]);
    return Number(row.csid);
  }
  const inserted = await q.query<{ csid: string }>(
    `INSERT INTO ${schema}.code_system (url, version, resource_id, name, hierarchy_meaning, case_sensitive) VALUES ($1, $2, $3, $4, $5, $6) RETURNING csid`,
    [header.url, version, header.resourceId, header.name ?? null, header.hierarchyMeaning ?? null, header.caseSensitive ?? true]);
  return Number(inserted.rows[0]!.csid);
}

async function clearConcepts(q: Queryable, schema: string, csid: number): Promise<void> {
  for (const table of ['concept', 'designation', 'property', 'parent', 'closure', 'word']) {
    await q.query(`DELETE FROM ${schema}.${table} WHERE csid = $1`, [csid]);
  }
}

/** Forgets the code systems a CodeSystem resource carried (it was deleted). */
export async function dropCodeSystemsOf(q: Queryable, schema: string, resourceId: string): Promise<void> {
  const rows = await q.query<{ csid: string }>(`SELECT csid FROM ${schema}.code_system WHERE resource_id = $1`, [resourceId]);
  for (const row of rows.rows) {
    await clearConcepts(q, schema, Number(row.csid));
    await q.query(`DELETE FROM ${schema}.code_system WHERE csid = $1`, [row.csid]);
  }
}

/** Replaces the concepts of a code system version; returns its csid. */
export async function writeCodeSystem(q: Queryable, schema: string, header: CodeSystemHeader, concepts: readonly ConceptRecord[],
  bounds: ConceptBounds, progress?: WriteProgress): Promise<number> {
  const seen = new Set<string>();
  const unique = concepts.filter((c) => (seen.has(c.code) ? false : (seen.add(c.code), true)));
  const isA = !header.hierarchyMeaning || header.hierarchyMeaning === 'is-a';
  // Before anything is written: a code too long for its index, a cyclic, too deep or too large hierarchy is refused (422).
  assertConceptsFit(unique, bounds);
  const { parents, ancestors } = ancestorsOf(unique, bounds);
  const csid = await claimCodeSystem(q, schema, header);
  await clearConcepts(q, schema, csid);

  const flush = async (sql: string, rows: Columns, types: string[]): Promise<void> => {
    if (!rows.length) return;
    const casts = types.map((t, i) => `$${i + 2}::${t}[]`).join(', ');
    await q.query(sql.replace('$ROWS', `unnest(${casts})`), [csid, ...rows.columns]);
    rows.clear();
  };
  const conceptRows = new Columns(6);
  const designationRows = new Columns(5);
  const propertyRows = new Columns(4);
  const wordRows = new Columns(4);
  const conceptSql = `INSERT INTO ${schema}.concept (csid, ord, code, display, norm, definition, active) SELECT $1, * FROM $ROWS`;
  const designationSql = `INSERT INTO ${schema}.designation (csid, ord, language, use_system, use_code, value) SELECT $1, * FROM $ROWS`;
  const propertySql = `INSERT INTO ${schema}.property (csid, ord, code, type, value) SELECT $1, * FROM $ROWS`;
  const wordSql = `INSERT INTO ${schema}.word (csid, word, ord, pos, len) SELECT $1, * FROM $ROWS ON CONFLICT DO NOTHING`;
  for (let n = 0; n < unique.length; n++) {
    const c = unique[n]!;
    const ord = n + 1;
    const norm = c.display ? normaliseText(c.display) : null;
    conceptRows.push(ord, c.code, c.display ?? null, norm, c.definition ?? null, c.active);
    for (const d of c.designations) designationRows.push(ord, d.language ?? null, d.useSystem ?? null, d.useCode ?? null, d.value);
    for (const p of c.properties) propertyRows.push(ord, p.code, p.type, p.value);
    if (norm) wordsOf(norm).forEach((w, i) => wordRows.push(w.slice(0, 200), ord, Math.min(i, 1), Math.min(norm.length, 32_767)));
    if (conceptRows.length >= BATCH) await flush(conceptSql, conceptRows, ['int', 'text', 'text', 'text', 'text', 'bool']);
    if (designationRows.length >= BATCH) await flush(designationSql, designationRows, ['int', 'text', 'text', 'text', 'text']);
    if (propertyRows.length >= BATCH) await flush(propertySql, propertyRows, ['int', 'text', 'text', 'text']);
    if (wordRows.length >= BATCH) await flush(wordSql, wordRows, ['text', 'int', 'smallint', 'smallint']);
    if (progress && ord % 50_000 === 0) progress('concepts', ord, unique.length);
  }
  await flush(conceptSql, conceptRows, ['int', 'text', 'text', 'text', 'text', 'bool']);
  await flush(designationSql, designationRows, ['int', 'text', 'text', 'text', 'text']);
  await flush(propertySql, propertyRows, ['int', 'text', 'text', 'text']);
  await flush(wordSql, wordRows, ['text', 'int', 'smallint', 'smallint']);

  const parentRows = new Columns(2);
  const parentSql = `INSERT INTO ${schema}.parent (csid, child, parent) SELECT $1, * FROM $ROWS ON CONFLICT DO NOTHING`;
  const closureRows = new Columns(3);
  const closureSql = `INSERT INTO ${schema}.closure (csid, ancestor, descendant, depth) SELECT $1, * FROM $ROWS`;
  for (let n = 0; n < unique.length; n++) {
    for (const p of parents[n]!) parentRows.push(n + 1, p + 1);
    closureRows.push(n + 1, n + 1, 0);
    if (isA) {
      const pairs = ancestors[n]!;
      for (let i = 0; i < pairs.length; i += 2) closureRows.push(pairs[i]! + 1, n + 1, pairs[i + 1]!);
    }
    if (parentRows.length >= BATCH) await flush(parentSql, parentRows, ['int', 'int']);
    if (closureRows.length >= BATCH) await flush(closureSql, closureRows, ['int', 'int', 'smallint']);
    if (progress && (n + 1) % 50_000 === 0) progress('hierarchy', n + 1, unique.length);
  }
  await flush(parentSql, parentRows, ['int', 'int']);
  await flush(closureSql, closureRows, ['int', 'int', 'smallint']);
  await q.query(`UPDATE ${schema}.code_system SET concept_count = $2 WHERE csid = $1`, [csid, unique.length]);
  return csid;
}
