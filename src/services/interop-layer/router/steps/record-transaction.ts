/**
 * Logs the finished transaction (one queued write, see TransactionLog) and counts it in the
 * metrics. Runs after the answer has gone back. The routed request's AuditEvent is this same
 * record, read through GET /audit-events (see AuditLog.find), so auditing costs no second write.
 */
import type { Exchange, RouterDeps } from '../exchange.js';

/** The bytes a stored body was decoded from (its text may be lossy), cut as it was cut. */
function storedBytes(part: { body?: string; bodyTruncated?: boolean } | undefined, bytes: Buffer | undefined, cap: number): Buffer | undefined {
  if (!part || part.body === undefined || !bytes) return undefined;
  return part.bodyTruncated ? bytes.subarray(0, cap) : bytes;
}

export function recordTransaction(exchange: Exchange, deps: RouterDeps): void {
  const tx = exchange.transaction;
  if (!tx) return;
  const cap = deps.config.maxStoredBodyBytes;
  deps.transactions.finish(tx, {
    request: storedBytes(tx.request, exchange.request.body, cap),
    response: storedBytes(tx.response, exchange.response?.body, cap),
  });
  const channel = exchange.channel!.channel;
  const seconds = Number(process.hrtime.bigint() - exchange.startedAt) / 1e9;
  const failed = deps.metrics.observe(channel.name, tx.status, seconds);
  if (failed) deps.logger.warn({ err: { message: failed.message }, transaction: tx._id }, 'could not count the transaction in the metrics');
}
