/**
 * Reads of the concept tables: a code system version by url, a concept by code, its
 * designations, properties, parents and children, and subsumption (one probe of the closure).
 */
import type { TerminologyCapabilitiesCodeSystem } from '@medplum/fhirtypes';
import { DEFAULT_LIMITS, type Limits } from '../../common/limits.js';
import type { Database, Queryable, Subscription } from '../../db/database.js';
import { ConceptCache } from './concept-cache.js';
import { STAGING_URL_PREFIX } from './concept-writer.js';
import { ExpansionTotals } from './expansion.js';
import { compareVersions, latestVersion } from './versions.js';

export interface StoredCodeSystem {
  csid: number;
  url: string;
  version: string;
  resourceId: string;
  name?: string;
  caseSensitive: boolean;
  conceptCount: number;
  /** fragment, example or not-present: the concepts held are not the whole code system (absent: complete). */
  content?: string;
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

interface SystemRow { csid: string; url: string; version: string; resource_id: string; name: string | null; case_sensitive: boolean; concept_count: number; content: string | null }
interface ConceptRow { csid: string; ord: number; code: string; display: string | null; definition: string | null; active: boolean }

const toSystem = (r: SystemRow): StoredCodeSystem => ({
  csid: Number(r.csid), url: r.url, version: r.version, resourceId: r.resource_id, name: r.name ?? undefined,
  caseSensitive: r.case_sensitive, conceptCount: r.concept_count, ...(r.content ? { content: r.content } : {}),
});
const toConcept = (r: ConceptRow): StoredConcept => ({
  csid: Number(r.csid), ord: r.ord, code: r.code, display: r.display ?? undefined, definition: r.definition ?? undefined, active: r.active,
});

/**
 * Code systems by url are asked on every operation and change only on CodeSystem writes and
 * imports: they are kept in memory and dropped at once on this process's writes (forget). On
 * PostgreSQL with followChanges, every CodeSystem write also announces itself when it commits
 * (NOTIFY), so every process drops them then and keeps them until; otherwise (PGlite, one process)
 * they are also dropped after SYSTEM_CACHE_MS, for what a reader cached while a write was open.
 */
const SYSTEM_CACHE_MS = 5_000;

/** The channel a schema's CodeSystem writes are announced on. */
export const codeSystemChannel = (schema: string): string => `${schema}_code_systems`;

/**
 * How long a CodeSystem write of this process keeps the concept cache out of use when its
 * announcement never comes back (it rolled back, or it committed while the listening connection
 * was down; a reconnection clears the cache anyway).
 */
const OPEN_WRITE_MS = 60_000;

/** Age at which a cached concept is read again when no announcements are heard (PGlite). */
const UNANNOUNCED_CONCEPT_MS = 60_000;

type CachedConcept = StoredConcept & { designationValues?: string[] };

export interface ConceptStoreOptions {
  /**
   * The database the service reads: only reads made on it (never inside a transaction, which may
   * see its own uncommitted writes) use the concept cache; without it there is no cache. On
   * PostgreSQL (other connections and processes write too: it has `listen`) the cache is used only
   * while followChanges() tells this store of every committed write; on PGlite (one process, and
   * a write's transaction holds the only connection) always.
   */
  db?: Database;
}

export class ConceptStore {
  private readonly systems = new Map<string, { at: number; system: StoredCodeSystem }>();
  /** Told of every committed CodeSystem write (followChanges), so cached systems need no expiry. */
  private announced = false;
  /** Hot concepts of $lookup and $validate-code (concept-cache.ts), by code system version and code. */
  readonly concepts: ConceptCache<CachedConcept | ConceptDetails>;
  /** CodeSystem writes of this process not yet heard back from PostgreSQL (token: give-up time). */
  private readonly openWrites = new Map<string, number>();
  private writeCount = 0;
  private readonly db?: Database;
  private readonly sharedDatabase: boolean;

  /** Totals of recent expansions (expansion.ts), dropped with the code systems. */
  readonly totals = new ExpansionTotals();

  constructor(readonly schema: string, readonly limits: Limits = DEFAULT_LIMITS, options: ConceptStoreOptions = {}) {
    this.concepts = new ConceptCache(limits.terminologyConceptCacheEntries, limits.terminologyConceptCacheBytes);
    this.db = options.db;
    this.sharedDatabase = typeof options.db?.listen === 'function';
  }

