/**
 * Deletes, in the background and in short batches, the rows of code system versions that writes
 * retired (concept-writer.ts: replaced or deleted) and of imports a stop cut short. Kicked after
 * each CodeSystem write (on PGlite its first statement waits for the write's commit: one
 * connection) and on each committed write announced by PostgreSQL; also at start.
 */
import type { Logger } from '../../common/logger.js';
import type { Database } from '../../db/database.js';
import { dropAbandonedStaging, dropRetired } from './concept-writer.js';

export class RetiredSweeper {
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(private readonly db: Database, private readonly schema: string, private readonly logger?: Pick<Logger, 'info' | 'warn'>) {}

  /** Sweeps soon (once more after the current sweep, if one is running). */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.sweep().finally(() => {
      this.running = undefined;
    });
  }

  /** Also the staged rows of interrupted imports (at start). */
  kickWithStaging(): void {
    this.withStaging = true;
    this.kick();
  }

  private withStaging = false;

  private async sweep(): Promise<void> {
    do {
      this.again = false;
      await new Promise((resolve) => setImmediate(resolve));
      if (this.stopped) return;
      try {
        const staged = this.withStaging ? await dropAbandonedStaging(this.db, this.schema) : 0;
        this.withStaging = false;
        const retired = await dropRetired(this.db, this.schema, () => this.stopped);
        if (staged || retired) this.logger?.info({ retired, staged }, 'terminology: rows of replaced code system versions deleted');
      } catch (error) {
        if (!this.stopped) this.logger?.warn({ err: { message: (error as Error).message } }, 'terminology: could not delete rows of replaced code system versions (retried at the next write or start)');
      }
    } while (this.again && !this.stopped);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }
}
