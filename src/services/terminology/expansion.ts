/**
 * Running a compiled compose (compose.ts): a page of an expansion with its total, optionally
 * narrowed by a text filter ranked like Snowstorm's (exact display, then displays starting with
 * the text, then displays with a word starting with each word of the text, then displays merely
 * containing it), and membership of one code.
 *
 * The text filter reads the word table (C collation: `word >= 'hea' AND word < 'hea' || U+10FFFF`
 * is a range scan of its primary key), so it needs no pg_trgm and runs the same on PGlite. Plain
 * substring matches (`tach` in `tachycardia` is a word prefix, `cardia` is not) need a scan of the
 * displays: they are only looked for when the value set draws on at most TEXT_SEARCH.containsScanMaxConcepts (50,000).
 */
import type { Queryable } from '../../db/database.js';
import type { CompiledCompose, ListedConcept } from './compose.js';
import { normaliseText, wordsOf } from './concepts.js';

/** Exported for the tests, which shrink it to reach the large-system path on a small one. */
export const TEXT_SEARCH = { containsScanMaxConcepts: 50_000 };
const MAX_FILTER_WORDS = 8;

export interface ExpansionRow {
  csid: number;
  ord: number;
  system: string;
  version: string;
  code: string;
  display?: string;
  active: boolean;
}

export interface ExpansionPage {
  total: number;
  rows: ExpansionRow[];
}

/**
 * Totals of recent expansions, by their statement: a client paging through a 50,000-concept
 * branch gets the total counted once, not once per page. Dropped on this process's CodeSystem
 * writes (ConceptStore.forget) and after TOTAL_CACHE_MS (writes by other processes).
 */
const TOTAL_CACHE_MS = 60_000;

export class ExpansionTotals {
  private readonly totals = new Map<string, { at: number; total: number }>();

  get(key: string): number | undefined {
    const hit = this.totals.get(key);
    return hit && Date.now() - hit.at < TOTAL_CACHE_MS ? hit.total : undefined;
  }

  set(key: string, total: number): void {
    if (this.totals.size >= 1_000) this.totals.clear();
    this.totals.set(key, { at: Date.now(), total });
  }

  clear(): void {
    this.totals.clear();
  }
}

export interface PageRequest {
  filter?: string;
  activeOnly: boolean;
  /** excludeNotForUI: leave out concepts marked notSelectable or abstract. */
  selectableOnly?: boolean;
  offset: number;
  count: number;
}

/** Property codes that mark a concept as a grouper not for use in records (FHIR concept-properties#notSelectable; "abstract" in many HL7 systems). */
export const NOT_SELECTABLE_PROPERTIES = ['notSelectable', 'abstract'];

/** The conditions on `c` that activeOnly and excludeNotForUI add (no parameters: the property codes are constants). */
function requestConditions(schema: string, request: PageRequest): string[] {
  const out: string[] = [];
  if (request.activeOnly) out.push('c.active');
  if (request.selectableOnly) {
    out.push(`NOT EXISTS (SELECT 1 FROM ${schema}.property p WHERE p.csid = c.csid AND p.ord = c.ord AND p.code IN (${NOT_SELECTABLE_PROPERTIES.map((x) => `'${x}'`).join(', ')}) AND p.value = 'true')`);
  }
  return out;
}

function escapeRegex(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
}

interface TextMatch {
  where: string;
  rank: string;
  /** Params the condition uses (the rank's come after them: a count leaves them out). */
  whereParams: number;
}

