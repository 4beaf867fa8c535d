import type { Channel } from './models.js';

/**
 * OpenHIM's autoRetry.reachedMaxAttempts: a transaction has had all the automatic reruns its
 * channel allows (a positive autoRetryMaxAttempts; none or 0 is no limit).
 */
export function reachedMaxAttempts(attempts: number | undefined, channel: Pick<Channel, 'autoRetryMaxAttempts'> | undefined): boolean {
  const max = Number(channel?.autoRetryMaxAttempts ?? 0);
  return max > 0 && (Number(attempts) || 0) >= max;
}
