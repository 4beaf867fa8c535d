/**
 * Auto-retry: failed transactions of channels with autoRetryEnabled are rerun once their
 * channel's autoRetryPeriodMinutes has passed, up to autoRetryMaxAttempts reruns in a chain.
 * The failed transaction is flagged `autoRetry` when it is logged (setFinalStatus); this job
 * picks flagged ones up, reruns them and clears the flag.
 *
 * Replicas: each candidate is claimed by clearing its flag in the statement that selects it
 * (FOR UPDATE SKIP LOCKED), so two replicas running the job at once never rerun one transaction
 * twice.
 *
 * One bad row never stops the job: only rows whose channel retries now are selected (rows of
 * other channels cannot fill the window), and a row that cannot be read or rerun has its flag
 * cleared and is logged, so the next run does not pick it again.
 */
import type { ServiceDeps } from './router/exchange.js';
import { rerunTransaction } from './router/rerun.js';

/** Clears the flag in place (the document may be too malformed to read and save whole). */
async function clearFlag(deps: ServiceDeps, id: string): Promise<void> {
  await deps.db.query(`UPDATE iol.transactions SET doc = doc::jsonb || '{"autoRetry": false}'::jsonb WHERE id = $1 AND json_typeof(doc) = 'object'`, [id]);
}

export async function runAutoRetries(deps: ServiceDeps, limit = 100): Promise<number> {
  await deps.transactions.flush();
  const periods: Record<string, number> = {};
  for (const { channel } of deps.routing.enabledChannels()) {
    if (channel.autoRetryEnabled) periods[channel._id] = Math.max(0, Math.floor(Number(channel.autoRetryPeriodMinutes) || 0));
  }
  if (Object.keys(periods).length === 0) return 0;
  // The flag is cleared first, so a crash mid-rerun does not retry twice.
  const candidates = await deps.db.query<{ id: string; request_ts: string | Date }>(
    `UPDATE iol.transactions SET doc = doc::jsonb || '{"autoRetry": false}'::jsonb
      WHERE id IN (
        SELECT t.id FROM iol.transactions t
          JOIN jsonb_each_text($1::jsonb) AS p(channel_id, minutes) ON p.channel_id = t.channel_id
         WHERE t.status = 'Failed' AND t.doc->>'autoRetry' = 'true'
           AND t.request_ts <= now() - make_interval(mins => p.minutes::int)
         ORDER BY t.request_ts LIMIT $2
         FOR UPDATE OF t SKIP LOCKED)
      RETURNING id, request_ts`,
    [JSON.stringify(periods), limit],
  );
  let retried = 0;
  // RETURNING has no order: oldest first, as selected.
  const claimed = candidates.rows.sort((a, b) => new Date(a.request_ts).getTime() - new Date(b.request_ts).getTime());
  for (const row of claimed) {
    try {
      const original = await deps.transactions.byId(row.id);
      if (!original) continue;
      await rerunTransaction(deps, row.id, { autoRetryAttempt: (Number(original.autoRetryAttempt) || 0) + 1 });
      retried++;
    } catch (error) {
      deps.logger.warn({ err: { message: (error as Error)?.message }, transaction: row.id }, 'auto-retry of this transaction failed; it will not be retried again');
      await clearFlag(deps, row.id).catch((clearError: unknown) =>
        deps.logger.warn({ err: { message: (clearError as Error)?.message }, transaction: row.id }, 'could not clear the auto-retry flag'),
      );
    }
  }
  return retried;
}
