/**
 * The transaction log. One upsert per finished request, batched with others off the request
 * path (see WriteBehind); requests still running after `processingSnapshotMs` are written as
 * Processing so that a crash leaves a trace, which start-up marks Failed.
 */
import type { Database } from '../../../db/database.js';
import type { Logger } from '../../../common/logger.js';
import type { Transaction } from '../models.js';
import { WriteBehind } from './write-behind.js';

export interface TransactionQuery {
  channelIDs?: string[] | undefined;
  clientID?: string | undefined;
  status?: string[] | undefined;
  from?: string | undefined;
  to?: string | undefined;
  path?: string | undefined;
  /** '2xx', '4xx', or an exact code. */
  responseStatus?: string | undefined;
  properties?: Record<string, unknown> | undefined;
  limit: number;
  offset: number;
}

export class TransactionLog {
  private readonly writer: WriteBehind<Transaction>;
  private readonly inFlight = new Map<string, { tx: Transaction; since: number; snapshotted: boolean }>();
  private snapshotTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Database,
    logger: Logger,
    flushIntervalMs: number,
    private readonly processingSnapshotMs = 1000,
  ) {
    this.writer = new WriteBehind('transactions', (items) => this.upsert(items), logger, flushIntervalMs);
    this.snapshotTimer = setInterval(() => this.snapshotLongRunning(), Math.max(100, processingSnapshotMs / 2));
    this.snapshotTimer.unref();
  }

  /** A request entered the router: nothing is written unless it runs long. */
  begin(tx: Transaction): void {
    this.inFlight.set(tx._id, { tx, since: Date.now(), snapshotted: false });
  }

  /** The request ended: queue its one write. */
  finish(tx: Transaction): void {
    this.inFlight.delete(tx._id);
    // The exchange is done with it: no copy needed, nothing mutates it after this.
    this.writer.enqueue(tx._id, tx);
  }

  private snapshotLongRunning(): void {
    const limit = Date.now() - this.processingSnapshotMs;
    for (const entry of this.inFlight.values()) {
      if (!entry.snapshotted && entry.since <= limit) {
        entry.snapshotted = true;
        this.writer.enqueue(entry.tx._id, { ...entry.tx, status: 'Processing' as const });
      }
    }
  }

  /** Written now (admin API changes), after anything queued for the same transaction. */
  async save(tx: Transaction): Promise<void> {
    await this.writer.flush();
    await this.upsert([tx]);
  }

  flush(): Promise<void> {
    return this.writer.flush();
  }

  async stop(): Promise<void> {
    if (this.snapshotTimer) clearInterval(this.snapshotTimer);
    this.snapshotTimer = undefined;
    await this.writer.stop();
  }

  private async upsert(items: Transaction[]): Promise<void> {
    const rows = items.map((tx) => ({
      id: tx._id,
      channel_id: tx.channelID ?? null,
      client_id: tx.clientID ?? null,
      status: tx.status,
      request_ts: tx.request.timestamp,
      request_path: tx.request.path,
      response_status: tx.response?.status ?? null,
      parent_id: tx.parentID ?? null,
      doc: tx,
    }));
    await this.db.query(
      `INSERT INTO iol.transactions (id, channel_id, client_id, status, request_ts, request_path, response_status, parent_id, doc)
       SELECT x.id, x.channel_id, x.client_id, x.status, x.request_ts, x.request_path, x.response_status, x.parent_id, x.doc
         FROM jsonb_to_recordset($1::jsonb) AS x(id text, channel_id text, client_id text, status text, request_ts timestamptz,
              request_path text, response_status integer, parent_id text, doc jsonb)
       ON CONFLICT (id) DO UPDATE SET channel_id = EXCLUDED.channel_id, client_id = EXCLUDED.client_id, status = EXCLUDED.status,
              response_status = EXCLUDED.response_status, parent_id = EXCLUDED.parent_id, doc = EXCLUDED.doc`,
      [JSON.stringify(rows)],
    );
  }

  /** Start-up: what a crash left in Processing is Failed (nothing else can finish it). */
  async recoverProcessing(): Promise<number> {
    const error = JSON.stringify({ message: 'the interop layer stopped while this transaction was processing' });
    const r = await this.db.query(
      `UPDATE iol.transactions SET status = 'Failed',
              doc = doc || jsonb_build_object('status', 'Failed', 'error', $1::jsonb)
        WHERE status = 'Processing'`,
      [error],
    );
    return r.rowCount;
  }

  async byId(id: string): Promise<Transaction | undefined> {
    await this.writer.flush();
    const r = await this.db.query<{ doc: Transaction }>('SELECT doc FROM iol.transactions WHERE id = $1', [id]);
    return r.rows[0]?.doc;
  }

  async delete(id: string): Promise<boolean> {
    await this.writer.flush();
    return (await this.db.query('DELETE FROM iol.transactions WHERE id = $1', [id])).rowCount > 0;
  }

  private where(q: Omit<TransactionQuery, 'limit' | 'offset'>): { sql: string; params: unknown[] } {
    const clauses: string[] = [];
    const params: unknown[] = [];
    const add = (clause: (n: string) => string, value: unknown) => {
      params.push(value);
      clauses.push(clause(`$${params.length}`));
    };
    if (q.channelIDs) add((p) => `channel_id = ANY(${p}::text[])`, q.channelIDs);
    if (q.clientID) add((p) => `client_id = ${p}`, q.clientID);
    if (q.status) add((p) => `status = ANY(${p}::text[])`, q.status);
    if (q.from) add((p) => `request_ts >= ${p}::timestamptz`, q.from);
    if (q.to) add((p) => `request_ts <= ${p}::timestamptz`, q.to);
    if (q.path) add((p) => `request_path ~ ${p}`, q.path);
    if (q.responseStatus) {
      const m = /^([1-5])xx$/i.exec(q.responseStatus);
      if (m) {
        add((p) => `response_status >= ${p}::int`, Number(m[1]) * 100);
        add((p) => `response_status < ${p}::int`, Number(m[1]) * 100 + 100);
      } else add((p) => `response_status = ${p}::int`, Number(q.responseStatus));
    }
    if (q.properties) add((p) => `doc->'properties' @> ${p}::jsonb`, JSON.stringify(q.properties));
    return { sql: clauses.length ? `WHERE ${clauses.join(' AND ')}` : '', params };
  }

  /** Newest first. */
  async find(q: TransactionQuery): Promise<Transaction[]> {
    await this.writer.flush();
    const { sql, params } = this.where(q);
    params.push(q.limit, q.offset);
    const r = await this.db.query<{ doc: Transaction }>(
      `SELECT doc FROM iol.transactions ${sql} ORDER BY request_ts DESC, id DESC LIMIT $${params.length - 1} OFFSET $${params.length}`,
      params,
    );
    return r.rows.map((x) => x.doc);
  }

  async count(q: Omit<TransactionQuery, 'limit' | 'offset'>): Promise<number> {
    await this.writer.flush();
    const { sql, params } = this.where(q);
    const r = await this.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM iol.transactions ${sql}`, params);
    return Number(r.rows[0]?.n ?? 0);
  }

  /**
   * Retention: strips bodies of transactions older than their channel's maxBodyAgeDays, and
   * deletes the oldest transactions beyond `maxTransactions` (0 = no cap).
   */
  async applyRetention(channels: Array<{ _id: string; maxBodyAgeDays?: number | undefined }>, maxTransactions: number): Promise<{ culled: number; deleted: number }> {
    let culled = 0;
    for (const channel of channels) {
      if (!channel.maxBodyAgeDays) continue;
      const r = await this.db.query(
        `UPDATE iol.transactions SET bodies_culled = true,
                doc = (doc #- '{request,body}' #- '{response,body}')
                  || jsonb_build_object('canRerun', false,
                       'routes', COALESCE((SELECT jsonb_agg(r #- '{request,body}' #- '{response,body}') FROM jsonb_array_elements(doc->'routes') r), '[]'::jsonb),
                       'orchestrations', COALESCE((SELECT jsonb_agg(o #- '{request,body}' #- '{response,body}') FROM jsonb_array_elements(doc->'orchestrations') o), '[]'::jsonb))
          WHERE channel_id = $1 AND NOT bodies_culled AND request_ts < now() - make_interval(days => $2::int)`,
        [channel._id, channel.maxBodyAgeDays],
      );
      culled += r.rowCount;
    }
    let deleted = 0;
    if (maxTransactions > 0) {
      const r = await this.db.query(
        `DELETE FROM iol.transactions WHERE id IN (
           SELECT id FROM iol.transactions ORDER BY request_ts DESC, id DESC OFFSET $1)`,
        [maxTransactions],
      );
      deleted = r.rowCount;
    }
    return { culled, deleted };
  }
}