/** The text filter as a condition and a rank (0 best) on `c`, adding its values to params. */
function textMatch(compiled: CompiledCompose, params: unknown[], schema: string, filter: string): TextMatch | undefined {
  const q = normaliseText(filter).trim();
  if (!q) return undefined;
  const p = (v: unknown): string => (params.push(v), `$${params.length}`);
  const words = wordsOf(q).slice(0, MAX_FILTER_WORDS);
  const parts: string[] = [];
  if (words.length && compiled.systems.length) {
    const csids = p(compiled.systems.map((s) => s.csid));
    // One set operation over index range scans: with several words, separate semi-joins made the
    // planner probe one word's large range per row of another's.
    const ranges = words.map((w) => `SELECT csid, ord FROM ${schema}.word WHERE csid = ANY(${csids}::bigint[]) AND word >= ${p(w)} AND word < ${p(`${w}\u{10FFFF}`)}`);
    parts.push(`(c.csid, c.ord) IN (${ranges.join(' INTERSECT ')})`);
  }
  const scope = compiled.systems.reduce((n, s) => n + s.conceptCount, 0);
  const containsToo = scope <= TEXT_SEARCH.containsScanMaxConcepts;
  if (containsToo) parts.push(`strpos(c.norm, ${p(q)}) > 0`);
  const where = parts.length ? parts.map((x) => `(${x})`).join(' OR ') : 'false';
  const whereParams = params.length;
  const qp = p(q);
  // Without the substring scan every match came from the word index: a word-prefix match already.
  const wordRank = !containsToo ? 'true' : words.length ? words.map((w) => `c.norm ~ ${p(`(^|[^[:alnum:]])${escapeRegex(w)}`)}`).join(' AND ') : 'false';
  const rank = `CASE WHEN c.norm = ${qp} THEN 0 WHEN strpos(c.norm, ${qp}) = 1 THEN 1 WHEN ${wordRank} THEN 2 ELSE 3 END`;
  return { where: `(${where})`, rank, whereParams };
}

/** Rank of a listed concept for the same text filter (undefined: no match). */
function listedRank(concept: ListedConcept, filter: string): number | undefined {
  const q = normaliseText(filter).trim();
  const norm = normaliseText(concept.display ?? concept.code);
  if (norm === q) return 0;
  if (norm.startsWith(q)) return 1;
  const words = wordsOf(norm);
  if (wordsOf(q).every((w) => words.some((x) => x.startsWith(w)))) return 2;
  return norm.includes(q) ? 3 : undefined;
}

/**
 * A text search of code systems too large for the substring scan (whole, or a branch or other
 * compose the word matches are narrowed by): matches, rank, order and
 * total all come from the word table (each word's position and its display's length), and only
 * the page's concepts are read. Rank: 0 the display is as long as the text and starts with its
 * first word (exact, in practice), 1 it starts with it, 2 any word does; then shorter displays.
 */
async function wordIndexSearch(q: Queryable, schema: string, compiled: CompiledCompose, request: PageRequest, offset: number, count: number): Promise<{ keys: Array<{ csid: string; ord: number }>; total: number } | undefined> {
  const filter = request.filter!;
  const text = normaliseText(filter).trim();
  const words = wordsOf(text).slice(0, MAX_FILTER_WORDS);
  if (!words.length) return undefined;
  // A branch (is-a), other filters or activeOnly: the word matches are narrowed by the compose, a
  // semi-join on the closure's index, rather than the compose's members scanned for the words.
  const extra = requestConditions(schema, request);
  const narrowed = !compiled.wholeSystems || extra.length > 0;
  // Every numbered parameter must appear in the statement: the compose's only when it is used.
  const params: unknown[] = narrowed ? [...compiled.params] : [];
  const p = (v: unknown): string => (params.push(v), `$${params.length}`);
  const csids = p(compiled.systems.map((s) => s.csid));
  const restriction = narrowed
    ? ` AND (csid, ord) IN (SELECT c.csid, c.ord FROM ${schema}.concept c WHERE ${[compiled.where, ...extra].join(' AND ')})` : '';
  // One index range scan per word, appended and grouped: a concept matches when every word does.
  // (A semi-join per extra word let the planner probe one large range per row of another.)
  const ranges = words.map((w, k) =>
    `SELECT csid, ord, pos, len, ${k} AS k FROM ${schema}.word WHERE csid = ANY(${csids}::bigint[]) AND word >= ${p(w)} AND word < ${p(`${w}\u{10FFFF}`)}${restriction}`);
  const candidates = `SELECT csid, ord, min(pos) FILTER (WHERE k = 0) AS pos, min(len) AS len FROM (${ranges.join(' UNION ALL ')}) w
    GROUP BY csid, ord${words.length > 1 ? ` HAVING count(DISTINCT k) = ${words.length}` : ''}`;
  const page = await q.query<{ csid: string; ord: number; total: string }>(
    `SELECT csid, ord, count(*) OVER () AS total FROM (
       SELECT csid, ord, len, CASE WHEN pos = 0 AND len = ${p(text.length)} THEN 0 WHEN pos = 0 THEN 1 ELSE 2 END AS rank FROM (${candidates}) x
     ) y ORDER BY rank, len, csid, ord LIMIT ${Math.floor(count)} OFFSET ${Math.floor(offset)}`, params);
  if (page.rows.length) return { keys: page.rows, total: Number(page.rows[0]!.total) };
  const counted = await q.query<{ n: string }>(`SELECT count(*) AS n FROM (${candidates}) x`, params.slice(0, params.length - 1));
  return { keys: [], total: Number(counted.rows[0]!.n) };
}