  /** Drops the cached code systems, concepts and totals (a CodeSystem write or import changed them). */
  forget(): void {
    this.systems.clear();
    this.concepts.clear();
    this.totals.clear();
  }

  /**
   * A CodeSystem write of this process is under way (called inside its transaction): the cache is
   * cleared and left alone until the write's announcement (the token, in its NOTIFY) comes back
   * after the commit, so no reader can cache, or be answered from, a concept the write replaces,
   * even one read on another connection before the commit. Returns the token for the NOTIFY.
   */
  writeOpened(): string {
    const token = `${process.pid}.${++this.writeCount}`;
    this.forget();
    // Only while following: before that the cache is not used on PostgreSQL, and the announcement could not come back.
    if (this.sharedDatabase && this.announced) this.openWrites.set(token, Date.now() + OPEN_WRITE_MS);
    return token;
  }

  /** Whether $lookup and $validate-code may read and fill the concept cache now, reading on q. */
  private conceptCacheUsable(q: Queryable): boolean {
    if (!this.concepts.enabled || q !== this.db) return false;
    if (!this.sharedDatabase) return true;
    if (!this.announced) return false;
    if (this.openWrites.size === 0) return true;
    const now = Date.now();
    for (const [token, until] of this.openWrites) if (until <= now) this.openWrites.delete(token);
    if (this.openWrites.size === 0) this.forget(); // given up on: clear what was read meanwhile
    return this.openWrites.size === 0;
  }

  /** A committed write announced (by any process); its payload starts with this process's token when it was ours. */
  private announcedWrite(payload: string): void {
    this.forget();
    for (const listener of this.commitListeners) listener();
    const token = payload.split(' ', 1)[0]!;
    this.openWrites.delete(token);
    for (const resolve of this.waiting.splice(0)) resolve(payload);
  }

  private readonly waiting: Array<(payload: string) => void> = [];
  private readonly commitListeners: Array<() => void> = [];

  /** Calls `listener` after each committed CodeSystem write announced to this store (followChanges, PostgreSQL). */
  onCommittedWrite(listener: () => void): void {
    this.commitListeners.push(listener);
  }

  /** Resolves with the next committed CodeSystem write announced to this store (followChanges): for tests and tools. */
  nextAnnouncement(): Promise<string> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** The cached value of a key, or undefined when the cache is not to be used now. */
  private cached<V extends CachedConcept | ConceptDetails>(q: Queryable, key: string): V | undefined {
    if (!this.conceptCacheUsable(q)) return undefined;
    // PGlite: writes of this store are seen at once; those of another store on the same database (a
    // second engine in this process, which the service never makes) once the entry is UNANNOUNCED_CONCEPT_MS old.
    return this.concepts.get(key, this.announced ? Infinity : UNANNOUNCED_CONCEPT_MS) as V | undefined;
  }

  /**
   * Drops the cached code systems whenever any process commits a CodeSystem write (the
   * interceptor's NOTIFY) or the notifications were interrupted. PostgreSQL only (Database.listen).
   */
  async followChanges(db: Database): Promise<Subscription | undefined> {
    if (!db.listen) return undefined;
    const subscription = await db.listen(codeSystemChannel(this.schema), {
      onNotify: (payload) => this.announcedWrite(payload),
      onReconnect: () => this.forget(),
    });
    this.announced = true;
    this.forget(); // what was read before listening may predate a write announced before
    return {
      close: async () => {
        this.announced = false;
        this.forget();
        await subscription.close();
      },
    };
  }

  /** The code system version named, or the latest version when none is given. */
  async findSystem(q: Queryable, url: string, version?: string): Promise<StoredCodeSystem | undefined> {
    const key = `${url}|${version ?? ''}`;
    const cached = this.systems.get(key);
    if (cached && (this.announced || Date.now() - cached.at < SYSTEM_CACHE_MS)) return cached.system;
    const system = await this.readSystem(q, url, version);
    if (this.systems.size > 10_000) this.systems.clear();
    // Only found ones: a code system created a moment later must be found at once.
    if (system) this.systems.set(key, { at: Date.now(), system });
    return system;
  }

