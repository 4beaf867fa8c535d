/**
 * Logs the finished transaction (one queued write, see TransactionLog), counts it in the
 * metrics and audits the routed request. Runs after the answer has gone back.
 */
import type { Exchange, RouterDeps } from '../exchange.js';

export function recordTransaction(exchange: Exchange, deps: RouterDeps): void {
  const tx = exchange.transaction;
  if (!tx) return;
  deps.transactions.finish(tx);
  const channel = exchange.channel!.channel;
  const seconds = Number(process.hrtime.bigint() - exchange.startedAt) / 1e9;
  deps.metrics.observe(channel.name, tx.status, seconds);
  deps.audits.record({
    kind: 'routed-request',
    action: 'E',
    success: tx.status !== 'Failed',
    ...(tx.clientID ? { who: tx.clientID } : {}),
    address: tx.clientIP ?? exchange.request.clientIP,
    entity: `Transaction/${tx._id}`,
    detail: { channel: channel.name, method: tx.request.method, path: tx.request.path, status: tx.status },
  });
}