/** The page's concepts, in the order of their keys. */
async function rowsByKeys(q: Queryable, schema: string, keys: Array<{ csid: string; ord: number }>): Promise<Row[]> {
  if (!keys.length) return [];
  const page = await q.query<Row>(
    `SELECT c.csid, c.ord, s.url, s.version, c.code, c.display, c.active
     FROM unnest($1::bigint[], $2::int[]) WITH ORDINALITY AS k(csid, ord, n)
     JOIN ${schema}.concept c ON c.csid = k.csid AND c.ord = k.ord JOIN ${schema}.code_system s ON s.csid = c.csid ORDER BY k.n`,
    [keys.map((k) => k.csid), keys.map((k) => k.ord)], { prepare: true });
  return page.rows;
}

interface Row { csid: string; ord: number; url: string; version: string; code: string; display: string | null; active: boolean; total?: string }

/** One page of the expansion, listed concepts first, then the stored ones. */
export async function expandPage(q: Queryable, schema: string, compiled: CompiledCompose, request: PageRequest, totals?: ExpansionTotals): Promise<ExpansionPage & { listed: ListedConcept[] }> {
  let listed = compiled.listed;
  if (request.filter) {
    listed = listed.map((c) => ({ c, rank: listedRank(c, request.filter!) })).filter((x) => x.rank !== undefined)
      .sort((a, b) => a.rank! - b.rank!).map((x) => x.c);
  }
  const listedPage = listed.slice(request.offset, request.offset + request.count);
  const offset = Math.max(0, request.offset - listed.length);
  const count = request.count - listedPage.length;

  const params = [...compiled.params];
  const conditions = [compiled.where, ...requestConditions(schema, request)];
  let order = 'c.csid, c.ord';
  let whereParams = params.length;
  if (request.filter) {
    const text = textMatch(compiled, params, schema, request.filter);
    if (text) {
      conditions.push(text.where);
      order = `${text.rank}, length(c.display), c.norm, c.csid, c.ord`;
      whereParams = text.whereParams;
    }
  }
  const where = conditions.join(' AND ');
  let rows: Row[] = [];
  let total: number | undefined;
  const scope = compiled.systems.reduce((n, s) => n + s.conceptCount, 0);
  // Too large for the substring scan: the word index drives, whole systems or a branch alike.
  const fast = request.filter && compiled.systems.length && scope > TEXT_SEARCH.containsScanMaxConcepts && count > 0
    ? await wordIndexSearch(q, schema, compiled, request, offset, count) : undefined;
  if (fast) {
    rows = await rowsByKeys(q, schema, fast.keys);
    total = fast.total;
  } else if (count > 0 && request.filter) {
    // A text search's matches are few enough to rank and count in one statement.
    const page = await q.query<Row>(
      `SELECT c.csid, c.ord, s.url, s.version, c.code, c.display, c.active, count(*) OVER () AS total
       FROM ${schema}.concept c JOIN ${schema}.code_system s ON s.csid = c.csid
       WHERE ${where} ORDER BY ${order} LIMIT ${Math.floor(count)} OFFSET ${Math.floor(offset)}`, params);
    rows = page.rows;
    if (rows.length) total = Number(rows[0]!.total);
  } else if (count > 0) {
    // Pages of a large expansion (a 50,000-concept branch): the page's keys first, in primary-key
    // order, so skipping `offset` members walks an index rather than sorting every member each
    // time; then the page's details; the total is counted apart.
    const keys = await q.query<{ csid: string; ord: number }>(
      `SELECT c.csid, c.ord FROM ${schema}.concept c WHERE ${where} ORDER BY c.csid, c.ord LIMIT ${Math.floor(count)} OFFSET ${Math.floor(offset)}`, params);
    rows = await rowsByKeys(q, schema, keys.rows);
  }
  if (total === undefined) {
    const countSql = `SELECT count(*) AS n FROM ${schema}.concept c WHERE ${where}`;
    const countParams = params.slice(0, whereParams);
    const key = `${countSql}\u0000${JSON.stringify(countParams)}`;
    total = totals?.get(key);
    if (total === undefined) {
      total = Number((await q.query<{ n: string }>(countSql, countParams)).rows[0]!.n);
      totals?.set(key, total);
    }
  }
  return {
    total: total + listed.length,
    listed: listedPage,
    rows: rows.map((r) => ({ csid: Number(r.csid), ord: r.ord, system: r.url, version: r.version, code: r.code, display: r.display ?? undefined, active: r.active })),
  };
}

