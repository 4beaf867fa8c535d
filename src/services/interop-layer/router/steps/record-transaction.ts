/**
 * Logs the finished transaction (one queued write, see TransactionLog) and counts it in the
 * metrics. Runs after the answer has gone back. The routed request's AuditEvent is this same
 * record, read through GET /audits (see AuditLog.find), so auditing costs no second write.
 */
import type { Exchange, RouterDeps } from '../exchange.js';

export function recordTransaction(exchange: Exchange, deps: RouterDeps): void {
  const tx = exchange.transaction;
  if (!tx) return;
  deps.transactions.finish(tx);
  const channel = exchange.channel!.channel;
  const seconds = Number(process.hrtime.bigint() - exchange.startedAt) / 1e9;
  deps.metrics.observe(channel.name, tx.status, seconds);
}
