/**
 * Storage of OpenHIM's app registry (/apps, /importmaps): the console's micro-frontend apps, the
 * document in jsonb, name and url each unique (OpenHIM's model/apps.js indexes).
 */
import type { Database } from '../../../db/database.js';

export interface App {
  _id: string;
  name: string;
  url: string;
  [field: string]: unknown;
}

/** A filter on one field of the document: equality, or membership for access_roles. */
export interface AppFilter {
  field: string;
  value: string | boolean;
}

function whereOf(filters: readonly AppFilter[]): { where: string; params: unknown[] } {
  const params: unknown[] = [];
  const clauses = filters.map((f) => {
    // access_roles is a list: a value matches when the list holds it (Mongo's array equality).
    params.push(JSON.stringify({ [f.field]: f.field === 'access_roles' ? [f.value] : f.value }));
    return `doc @> $${params.length}::jsonb`;
  });
  return { where: clauses.length ? `WHERE ${clauses.join(' AND ')}` : '', params };
}

export class AppStore {
  constructor(private readonly db: Database) {}

  /** Apps matching every filter (as OpenHIM's `find(query)`), by name. */
  async list(filters: readonly AppFilter[] = []): Promise<App[]> {
    const { where, params } = whereOf(filters);
    return (await this.db.query<{ doc: App }>(`SELECT doc FROM iol.apps ${where} ORDER BY name`, params)).rows.map((r) => r.doc);
  }

  /** Only the name and url of the apps matching (the import map: no icons read or sent). */
  async namesAndUrls(filters: readonly AppFilter[] = []): Promise<Array<{ name: string; url: string }>> {
    const { where, params } = whereOf(filters);
    return (await this.db.query<{ name: string; url: string }>(`SELECT name, url FROM iol.apps ${where} ORDER BY name`, params)).rows;
  }

  async count(): Promise<number> {
    return Number((await this.db.query<{ n: number }>('SELECT count(*)::int AS n FROM iol.apps')).rows[0]?.n ?? 0);
  }

  async byId(id: string): Promise<App | undefined> {
    return (await this.db.query<{ doc: App }>('SELECT doc FROM iol.apps WHERE id = $1', [id])).rows[0]?.doc;
  }

  /** The other app holding this name or url, if any (both are unique). */
  async clashing(app: App): Promise<App | undefined> {
    const r = await this.db.query<{ doc: App }>('SELECT doc FROM iol.apps WHERE (name = $1 OR url = $2) AND id <> $3 LIMIT 1', [app.name, app.url, app._id]);
    return r.rows[0]?.doc;
  }

  async insert(app: App): Promise<void> {
    await this.db.query('INSERT INTO iol.apps (id, name, url, doc) VALUES ($1, $2, $3, $4::jsonb)', [app._id, app.name, app.url, JSON.stringify(app)]);
  }

  /**
   * Inserts the app unless there are `max` already: false then. Counted and inserted under one
   * lock, so requests at once cannot all pass the count.
   */
  async insertCapped(app: App, max: number): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock(hashtext('iol.apps'))`);
      const n = Number((await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM iol.apps')).rows[0]?.n ?? 0);
      if (n >= max) return false;
      await tx.query('INSERT INTO iol.apps (id, name, url, doc) VALUES ($1, $2, $3, $4::jsonb)', [app._id, app.name, app.url, JSON.stringify(app)]);
      return true;
    });
  }

  async update(app: App): Promise<boolean> {
    const r = await this.db.query('UPDATE iol.apps SET name = $2, url = $3, doc = $4::jsonb, updated_at = now() WHERE id = $1', [app._id, app.name, app.url, JSON.stringify(app)]);
    return r.rowCount > 0;
  }

  async delete(id: string): Promise<boolean> {
    return (await this.db.query('DELETE FROM iol.apps WHERE id = $1', [id])).rowCount > 0;
  }
}
