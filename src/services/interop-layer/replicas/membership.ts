/**
 * This replica's row in iol.replicas, refreshed every heartbeat. Other replicas read the table to
 * tell a live replica's Processing transactions and claimed tasks from a dead one's (reaper.ts).
 * Times are the database's (now()), so the replicas' clocks need not agree.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Database } from '../../../db/database.js';
import type { Logger } from '../../../common/logger.js';

export class ReplicaMembership {
  readonly id = `${hostname().slice(0, 40)}-${process.pid}-${randomBytes(4).toString('hex')}`;
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;

  constructor(private readonly db: Database, private readonly logger: Logger) {}

  async join(heartbeatMs: number): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => {
      this.beat()
        .then(() => {
          if (this.failures > 0) this.logger.info({ replica: this.id }, 'replica heartbeat works again');
          this.failures = 0;
        })
        .catch((error: unknown) => {
          if (this.failures++ % 10 === 0) this.logger.warn({ err: { message: (error as Error)?.message }, replica: this.id }, 'replica heartbeat failed');
        });
    }, heartbeatMs);
    this.timer.unref();
  }

  /** Also puts the row back when another replica took this one for dead (a long pause). */
  private async beat(): Promise<void> {
    await this.db.query(
      `INSERT INTO iol.replicas (id, host, pid) VALUES ($1, $2, $3)
       ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()`,
      [this.id, hostname().slice(0, 200), process.pid],
    );
  }

  /**
   * A clean stop: the row goes at once, so nothing of this replica waits to be declared dead, and
   * its leases are given back, so a replica started next (a restart) runs those jobs at once.
   */
  async leave(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.db.query('DELETE FROM iol.leases WHERE holder = $1', [this.id]).catch(() => undefined);
    await this.db.query('DELETE FROM iol.replicas WHERE id = $1', [this.id]).catch(() => undefined);
  }
}
