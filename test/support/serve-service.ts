/**
 * Test support: one built-in service in one process on a given database, the way a container
 * runs it. Thin on purpose: `instant serve <service>` (the production entry point) replaces it.
 *
 *   node dist/test/support/serve-service.js <service>
 *     INSTANT_DATABASE_URL  the PostgreSQL to use (required)
 *     INSTANT_STATE_DIR     state directory (certificates); a temporary one when unset
 *     every other variable of the environment is a setting of the service
 *
 * Prints one JSON line {"ready":true,"endpoints":{...},"pid":N} once the service listens; stops
 * cleanly on SIGTERM/SIGINT (SIGKILL is what the replica tests use to crash it).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../src/db/open.js';
import { createLogger } from '../../src/common/logger.js';
import { loadService } from '../../src/services/catalogue.js';
import { SettingsMap } from '../../src/platform/settings.js';
import { readLimits } from '../../src/common/limits.js';

async function main(): Promise<void> {
  const name = process.argv[2];
  const url = process.env.INSTANT_DATABASE_URL;
  if (!name || !url) throw new Error('usage: INSTANT_DATABASE_URL=postgres://... serve-service <service>');
  const settings = new SettingsMap(Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined)));
  const limits = readLimits(settings);
  const db = await openDatabase({ url }, { statementTimeoutMs: limits.dbStatementTimeoutMs, transactionTimeoutMs: limits.dbTransactionTimeoutMs });
  const logger = createLogger({ pretty: process.stderr, level: process.env.INSTANT_LOG_LEVEL ?? 'warn' });
  const stateDir = process.env.INSTANT_STATE_DIR ?? mkdtempSync(join(tmpdir(), `instant-serve-${name}-`));
  const service = await loadService(name);
  const running = await service.start({ name, db, settings, logger: logger.child({ service: name }), stateDir });
  process.stdout.write(`${JSON.stringify({ ready: true, endpoints: running.endpoints, healthUrl: running.healthUrl, pid: process.pid })}\n`);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await running.stop();
    await db.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
}

main().catch((error: unknown) => {
  process.stderr.write(`serve-service: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
