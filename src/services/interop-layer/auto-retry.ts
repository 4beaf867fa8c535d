/**
 * Auto-retry: failed transactions of channels with autoRetryEnabled are rerun once their
 * channel's autoRetryPeriodMinutes has passed, up to autoRetryMaxAttempts reruns in a chain.
 * The failed transaction is flagged `autoRetry` when it is logged (setFinalStatus); this job
 * picks flagged ones up, reruns them and clears the flag.
 */
import type { RouterDeps } from './router/exchange.js';
import { rerunTransaction } from './router/rerun.js';

export async function runAutoRetries(deps: RouterDeps, limit = 100): Promise<number> {
  await deps.transactions.flush();
  const candidates = await deps.db.query<{ id: string; channel_id: string; age_minutes: number }>(
    `SELECT id, channel_id, EXTRACT(EPOCH FROM (now() - request_ts)) / 60 AS age_minutes
       FROM iol.transactions
      WHERE status = 'Failed' AND doc @> '{"autoRetry": true}'::jsonb
      ORDER BY request_ts LIMIT $1`,
    [limit],
  );
  let retried = 0;
  for (const row of candidates.rows) {
    const channel = deps.routing.enabledChannels().find((c) => c.channel._id === row.channel_id)?.channel;
    if (!channel?.autoRetryEnabled) continue;
    if (Number(row.age_minutes) < channel.autoRetryPeriodMinutes) continue;
    const original = await deps.transactions.byId(row.id);
    if (!original) continue;
    // Clear the flag first, so a crash mid-rerun does not retry twice.
    await deps.transactions.save({ ...original, autoRetry: false });
    try {
      await rerunTransaction(deps, row.id, { autoRetryAttempt: (original.autoRetryAttempt ?? 0) + 1 });
      retried++;
    } catch (error) {
      deps.logger.warn({ err: error, transaction: row.id }, 'auto-retry failed');
    }
  }
  return retried;
}
