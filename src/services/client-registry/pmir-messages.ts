/**
 * PMIR ITI-93 messages already applied, by sender and MessageHeader.id (messageKey): a sender that got no answer (a
 * timeout, a dropped connection) sends the same message again, and it must not register the
 * same patients a second time. The row is written in the feed's own transaction, so a message is
 * recorded exactly when its changes commit; a resend waits for a first copy still in flight (the
 * primary key) and is then answered with the first copy's result. The same id on another body is
 * refused: a message id names one message. Rows are kept for RETENTION_DAYS (a sender retries
 * within minutes, not months), then purged a batch at a time now and then by the process that
 * claims messages, so the table does not grow with every message ever received.
 */
import { createHash } from 'node:crypto';
import type { Bundle } from '@medplum/fhirtypes';
import type { Queryable } from '../../db/database.js';
import { canonicalJson } from './golden-record.js';

/**
 * The key a message is remembered by. MessageHeader.id and source.endpoint are both the sender's
 * to choose, so they are keyed under the sender the router vouched for (anonymous callers share
 * one space of their own): a client cannot use up the ids another client's feed will send.
 */
export function messageKey(sender: string | undefined, endpoint: string | undefined, messageId: string): string {
  return JSON.stringify([sender === undefined ? 'anonymous' : `client:${sender}`, endpoint ?? '', messageId]);
}

export type MessageClaim = { kind: 'new' } | { kind: 'resent'; results: Bundle } | { kind: 'other-body' };

export function messageDigest(message: unknown): string {
  return createHash('sha256').update(canonicalJson(message)).digest('base64url');
}

/** How long an applied message's id is remembered. */
export const RETENTION_DAYS = 30;
/** Old rows are purged once per this many claims, at most PURGE_BATCH at a time. */
const PURGE_EVERY = 200;
const PURGE_BATCH = 1000;

export class PmirMessageLog {
  private claims = 0;

  constructor(private readonly schema: string) {}

  /** Claims a message id in the caller's transaction, or tells what the first copy answered. */
  async claim(q: Queryable, messageId: string, digest: string): Promise<MessageClaim> {
    if (++this.claims % PURGE_EVERY === 0) await this.purge(q);
    const inserted = await q.query(
      `INSERT INTO ${this.schema}.pmir_message (message_id, body_digest) VALUES ($1, $2) ON CONFLICT (message_id) DO NOTHING RETURNING message_id`,
      [messageId, digest],
    );
    if (inserted.rows.length) return { kind: 'new' };
    const { rows } = await q.query<{ body_digest: string; response: Bundle | string | null }>(
      `SELECT body_digest, response FROM ${this.schema}.pmir_message WHERE message_id = $1`, [messageId]);
    const row = rows[0]!;
    if (row.body_digest !== digest) return { kind: 'other-body' };
    const results = typeof row.response === 'string' ? (JSON.parse(row.response) as Bundle) : row.response;
    return { kind: 'resent', results: results ?? { resourceType: 'Bundle', type: 'transaction-response' } };
  }

  async recordResults(q: Queryable, messageId: string, results: Bundle): Promise<void> {
    await q.query(`UPDATE ${this.schema}.pmir_message SET response = $2 WHERE message_id = $1`, [messageId, JSON.stringify(results)]);
  }

  /** Forgets messages received more than RETENTION_DAYS ago (a bounded batch: it runs inside a feed's transaction). */
  async purge(q: Queryable): Promise<number> {
    const { rows } = await q.query(
      `DELETE FROM ${this.schema}.pmir_message WHERE message_id IN (
         SELECT message_id FROM ${this.schema}.pmir_message WHERE received_at < now() - make_interval(days => $1) LIMIT $2)
       RETURNING 1`,
      [RETENTION_DAYS, PURGE_BATCH],
    );
    return rows.length;
  }
}
