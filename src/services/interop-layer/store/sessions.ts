/**
 * Admin sessions and used token headers, in the database so that every replica of the API
 * knows them: a user logged in through one replica is logged in on all, a logout or a password
 * change ends the session on all, and a token header used on one is a replay on the others.
 * Sessions are stored by the sha256 of the cookie value, never the value itself.
 */
import type { Queryable } from '../../../db/database.js';
import { sha256hex } from '../passwords.js';

export interface StoredSession {
  email: string;
  /** The user's credential stamp when the session began (auth.ts credentialStamp). */
  stamp: string;
  /** Milliseconds left before it expires. */
  remainingMs: number;
}

export class SessionStore {
  constructor(private readonly db: Queryable) {}

  async open(sessionId: string, email: string, stamp: string, ttlMs: number): Promise<void> {
    await this.db.query(
      `INSERT INTO iol.sessions (id_hash, email, stamp, expires_at) VALUES ($1, $2, $3, now() + make_interval(secs => $4::double precision / 1000))`,
      [sha256hex(sessionId), email, stamp, ttlMs],
    );
  }

  /** A live session, or undefined when there is none or it has expired. */
  async find(sessionId: string): Promise<StoredSession | undefined> {
    const r = await this.db.query<{ email: string; stamp: string; remaining_ms: number }>(
      `SELECT email, stamp, (extract(epoch FROM (expires_at - now())) * 1000)::bigint AS remaining_ms
         FROM iol.sessions WHERE id_hash = $1 AND expires_at > now()`,
      [sha256hex(sessionId)],
    );
    const row = r.rows[0];
    return row ? { email: row.email, stamp: row.stamp, remainingMs: Number(row.remaining_ms) } : undefined;
  }

  /** Slides the expiry to ttl from now. */
  async extend(sessionId: string, ttlMs: number): Promise<void> {
    await this.db.query(`UPDATE iol.sessions SET expires_at = now() + make_interval(secs => $2::double precision / 1000) WHERE id_hash = $1`, [sha256hex(sessionId), ttlMs]);
  }

  async close(sessionId: string): Promise<void> {
    await this.db.query('DELETE FROM iol.sessions WHERE id_hash = $1', [sha256hex(sessionId)]);
  }

  /**
   * Records a token header as used until `expiresAtMs`; false when it was used already (a
   * replay), on this replica or another.
   */
  async useToken(key: string, expiresAtMs: number): Promise<boolean> {
    const r = await this.db.query(
      `INSERT INTO iol.used_tokens (key, expires_at) VALUES ($1, to_timestamp($2::double precision / 1000))
       ON CONFLICT (key) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE iol.used_tokens.expires_at < now()
       RETURNING key`,
      [sha256hex(key), expiresAtMs],
    );
    return r.rows.length > 0;
  }
}
