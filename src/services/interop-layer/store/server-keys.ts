import { randomBytes } from 'node:crypto';
import type { Queryable } from '../../../db/database.js';

/**
 * A random key kept in the database, made on first use: the same for every instance of the
 * service and across restarts (what is derived from it must not change when the process does).
 */
export async function serverKey(db: Queryable, name: string): Promise<Buffer> {
  // Two instances starting together: the first insert wins, both read the winner.
  await db.query('INSERT INTO iol.server_keys (name, key) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [name, randomBytes(32)]);
  const r = await db.query<{ key: Buffer | Uint8Array }>('SELECT key FROM iol.server_keys WHERE name = $1', [name]);
  return Buffer.from(r.rows[0]!.key);
}