  private async readSystem(q: Queryable, url: string, version?: string): Promise<StoredCodeSystem | undefined> {
    const rows = version
      ? await q.query<SystemRow>(`SELECT * FROM ${this.schema}.code_system WHERE url = $1 AND version = $2`, [url, version], { prepare: true })
      // The latest version by version order (versions.ts), the one loaded last breaking ties.
      : await q.query<SystemRow>(`SELECT * FROM ${this.schema}.code_system WHERE url = $1 ORDER BY loaded_at DESC, csid DESC LIMIT 100`, [url], { prepare: true });
    const row = version ? rows.rows[0] : latestVersion(rows.rows, (r) => r.version);
    return row ? toSystem(row) : undefined;
  }

  /**
   * Every code system version held, for `metadata?mode=terminology` (TerminologyCapabilities):
   * by url, the latest version (versions.ts) marked as the default; staged imports left out.
   */
  async catalogue(q: Queryable, max = 10_000): Promise<TerminologyCapabilitiesCodeSystem[]> {
    const rows = await q.query<{ url: string; version: string }>(
      `SELECT url, version FROM ${this.schema}.code_system WHERE url NOT LIKE '${STAGING_URL_PREFIX}%' ORDER BY url, loaded_at DESC, csid DESC LIMIT ${max}`,
    );
    const byUrl = new Map<string, string[]>();
    for (const { url, version } of rows.rows) byUrl.set(url, [...(byUrl.get(url) ?? []), version]);
    return [...byUrl].map(([uri, versions]) => {
      const latest = latestVersion(versions, (v) => v);
      const listed = versions.filter((v) => v !== '').map((code) => ({ code, isDefault: code === latest }));
      // Every system held answers $subsumes (over its is-a closure).
      return { uri, ...(listed.length ? { version: listed } : {}), subsumption: true };
    });
  }

  /** The versions held of a code system url, oldest first (versions.ts order); none when it is not held. */
  async versionsOf(q: Queryable, url: string): Promise<string[]> {
    const rows = await q.query<{ version: string }>(`SELECT version FROM ${this.schema}.code_system WHERE url = $1 LIMIT 100`, [url], { prepare: true });
    return rows.rows.map((r) => r.version).sort(compareVersions);
  }

  async systemsOfResource(q: Queryable, resourceId: string): Promise<StoredCodeSystem[]> {
    const rows = await q.query<SystemRow>(`SELECT * FROM ${this.schema}.code_system WHERE resource_id = $1 ORDER BY csid`, [resourceId]);
    return rows.rows.map(toSystem);
  }

  /** The concept row by code: exact, or ignoring case for a case-insensitive system (the first by ord). */
  private conceptWhere(system: StoredCodeSystem): string {
    return system.caseSensitive ? 'c.csid = $1 AND c.code = $2' : 'c.csid = $1 AND lower(c.code) = lower($2) ORDER BY c.ord LIMIT 1';
  }

  /**
   * A concept by code, with its designations' values when a display is to be checked: one
   * prepared statement either way ($validate-code).
   */
  async concept(q: Queryable, system: StoredCodeSystem, code: string, options: { designations?: boolean } = {}): Promise<CachedConcept | undefined> {
    const key = `${options.designations ? 'd' : 'c'}${system.csid} ${code}`;
    const hit = this.cached<CachedConcept>(q, key);
    if (hit) return hit;
    const generation = this.concepts.generation;
    const found = await this.readConcept(q, system, code, options);
    if (found && this.conceptCacheUsable(q)) this.concepts.set(key, found, generation);
    return found;
  }

  private async readConcept(q: Queryable, system: StoredCodeSystem, code: string, options: { designations?: boolean }): Promise<CachedConcept | undefined> {
    const s = this.schema;
    const values = options.designations
      ? `, (SELECT json_agg(d.value)::text FROM ${s}.designation d WHERE d.csid = c.csid AND d.ord = c.ord) AS dv` : '';
    const rows = await q.query<ConceptRow & { dv?: string | null }>(
      `SELECT c.csid, c.ord, c.code, c.display, c.definition, c.active${values} FROM ${s}.concept c WHERE ${this.conceptWhere(system)}`,
      [system.csid, code], { prepare: true });
    const row = rows.rows[0];
    if (!row) return undefined;
    return options.designations ? { ...toConcept(row), designationValues: row.dv ? (JSON.parse(row.dv) as string[]) : [] } : toConcept(row);
  }

