/**
 * Logs the finished transaction (one queued write, see TransactionLog) and counts it in the
 * metrics. Runs after the answer has gone back. The routed request's AuditEvent is this same
 * record, read through GET /audit-events (see AuditLog.find), so auditing costs no second write.
 */
import type { Exchange, RouterDeps } from '../exchange.js';
import { storedBodyBytes, withHeaderLinesMasked } from '../bodies.js';
import { bodyEncoding } from '../../store/content-encoding.js';

export function recordTransaction(exchange: Exchange, deps: RouterDeps): void {
  const tx = exchange.transaction;
  if (!tx) return;
  const cap = deps.config.maxStoredBodyBytes;
  const channel = exchange.channel!.channel;
  const response = tx.response && exchange.response ? storedBodyBytes(exchange.response.body, channel.responseBody, cap) : undefined;
  // A compressed answer is relayed as it came and stored decoded (content-encoding.ts), as OpenHIM stores it.
  const encoding = response?.length ? bodyEncoding(exchange.response!.headers['content-encoding']) : undefined;
  const { body, path, headers } = exchange.request;
  // A compressed request is masked once decoded, off this thread (TransactionLog's prepareRow).
  const requestEncoding = channel.requestBody && body?.length ? bodyEncoding(headers['content-encoding']) : undefined;
  deps.transactions.finish(tx, {
    // A Subscription's channel.header credentials are not kept (the registry's answers mask them too).
    request: storedBodyBytes(channel.requestBody && !requestEncoding ? withHeaderLinesMasked(body, path) : body, channel.requestBody, cap),
    response,
    ...(encoding ? { responseEncoding: { encoding, cap } } : {}),
    ...(requestEncoding ? { requestEncoding: { encoding: requestEncoding, cap, mask: (decoded: Buffer) => withHeaderLinesMasked(decoded, path)! } } : {}),
  });
  const seconds = Number(process.hrtime.bigint() - exchange.startedAt) / 1e9;
  const failed = deps.metrics.observe(channel.name, tx.status, seconds);
  if (failed) deps.logger.warn({ err: { message: failed.message }, transaction: tx._id }, 'could not count the transaction in the metrics');
}
