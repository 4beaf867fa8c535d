import type { Queryable } from '../../../db/database.js';
import type { User } from '../models.js';

export interface UserRow {
  doc: User;
  scryptHash: string | null;
  legacySalt: string | null;
  legacyHash: string | null;
}

interface RawUser {
  doc: User;
  scrypt_hash: string | null;
  legacy_salt: string | null;
  legacy_hash: string | null;
}

/**
 * A stored user as OpenHIM's model reads it: `provider` defaults to `local` (the OpenHIM console's
 * users page has a column for it); users stored before it was recorded have none.
 */
const withProvider = (doc: User): User => (doc.provider ? doc : { ...doc, provider: 'local' });

const toRow = (r: RawUser): UserRow => ({ doc: withProvider(r.doc), scryptHash: r.scrypt_hash, legacySalt: r.legacy_salt, legacyHash: r.legacy_hash });

export class UserStore {
  constructor(private readonly db: Queryable) {}

  async list(): Promise<User[]> {
    const r = await this.db.query<{ doc: User }>('SELECT doc FROM iol.users ORDER BY email');
    return r.rows.map((x) => withProvider(x.doc));
  }

  async byEmail(email: string): Promise<UserRow | undefined> {
    // No stored email holds a NUL (the database refuses one): such a name is simply unknown.
    if (email.includes('\u0000')) return undefined;
    const r = await this.db.query<RawUser>(
      'SELECT doc, scrypt_hash, legacy_salt, legacy_hash FROM iol.users WHERE lower(email) = lower($1)',
      [email],
    );
    return r.rows[0] ? toRow(r.rows[0]) : undefined;
  }

  async byId(id: string): Promise<UserRow | undefined> {
    const r = await this.db.query<RawUser>('SELECT doc, scrypt_hash, legacy_salt, legacy_hash FROM iol.users WHERE id = $1', [id]);
    return r.rows[0] ? toRow(r.rows[0]) : undefined;
  }

  async insert(user: User, secrets: Omit<UserRow, 'doc'>): Promise<void> {
    await this.db.query(
      'INSERT INTO iol.users (id, email, doc, scrypt_hash, legacy_salt, legacy_hash) VALUES ($1, $2, $3::jsonb, $4, $5, $6)',
      [user._id, user.email, JSON.stringify(user), secrets.scryptHash, secrets.legacySalt, secrets.legacyHash],
    );
  }

  async update(user: User, secrets?: Omit<UserRow, 'doc'>): Promise<void> {
    if (secrets) {
      await this.db.query(
        'UPDATE iol.users SET email = $2, doc = $3::jsonb, scrypt_hash = $4, legacy_salt = $5, legacy_hash = $6, updated_at = now() WHERE id = $1',
        [user._id, user.email, JSON.stringify(user), secrets.scryptHash, secrets.legacySalt, secrets.legacyHash],
      );
    } else {
      await this.db.query('UPDATE iol.users SET email = $2, doc = $3::jsonb, updated_at = now() WHERE id = $1', [
        user._id,
        user.email,
        JSON.stringify(user),
      ]);
    }
  }

  /**
   * The admins' emails (lower case), their rows locked until the transaction ends: a change that
   * could leave no admin checks and writes under this lock, so two admins removing each other
   * at once cannot both succeed.
   */
  async lockAdmins(): Promise<string[]> {
    const r = await this.db.query<{ email: string }>(`SELECT lower(email) AS email FROM iol.users WHERE doc->'groups' @> '["admin"]'::jsonb FOR UPDATE`);
    return r.rows.map((row) => row.email);
  }

  async delete(email: string): Promise<boolean> {
    const r = await this.db.query('DELETE FROM iol.users WHERE lower(email) = lower($1)', [email]);
    return r.rowCount > 0;
  }
}
