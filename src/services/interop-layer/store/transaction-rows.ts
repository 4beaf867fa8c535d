/**
 * Transaction rows as COPY data for the embedded database (Database.copyFrom). PGlite encodes a
 * statement's text parameter at ~100 MB/s in JavaScript, and parsing the batch's JSON into a
 * record set costs it again: for 1 KB bodies that was about half of what each stored row cost
 * the database's thread. COPY's binary format carries the columns as bytes: the document as its
 * JSON text, the bodies' frame as is.
 */
import { CopyBinaryWriter, type CopyData } from '../../../db/copy-binary.js';
import type { Transaction } from '../models.js';
import { mayHoldUnstorable, storable, storableString } from './storable.js';
import type { TransactionRow } from './transactions.js';

/** Database.copyFrom's target: the table and the columns copyRows writes, in order. */
export const COPY_INTO_TRANSACTIONS =
  'iol.transactions (id, channel_id, client_id, status, request_ts, request_path, response_status, response_ms, parent_id, replica_id, doc, bodies)';
const COLUMNS = 12;

/** A text column's value: the database refuses NUL and lone surrogates, so they are replaced. */
function textOf(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  return storableString(String(value));
}

/**
 * The document's JSON, with what the database cannot hold as text replaced (as storableJson does
 * for a batch): the column is json, but its fields are read as text (->>) and cast to jsonb.
 */
function documentJson(tx: Transaction): string {
  const json = JSON.stringify(tx);
  return mayHoldUnstorable(json) ? JSON.stringify(storable(tx)) : json;
}

/**
 * One COPY buffer for the rows, logged by `replicaId` (the reaper fails the Processing rows of
 * replicas that are gone, so a live one's rows must name it). A value the table cannot take (a timestamp that is no date, a
 * status that is no integer) throws a RangeError, which the write-behind treats as the
 * database refusing that row: it is isolated and stored in its minimal form.
 */
export function copyRows(rows: readonly TransactionRow[], replicaId: string | null): CopyData {
  const out = new CopyBinaryWriter(rows.length * 2048 + rows.reduce((n, r) => n + (r.bodies?.length ?? 0), 0));
  for (const { tx, bodies } of rows) {
    const status = tx.response?.status;
    const requestMs = Date.parse(String(tx.request.timestamp));
    out
      .row(COLUMNS)
      .text(textOf(tx._id))
      .text(textOf(tx.channelID))
      .text(textOf(tx.clientID))
      .text(textOf(tx.status))
      .timestamptz(requestMs)
      .text(textOf(tx.request.path) ?? '')
      .int4(status === undefined || status === null ? null : Number(status))
      .int8(responseMs(tx, requestMs))
      .text(textOf(tx.parentID))
      .text(replicaId)
      .text(documentJson(tx))
      .bytea(bodies);
  }
  return out.finish();
}

/** Milliseconds from the request to the response (what /metrics averages), when both are dates. */
export function responseMs(tx: Transaction, requestMs = Date.parse(String(tx.request.timestamp))): number | null {
  const responded = tx.response?.timestamp;
  if (responded === undefined || responded === null) return null;
  const ms = Date.parse(String(responded)) - requestMs;
  return Number.isSafeInteger(ms) ? ms : null;
}
