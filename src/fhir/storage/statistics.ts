/**
 * Keeps planner statistics fresh on PGlite, which has no autovacuum: without them PostgreSQL
 * guesses row counts and picks plans that scan whole index tables. After enough writes (10% of
 * the store, at least 500), ANALYZE runs off the request path. PostgreSQL servers do this
 * themselves, so the keeper does nothing there.
 *
 * A failed ANALYZE is reported to `onError` (the writes that triggered it are already
 * committed; the next threshold tries again) and never rejects; once settled for shutdown, no
 * new ANALYZE starts.
 */
import type { Database } from '../../db/database.js';
import { INDEX_TABLES } from './migrations.js';

export class StatisticsKeeper {
  private pending = 0;
  private threshold = 200;
  private running?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly db: Database,
    private readonly schema: string,
    private readonly onError: (error: Error) => void = () => undefined,
  ) {}

  noteWrites(count: number): void {
    if (this.db.kind !== 'pglite' || this.stopped) return;
    this.pending += count;
    if (this.pending < this.threshold || this.running) return;
    this.pending = 0;
    this.running = this.analyze()
      .catch((error: unknown) => this.onError(error instanceof Error ? error : new Error(String(error))))
      .finally(() => {
        this.running = undefined;
      });
  }

  async analyze(): Promise<void> {
    const tables = ['resources', 'history', ...INDEX_TABLES].map((t) => `${this.schema}.${t}`).join(', ');
    await this.db.exec(`ANALYZE ${tables}`);
    const size = await this.db.query<{ n: number }>(`SELECT reltuples::bigint AS n FROM pg_class WHERE oid = '${this.schema}.resources'::regclass`);
    this.threshold = Math.max(500, Math.floor(Number(size.rows[0]?.n ?? 0) * 0.1));
  }

  /** Waits for a running ANALYZE and starts no other (before closing the database). */
  async settle(): Promise<void> {
    this.stopped = true;
    await this.running;
  }
}
