/** Storage of the console's visualizers (OpenHIM /visualizers): the document in jsonb, the name unique. */
import type { Queryable } from '../../../db/database.js';

export interface Visualizer {
  _id: string;
  name: string;
  [field: string]: unknown;
}

export class VisualizerStore {
  constructor(private readonly db: Queryable) {}

  async list(): Promise<Visualizer[]> {
    return (await this.db.query<{ doc: Visualizer }>('SELECT doc FROM iol.visualizers ORDER BY name')).rows.map((r) => r.doc);
  }

  async count(): Promise<number> {
    return Number((await this.db.query<{ n: number }>('SELECT count(*)::int AS n FROM iol.visualizers')).rows[0]?.n ?? 0);
  }

  async byId(id: string): Promise<Visualizer | undefined> {
    return (await this.db.query<{ doc: Visualizer }>('SELECT doc FROM iol.visualizers WHERE id = $1', [id])).rows[0]?.doc;
  }

  async insert(visualizer: Visualizer): Promise<void> {
    await this.db.query('INSERT INTO iol.visualizers (id, name, doc) VALUES ($1, $2, $3::jsonb)', [visualizer._id, visualizer.name, JSON.stringify(visualizer)]);
  }

  async update(visualizer: Visualizer): Promise<boolean> {
    const r = await this.db.query('UPDATE iol.visualizers SET name = $2, doc = $3::jsonb, updated_at = now() WHERE id = $1', [
      visualizer._id,
      visualizer.name,
      JSON.stringify(visualizer),
    ]);
    return r.rowCount > 0;
  }

  async delete(id: string): Promise<boolean> {
    return (await this.db.query('DELETE FROM iol.visualizers WHERE id = $1', [id])).rowCount > 0;
  }
}
