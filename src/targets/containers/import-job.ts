/**
 * `instant import <packages...>`: the one-shot container (a Compose service that runs once, a
 * Kubernetes Job) that applies the packages' importers once their services are ready, as
 * `instant init` does on the embedded target. The renderer tells it where the services are
 * (INSTANT_ENDPOINTS, INSTANT_HEALTH_URLS: JSON); settings and secrets come as for `serve`.
 * Importers are idempotent, so a Job retried after a failure is harmless.
 */
import { InstantError, errorMessage } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { planPackages, runInDependencyOrder } from '../../platform/dependency-graph.js';
import { discoverPackages, type DiscoveryOptions } from '../../platform/discovery.js';
import { adminApiAppliedConfig, type AppliedConfig } from '../../platform/importers/applied-config.js';
import { runImporter } from '../../platform/importers/index.js';
import { openhimAdminApi } from '../../platform/importers/openhim.js';
import { NOTICE_FIELD } from './import-notices.js';
import { waitHealthy } from '../embedded/health.js';
import { settingsFromEnvironment } from './environment-settings.js';

/** How long the services have to become ready; the Job's own backoff retries after that. */
const SERVICES_READY_TIMEOUT_MS = 300_000;

export async function importPackages(ids: string[], logger: Logger, options: { resetConfig?: boolean; env?: NodeJS.ProcessEnv; discovery?: DiscoveryOptions } = {}): Promise<void> {
  const env = options.env ?? process.env;
  const vars = settingsFromEnvironment(env);
  const endpoints = parseJsonSetting<Record<string, Record<string, string>>>(vars, 'INSTANT_ENDPOINTS');
  const healthUrls = parseJsonSetting<Record<string, string>>(vars, 'INSTANT_HEALTH_URLS');
  for (const [service, url] of Object.entries(healthUrls)) {
    logger.info({ service, url }, `waiting for ${service}`);
    await waitHealthy(url, { timeoutMs: SERVICES_READY_TIMEOUT_MS, intervalMs: 1000 });
  }
  const plan = planPackages(discoverPackages(options.discovery), ids);
  await runInDependencyOrder(
    plan,
    async (pkg) => {
      for (const importer of pkg.importers) {
        const file = importer.file.slice(pkg.dir.length + 1);
        const notice = (message: string): void => logger.warn({ [NOTICE_FIELD]: `${pkg.id}: ${message}` }, message);
        try {
          // What was applied before is kept by the interop layer (this job has no database access).
          const applied: AppliedConfig | undefined = importer.type === 'openhim'
            ? adminApiAppliedConfig(openhimAdminApi({ vars, endpoints, ...(importer.service ? { service: importer.service } : {}) }), pkg.id, importer.service ?? 'interop-layer', notice)
            : undefined;
          const result = await runImporter(importer, { vars, endpoints, logger: logger.child({ service: pkg.id }), notice, ...(applied ? { applied } : {}), ...(options.resetConfig ? { resetConfig: true } : {}) });
          logger.info({ package: pkg.id, ...result }, `imported ${file}`);
        } catch (error) {
          throw new InstantError('INSTANT_IMPORT_FAILED', `package ${pkg.id}: importer ${file} failed: ${errorMessage(error)}`, 'the job is retried; see its log', { cause: error });
        }
      }
    },
    { concurrency: 1 },
  );
}

function parseJsonSetting<T>(vars: Record<string, string>, name: string): T {
  try {
    return JSON.parse(vars[name] ?? '{}') as T;
  } catch {
    throw new InstantError('INSTANT_SETTING_INVALID', `${name} is not JSON`, 'it is written by `instant init -t <target>`: render the artefacts again');
  }
}
