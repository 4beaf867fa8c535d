/**
 * A polling channel's `pollingSchedule` as OpenHIM's agenda reads it (`agenda.every(schedule)`):
 * a human interval ("5 minutes", "1 hour", "every 30 seconds"; human-interval, agenda's own
 * parser) or a cron expression ("0 * * * *", "*\/5 * * * * *" with seconds; cron-parser) in the
 * server's time zone. Runs are at least a second apart, so no schedule can make the router poll
 * in a tight loop.
 */
import { createRequire } from 'node:module';
import { CronExpressionParser } from 'cron-parser';

const humanInterval = createRequire(import.meta.url)('human-interval') as (text: string) => number;

export const MIN_POLLING_INTERVAL_MS = 1000;
/** The longest interval taken: past it the next run's date is past what a Date holds, or may as well be. */
export const MAX_POLLING_INTERVAL_MS = 366 * 24 * 60 * 60_000;

export interface PollingSchedule {
  /** The first run after `after`. */
  next(after: Date): Date;
}

/** The schedule, or an Error saying why the text is none (for a 400 at save, a warning at load). */
export function parsePollingSchedule(text: unknown): PollingSchedule | Error {
  if (typeof text !== 'string' || !text.trim() || text.length > 200) return new Error('pollingSchedule must be an interval ("5 minutes") or a cron expression ("*/5 * * * *")');
  const written = text.trim();
  const interval = humanInterval(written.replace(/^every\s+/i, ''));
  if (Number.isFinite(interval) && interval > MAX_POLLING_INTERVAL_MS) return new Error(`pollingSchedule "${written.slice(0, 60)}" is longer than a year; poll at least yearly`);
  if (Number.isFinite(interval) && interval > 0) {
    const ms = Math.max(interval, MIN_POLLING_INTERVAL_MS);
    return { next: (after) => new Date(after.getTime() + ms) };
  }
  const fields = written.split(/\s+/);
  if (fields.length !== 5 && fields.length !== 6) return new Error(`pollingSchedule "${written.slice(0, 60)}" is neither an interval ("5 minutes") nor a cron expression of 5 or 6 fields`);
  try {
    CronExpressionParser.parse(written);
  } catch (error) {
    return new Error(`pollingSchedule "${written.slice(0, 60)}" is not a valid cron expression: ${(error as Error).message}`);
  }
  const tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
  return {
    next(after) {
      // A second past the last run at least, so a cron with seconds cannot fire twice in one.
      const from = new Date(after.getTime() + MIN_POLLING_INTERVAL_MS - 1);
      return CronExpressionParser.parse(written, { currentDate: from, tz }).next().toDate();
    },
  };
}
