/**
 * Sender assertions already accepted for a write, in the database so that a replay is refused on
 * every replica: a signature vouches for one write once. Rows live until the assertion could no
 * longer be accepted anyway (its timestamp plus the allowed skew); expired rows are purged now
 * and then by the process that records them, so the table holds about 5 minutes of writes.
 */
import { createHash } from 'node:crypto';
import type { Database } from '../../db/database.js';

/** Expired rows are purged once per this many recorded signatures. */
const PURGE_EVERY = 500;

export class UsedSenderSignatures {
  private recorded = 0;

  constructor(private readonly db: Database, private readonly schema: string) {}

  /** Records a signature as used until expiresAtMs; false when it was used already (a replay). */
  async use(signature: string, expiresAtMs: number): Promise<boolean> {
    if (++this.recorded % PURGE_EVERY === 0) await this.purge();
    const key = createHash('sha256').update(signature).digest('base64url');
    const { rows } = await this.db.query(
      `INSERT INTO ${this.schema}.used_sender_signatures (key, expires_at) VALUES ($1, to_timestamp($2::double precision / 1000))
       ON CONFLICT (key) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE ${this.schema}.used_sender_signatures.expires_at < now()
       RETURNING key`,
      [key, expiresAtMs],
    );
    return rows.length > 0;
  }

  async purge(): Promise<void> {
    await this.db.query(`DELETE FROM ${this.schema}.used_sender_signatures WHERE expires_at < now()`);
  }
}
