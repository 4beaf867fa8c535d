/**
 * Reads of the concept tables: a code system version by url, a concept by code, its
 * designations, properties, parents and children, and subsumption (one probe of the closure).
 */
import type { Queryable } from '../../db/database.js';
import { ExpansionTotals } from './expansion.js';

export interface StoredCodeSystem {
  csid: number;
  url: string;
  version: string;
  resourceId: string;
  name?: string;
  caseSensitive: boolean;
  conceptCount: number;
}

export interface StoredConcept {
  csid: number;
  ord: number;
  code: string;
  display?: string;
  definition?: string;
  active: boolean;
}

export interface Designation { language?: string; useSystem?: string; useCode?: string; value: string }
export interface Neighbour { code: string; display?: string }
export interface ConceptDetails extends StoredConcept {
  designations: Designation[];
  properties: Array<{ code: string; type: string; value: string }>;
  parents: Neighbour[];
  children: Neighbour[];
}

interface SystemRow { csid: string; url: string; version: string; resource_id: string; name: string | null; case_sensitive: boolean; concept_count: number }
interface ConceptRow { csid: string; ord: number; code: string; display: string | null; definition: string | null; active: boolean }

const toSystem = (r: SystemRow): StoredCodeSystem => ({
  csid: Number(r.csid), url: r.url, version: r.version, resourceId: r.resource_id, name: r.name ?? undefined,
  caseSensitive: r.case_sensitive, conceptCount: r.concept_count,
});
const toConcept = (r: ConceptRow): StoredConcept => ({
  csid: Number(r.csid), ord: r.ord, code: r.code, display: r.display ?? undefined, definition: r.definition ?? undefined, active: r.active,
});

/**
 * Code systems by url are asked on every operation and change only on CodeSystem writes and
 * imports: they are kept in memory, dropped at once on this process's writes (forget) and after
 * SYSTEM_CACHE_MS otherwise (another process sharing a PostgreSQL database may have written).
 */
const SYSTEM_CACHE_MS = 5_000;

export class ConceptStore {
  private readonly systems = new Map<string, { at: number; system: StoredCodeSystem }>();

  /** Totals of recent expansions (expansion.ts), dropped with the code systems. */
  readonly totals = new ExpansionTotals();

  constructor(readonly schema: string) {}

  /** Drops the cached code systems and totals (a CodeSystem write or import changed them). */
  forget(): void {
    this.systems.clear();
    this.totals.clear();
  }

  /** The code system version named, or the latest loaded when no version is given. */
  async findSystem(q: Queryable, url: string, version?: string): Promise<StoredCodeSystem | undefined> {
    const key = `${url}|${version ?? ''}`;
    const cached = this.systems.get(key);
    if (cached && Date.now() - cached.at < SYSTEM_CACHE_MS) return cached.system;
    const system = await this.readSystem(q, url, version);
    if (this.systems.size > 10_000) this.systems.clear();
    // Only found ones: a code system created a moment later must be found at once.
    if (system) this.systems.set(key, { at: Date.now(), system });
    return system;
  }

  private async readSystem(q: Queryable, url: string, version?: string): Promise<StoredCodeSystem | undefined> {
    const rows = version
      ? await q.query<SystemRow>(`SELECT * FROM ${this.schema}.code_system WHERE url = $1 AND version = $2`, [url, version])
      : await q.query<SystemRow>(`SELECT * FROM ${this.schema}.code_system WHERE url = $1 ORDER BY loaded_at DESC, csid DESC LIMIT 1`, [url]);
    return rows.rows[0] ? toSystem(rows.rows[0]) : undefined;
  }

  async systemsOfResource(q: Queryable, resourceId: string): Promise<StoredCodeSystem[]> {
    const rows = await q.query<SystemRow>(`SELECT * FROM ${this.schema}.code_system WHERE resource_id = $1 ORDER BY csid`, [resourceId]);
    return rows.rows.map(toSystem);
  }

