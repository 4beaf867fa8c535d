/**
 * `instant serve <service>`: one built-in service in this process, the container's entry point.
 * Everything comes from the environment (settings) and mounted files (secrets, see
 * environment-settings.ts); data lives in PostgreSQL; logs are JSON lines on stdout, where
 * container engines collect them; /livez, /readyz and /metrics are on the ops port.
 */
import { InstantError, errorMessage } from '../../common/errors.js';
import { enableAccessLog } from '../../common/http-app.js';
import { createLogger, type Logger } from '../../common/logger.js';
import { limitsFromEnvironment } from '../../common/limits.js';
import { openDatabase, type Database } from '../../db/open.js';
import { noDatabase } from '../../db/no-database.js';
import { redactUrl } from '../../db/redact-url.js';
import { builtInServiceNames, isBuiltInService, loadService } from '../../services/catalogue.js';
import type { RunningService } from '../../services/service.js';
import { SettingsMap } from '../../platform/settings.js';
import { databaseUrlFromSettings, settingsFromEnvironment } from './environment-settings.js';
import { compositionFromSettings } from './composition-env.js';
import { DEFAULT_OPS_PORT, startOpsServer, type OpsServer } from './ops-server.js';
import { SERVICE_NETWORK } from './service-network.js';
import { ServerLogs } from '../../common/server-logs.js';

/** PostgreSQL may still be starting beside us (compose starts both at once): wait this long for it. */
const DATABASE_WAIT_MS = 120_000;
const DATABASE_RETRY_MS = 2_000;

export interface ServedService {
  running: RunningService;
  ops: OpsServer;
  stop(): Promise<void>;
}

export async function serveService(name: string, env: NodeJS.ProcessEnv = process.env, givenLogger?: Logger): Promise<ServedService> {
  if (!isBuiltInService(name)) {
    throw new InstantError('INSTANT_SERVICE_UNKNOWN', `no built-in service "${name}"`, `instant serve runs one of: ${builtInServiceNames().join(', ')}`);
  }
  // The process's own logger keeps its recent records for GET /logs; a caller's logger is its own business.
  const serverLogs = givenLogger ? undefined : new ServerLogs();
  const logger = givenLogger ?? createLogger({ extra: [process.stdout, serverLogs!] });
  enableAccessLog();
  const values = settingsFromEnvironment(env);
  const settings = new SettingsMap(values);
  const log = logger.child({ service: name });
  const definition = await loadService(name);
  // A service that reads no table starts without a database (the console beside a real OpenHIM core).
  const usesDatabase = definition.usesDatabase !== false;
  const db = usesDatabase ? await openWhenReachable(databaseUrlFromSettings(values), log) : noDatabase(name);
  // On a host the ops port listens where the service does (loopback unless told); containers render 0.0.0.0.
  const ops = await startOpsServer({ service: name, host: values.INSTANT_OPS_HOST || serviceHost(name, values), port: settings.int('INSTANT_OPS_PORT', DEFAULT_OPS_PORT), ...(usesDatabase ? { db } : {}), logger: log });
  let running: RunningService;
  try {
    // What the renderers wrote about the deployment (composition-env.ts), when they did.
    const composition = compositionFromSettings(values);
    running = await definition.start({ name, db, settings, logger: log, stateDir: values.INSTANT_STATE_DIR || '/tmp/instant', ...(composition ? { composition: () => composition } : {}), ...(serverLogs ? { serverLogs } : {}) });
  } catch (error) {
    log.error({ err: error }, 'failed to start');
    await ops.close();
    await db.close().catch(() => undefined);
    throw error;
  }
  ops.attach(running);
  log.info({ endpoints: running.endpoints, ops: ops.url }, `serving ${name}`);
  let stopping: Promise<void> | undefined;
  return {
    running,
    ops,
    stop: () =>
      (stopping ??= (async () => {
        log.info('stopping');
        await running.stop().catch((error: unknown) => log.error({ err: error }, 'did not stop cleanly'));
        await ops.close();
        await db.close().catch(() => undefined);
        log.info('stopped');
      })()),
  };
}

function serviceHost(name: string, values: Record<string, string>): string {
  const setting = SERVICE_NETWORK[name]?.hostSettings[0];
  return (setting && values[setting]) || '127.0.0.1';
}

async function openWhenReachable(url: string, log: Logger): Promise<Database> {
  const limits = limitsFromEnvironment();
  const deadline = Date.now() + DATABASE_WAIT_MS;
  for (;;) {
    try {
      return await openDatabase({ url }, { statementTimeoutMs: limits.dbStatementTimeoutMs, transactionTimeoutMs: limits.dbTransactionTimeoutMs });
    } catch (error) {
      if (Date.now() > deadline) {
        throw new InstantError('INSTANT_DATABASE_CONNECT', `PostgreSQL at ${redactUrl(url)} did not answer within ${DATABASE_WAIT_MS / 1000} s: ${errorMessage(error)}`, 'check the database service and the INSTANT_DATABASE_URL secret', { cause: error });
      }
      log.info({ reason: errorMessage(error) }, `waiting for PostgreSQL at ${redactUrl(url)}`);
      await new Promise((resolve) => setTimeout(resolve, DATABASE_RETRY_MS));
    }
  }
}
