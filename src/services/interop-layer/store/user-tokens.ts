/**
 * Set-password tokens (OpenHIM's user `token`, `tokenType`, `expiry`): a new user's link to set a
 * first password, or an existing user's password reset. Only the token's sha256 is stored, one per
 * user (a new one replaces the last); a token is used once.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Queryable } from '../../../db/database.js';

export type TokenType = 'newUser' | 'existingUser';

export interface UserToken {
  userId: string;
  tokenType: TokenType;
  expiry: string;
}

const hashOf = (token: string) => createHash('sha256').update(token).digest('hex');

export class UserTokenStore {
  constructor(private readonly db: Queryable) {}

  /** A new token for the user (replacing any other), valid for `validMs`. */
  async issue(userId: string, tokenType: TokenType, validMs: number): Promise<{ token: string; expiry: string }> {
    // 128 random bits, hex, as OpenHIM's generateRandomToken.
    const token = randomBytes(16).toString('hex');
    const expiry = new Date(Date.now() + validMs).toISOString();
    await this.db.query(
      `INSERT INTO iol.user_tokens (token_hash, user_id, token_type, expiry) VALUES ($1, $2, $3, $4)
       ON CONFLICT (user_id) DO UPDATE SET token_hash = EXCLUDED.token_hash, token_type = EXCLUDED.token_type, expiry = EXCLUDED.expiry`,
      [hashOf(token), userId, tokenType, expiry],
    );
    return { token, expiry };
  }

  async find(token: string): Promise<UserToken | undefined> {
    if (!/^[0-9A-Za-z]{1,128}$/.test(token)) return undefined;
    const r = await this.db.query<{ user_id: string; token_type: TokenType; expiry: Date | string }>('SELECT user_id, token_type, expiry FROM iol.user_tokens WHERE token_hash = $1', [hashOf(token)]);
    const row = r.rows[0];
    return row ? { userId: row.user_id, tokenType: row.token_type, expiry: new Date(row.expiry).toISOString() } : undefined;
  }

  /** Uses the token: true when it was there (and is now gone). */
  async consume(token: string): Promise<boolean> {
    return (await this.db.query('DELETE FROM iol.user_tokens WHERE token_hash = $1', [hashOf(token)])).rowCount > 0;
  }

  async forUser(userId: string): Promise<UserToken | undefined> {
    const r = await this.db.query<{ user_id: string; token_type: TokenType; expiry: Date | string }>('SELECT user_id, token_type, expiry FROM iol.user_tokens WHERE user_id = $1', [userId]);
    const row = r.rows[0];
    return row ? { userId: row.user_id, tokenType: row.token_type, expiry: new Date(row.expiry).toISOString() } : undefined;
  }

  /**
   * Counts a reset mail to the user if fewer than `max` went out in the last hour: false when the
   * cap is reached (nothing is counted). Durable, so shared by replicas and kept over restarts.
   */
  async countResetMail(userId: string, max: number): Promise<boolean> {
    await this.db.query(`DELETE FROM iol.reset_mails WHERE user_id = $1 AND sent_at <= now() - interval '1 hour'`, [userId]);
    const r = await this.db.query(
      `INSERT INTO iol.reset_mails (user_id, sent_at)
       SELECT $1, now() WHERE (SELECT count(*) FROM iol.reset_mails WHERE user_id = $1) < $2`,
      [userId, max],
    );
    return r.rowCount > 0;
  }

  async dropForUser(userId: string): Promise<void> {
    await this.db.query('DELETE FROM iol.user_tokens WHERE user_id = $1', [userId]);
  }
}