  /**
   * A concept with everything $lookup reports, in one prepared statement: the concept row with its
   * designations, properties, parents and children aggregated as JSON text (parsed once here).
   * Prepared, the four correlated aggregates are planned once per connection, not per call.
   */
  async conceptDetails(q: Queryable, system: StoredCodeSystem, code: string): Promise<ConceptDetails | undefined> {
    const key = `l${system.csid} ${code}`;
    const hit = this.cached<ConceptDetails>(q, key);
    if (hit) return hit;
    const generation = this.concepts.generation;
    const found = await this.readConceptDetails(q, system, code);
    if (found && this.conceptCacheUsable(q)) this.concepts.set(key, found, generation);
    return found;
  }

  private async readConceptDetails(q: Queryable, system: StoredCodeSystem, code: string): Promise<ConceptDetails | undefined> {
    const s = this.schema;
    const rows = await q.query<ConceptRow & { ds: string | null; ps: string | null; up: string | null; down: string | null }>(
      `SELECT c.csid, c.ord, c.code, c.display, c.definition, c.active,
        (SELECT json_agg(json_build_array(d.language, d.use_system, d.use_code, d.value))::text FROM ${s}.designation d WHERE d.csid = c.csid AND d.ord = c.ord) AS ds,
        (SELECT json_agg(json_build_array(p.code, p.type, p.value))::text FROM ${s}.property p WHERE p.csid = c.csid AND p.ord = c.ord) AS ps,
        (SELECT json_agg(json_build_array(x.code, x.display) ORDER BY x.ord)::text FROM ${s}.parent l JOIN ${s}.concept x ON x.csid = l.csid AND x.ord = l.parent
          WHERE l.csid = c.csid AND l.child = c.ord) AS up,
        (SELECT json_agg(json_build_array(z.code, z.display) ORDER BY z.ord)::text FROM (SELECT y.code, y.display, y.ord FROM ${s}.parent l JOIN ${s}.concept y ON y.csid = l.csid AND y.ord = l.child
          WHERE l.csid = c.csid AND l.parent = c.ord ORDER BY y.ord LIMIT 1000) z) AS down
       FROM ${s}.concept c WHERE ${this.conceptWhere(system)}`, [system.csid, code], { prepare: true });
    const row = rows.rows[0];
    if (!row) return undefined;
    type Cell = string | null;
    const list = <T>(text: string | null, map: (cells: Cell[]) => T): T[] => (text ? (JSON.parse(text) as Cell[][]).map(map) : []);
    const neighbour = ([code, display]: Cell[]): Neighbour => ({ code: code!, ...(display !== null && display !== undefined ? { display } : {}) });
    return {
      ...toConcept(row),
      designations: list(row.ds, ([language, useSystem, useCode, value]) => ({
        ...(language !== null ? { language: language! } : {}), ...(useSystem !== null ? { useSystem: useSystem! } : {}), ...(useCode !== null ? { useCode: useCode! } : {}), value: value!,
      })),
      properties: list(row.ps, ([code, type, value]) => ({ code: code!, type: type!, value: value! })),
      parents: list(row.up, neighbour),
      children: list(row.down, neighbour),
    };
  }

  /** Whether `ancestor` subsumes `descendant` (or is it): one primary-key probe of the closure. */
  async subsumes(q: Queryable, csid: number, ancestor: number, descendant: number): Promise<boolean> {
    const rows = await q.query(`SELECT 1 FROM ${this.schema}.closure WHERE csid = $1 AND ancestor = $2 AND descendant = $3`, [csid, ancestor, descendant], { prepare: true });
    return rows.rows.length > 0;
  }

  /** Whether a concept is a grouper not for use in records (property notSelectable or abstract true): asked only with abstract=false. */
  async notSelectable(q: Queryable, csid: number, ord: number): Promise<boolean> {
    const rows = await q.query(`SELECT 1 FROM ${this.schema}.property WHERE csid = $1 AND ord = $2 AND code IN ('notSelectable', 'abstract') AND value = 'true' LIMIT 1`, [csid, ord], { prepare: true });
    return rows.rows.length > 0;
  }
}
