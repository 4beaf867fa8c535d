/**
 * Keeps planner statistics fresh on PGlite, which has no autovacuum: without them PostgreSQL
 * guesses row counts and picks plans that scan whole index tables. After enough writes (10% of
 * the store, at least 500), ANALYZE runs off the request path. PostgreSQL servers do this
 * themselves, so the keeper does nothing there.
 */
import type { Database } from '../../db/database.js';
import { INDEX_TABLES } from './migrations.js';

export class StatisticsKeeper {
  private pending = 0;
  private threshold = 200;
  private running?: Promise<void>;

  constructor(private readonly db: Database, private readonly schema: string) {}

  noteWrites(count: number): void {
    if (this.db.kind !== 'pglite') return;
    this.pending += count;
    if (this.pending < this.threshold || this.running) return;
    this.pending = 0;
    this.running = this.analyze().catch(() => undefined).finally(() => {
      this.running = undefined;
    });
  }

  async analyze(): Promise<void> {
    const tables = ['resources', 'history', ...INDEX_TABLES].map((t) => `${this.schema}.${t}`).join(', ');
    await this.db.exec(`ANALYZE ${tables}`);
    const size = await this.db.query<{ n: number }>(`SELECT reltuples::bigint AS n FROM pg_class WHERE oid = '${this.schema}.resources'::regclass`);
    this.threshold = Math.max(500, Math.floor(Number(size.rows[0]?.n ?? 0) * 0.1));
  }

  /** Waits for a running ANALYZE (before closing the database). */
  async settle(): Promise<void> {
    await this.running;
  }
}