  async concept(q: Queryable, system: StoredCodeSystem, code: string): Promise<StoredConcept | undefined> {
    const rows = system.caseSensitive
      ? await q.query<ConceptRow>(`SELECT csid, ord, code, display, definition, active FROM ${this.schema}.concept WHERE csid = $1 AND code = $2`, [system.csid, code])
      : await q.query<ConceptRow>(`SELECT csid, ord, code, display, definition, active FROM ${this.schema}.concept WHERE csid = $1 AND lower(code) = lower($2) LIMIT 1`, [system.csid, code]);
    return rows.rows[0] ? toConcept(rows.rows[0]) : undefined;
  }

  /**
   * A concept with everything $lookup reports: the concept, then its designations, properties,
   * parents and children in one UNION ALL of simple index scans (planning one statement with four
   * correlated aggregates cost several times its execution).
   */
  async conceptDetails(q: Queryable, system: StoredCodeSystem, code: string): Promise<ConceptDetails | undefined> {
    const concept = await this.concept(q, system, code);
    if (!concept) return undefined;
    const s = this.schema;
    const rows = await q.query<{ k: string; a: string | null; b: string | null; c: string | null; v: string | null }>(
      `SELECT 'd' AS k, language AS a, use_system AS b, use_code AS c, value AS v, 0 AS o FROM ${s}.designation WHERE csid = $1 AND ord = $2
       UNION ALL SELECT 'p', code, type, NULL, value, 0 FROM ${s}.property WHERE csid = $1 AND ord = $2
       UNION ALL SELECT 'u', x.code, x.display, NULL, NULL, x.ord FROM ${s}.parent l JOIN ${s}.concept x ON x.csid = l.csid AND x.ord = l.parent WHERE l.csid = $1 AND l.child = $2
       UNION ALL (SELECT 'c', z.code, z.display, NULL, NULL, z.ord FROM ${s}.parent l JOIN ${s}.concept z ON z.csid = l.csid AND z.ord = l.child
                  WHERE l.csid = $1 AND l.parent = $2 ORDER BY z.ord LIMIT 1000)
       ORDER BY 1, 6`, [concept.csid, concept.ord]);
    const details: ConceptDetails = { ...concept, designations: [], properties: [], parents: [], children: [] };
    const neighbour = (r: { a: string | null; b: string | null }): Neighbour => ({ code: r.a!, ...(r.b !== null ? { display: r.b } : {}) });
    for (const r of rows.rows) {
      if (r.k === 'd') details.designations.push({ ...(r.a !== null ? { language: r.a } : {}), ...(r.b !== null ? { useSystem: r.b } : {}), ...(r.c !== null ? { useCode: r.c } : {}), value: r.v! });
      else if (r.k === 'p') details.properties.push({ code: r.a!, type: r.b!, value: r.v! });
      else if (r.k === 'u') details.parents.push(neighbour(r));
      else details.children.push(neighbour(r));
    }
    return details;
  }

  async designations(q: Queryable, concept: StoredConcept): Promise<Array<{ language?: string; useSystem?: string; useCode?: string; value: string }>> {
    const rows = await q.query<{ language: string | null; use_system: string | null; use_code: string | null; value: string }>(
      `SELECT language, use_system, use_code, value FROM ${this.schema}.designation WHERE csid = $1 AND ord = $2`, [concept.csid, concept.ord]);
    return rows.rows.map((r) => ({ language: r.language ?? undefined, useSystem: r.use_system ?? undefined, useCode: r.use_code ?? undefined, value: r.value }));
  }

  /** Whether `ancestor` subsumes `descendant` (or is it): one primary-key probe of the closure. */
  async subsumes(q: Queryable, csid: number, ancestor: number, descendant: number): Promise<boolean> {
    const rows = await q.query(`SELECT 1 FROM ${this.schema}.closure WHERE csid = $1 AND ancestor = $2 AND descendant = $3`, [csid, ancestor, descendant]);
    return rows.rows.length > 0;
  }
}
