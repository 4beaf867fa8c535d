/**
 * `GET /logs` (admins), OpenHIM's api/logs.js: the server's recent log records in time order, from
 * `from` (default five minutes ago) to `until` (default now), at `level` and above (default info),
 * skipping `start`, at most `limit`. OpenHIM reads winston's capped MongoDB collection; here the
 * records are the process's own, kept in memory (common/server-logs.ts): the embedded stack's
 * services all log in one process, a container only its own. None kept (a process started without
 * them): an empty list, as OpenHIM's without MongoDB logging.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { SERVER_LOG_LEVELS, type ServerLogLevel, type ServerLogs } from '../../../common/server-logs.js';
import { parseBody } from '../validation.js';

const FIVE_MINUTES_MS = 5 * 60_000;
/** OpenHIM's own ceiling ("limit: 100000"). */
const MAX_RECORDS = 100_000;

const instant = z
  .string()
  .max(64)
  .refine((text) => !Number.isNaN(Date.parse(text)), 'must be a date and time, e.g. 2026-12-03T08:00:00Z');
const count = z
  .string()
  .regex(/^\d{1,9}$/, 'must be a whole number')
  .transform(Number)
  .refine((n) => n <= MAX_RECORDS, `must be at most ${MAX_RECORDS}`);

const logsQuery = z.object({
  from: instant.optional(),
  until: instant.optional(),
  level: z.enum(SERVER_LOG_LEVELS as [ServerLogLevel, ...ServerLogLevel[]]).optional(),
  start: count.optional(),
  limit: count.optional(),
});

export function registerLogs(app: FastifyInstance, serverLogs: ServerLogs | undefined): void {
  app.get('/logs', async (request) => {
    const query = parseBody(logsQuery, request.query, 'logs query');
    if (!serverLogs) return [];
    const now = Date.now();
    return serverLogs.query({
      from: new Date(query.from ? Date.parse(query.from) : now - FIVE_MINUTES_MS),
      until: new Date(query.until ? Date.parse(query.until) : now),
      level: query.level ?? 'info',
      start: query.start ?? 0,
      limit: query.limit ?? MAX_RECORDS,
    });
  });
}