/**
 * Value set conditions up to this long make findMember a prepared statement (planned once per
 * connection); longer ones (an inline value set of hundreds of includes) are planned per call, so
 * that no caller can make every connection hold large plans.
 */
const PREPARED_CONDITION_CHARS = 2_000;

/** Whether system|code is a member (a stored concept matching the compose, or a listed one). */
export async function findMember(q: Queryable, schema: string, compiled: CompiledCompose, system: string, code: string, version?: string): Promise<ExpansionRow | ListedConcept | undefined> {
  const listed = compiled.listed.find((c) => c.system === system && c.code === code && (!version || !c.version || c.version === version));
  if (listed) return listed;
  const candidates = compiled.systems.filter((s) => s.url === system && (!version || s.version === version));
  if (!candidates.length) return undefined;
  const params = [...compiled.params];
  // One system (the usual case) as a plain equality: with ANY(array) PostgreSQL keeps planning the prepared statement afresh.
  const csids = candidates.length === 1 ? `= $${params.push(candidates[0]!.csid)}::bigint` : `= ANY($${params.push(candidates.map((s) => s.csid))}::bigint[])`;
  const codeParam = `$${params.push(code)}`;
  // A code system with caseSensitive false matches the code in any case (as CodeSystem/$validate-code does; the index on lower(code) serves it).
  const sensitive = candidates.filter((s) => s.caseSensitive).length;
  const codeMatch = sensitive === candidates.length ? `c.code = ${codeParam}`
    : sensitive === 0 ? `lower(c.code) = lower(${codeParam})`
      : `(c.code = ${codeParam} OR (NOT s.case_sensitive AND lower(c.code) = lower(${codeParam})))`;
  const found = await q.query<Row>(
    `SELECT c.csid, c.ord, s.url, s.version, c.code, c.display, c.active FROM ${schema}.concept c JOIN ${schema}.code_system s ON s.csid = c.csid
     WHERE c.csid ${csids} AND ${codeMatch} AND ${compiled.where} ORDER BY c.code = ${codeParam} DESC, c.ord LIMIT 1`, params, { prepare: compiled.where.length <= PREPARED_CONDITION_CHARS });
  const r = found.rows[0];
  return r ? { csid: Number(r.csid), ord: r.ord, system: r.url, version: r.version, code: r.code, display: r.display ?? undefined, active: r.active } : undefined;
}
