import { InstantError, errorMessage } from '../../common/errors.js';
import { trustCertificates } from '../../common/trust.js';
import type { Logger } from '../../common/logger.js';
import type { Database } from '../../db/database.js';
import type { DeploymentComposition, RunningService, ServiceDefinition } from '../../services/service.js';
import { runImporter } from '../../platform/importers/index.js';
import { databaseAppliedConfig } from '../../platform/importers/applied-config.js';
import type { InstantPackage } from '../../platform/package-metadata.js';
import type { RecentLogLines } from '../../platform/recent-log-lines.js';
import { SettingsMap } from '../../platform/settings.js';
import { resolveServiceDefinition } from './service-loader.js';
import { waitHealthy } from './health.js';
import type { ServerLogs } from '../../common/server-logs.js';

export interface PackageProgress {
  step(pkg: InstantPackage, message: string): void;
  /** Something the user should read (an operator's change kept by an importer), printed as it comes. */
  note?(pkg: InstantPackage, message: string): void;
}

interface StartedService {
  packageId: string;
  definition: ServiceDefinition;
  running: RunningService;
}

interface StartOptions {
  settings: SettingsMap;
  runImporters: boolean;
  /** init --reset-config: importers apply every item as the package gives it. */
  resetConfig?: boolean;
  progress?: PackageProgress;
  /** Aborted (Ctrl-C during init): the start stops at the next step, and the package is stopped. */
  signal?: AbortSignal;
}

export interface EmbeddedStackOptions {
  db: Database;
  logger: Logger;
  recentLines: RecentLogLines;
  /** The process's log records for the interop layer's GET /logs. */
  serverLogs?: ServerLogs;
  stateDir: string;
  healthTimeoutMs?: number;
  /** A running service now serves other certificates (already trusted here): the instance's record should say so. */
  onTrustChange?: () => void;
}

/** The services of many packages, running in this process over one database. */
export class EmbeddedStack {
  private readonly services = new Map<string, StartedService>();
  /** Packages started, in start order; a package may run no service (configuration only). */
  private readonly packages = new Map<string, InstantPackage>();

  constructor(private readonly options: EmbeddedStackOptions) {}

  endpoints(): Record<string, Record<string, string>> {
    return Object.fromEntries([...this.services].map(([name, s]) => [name, s.running.endpoints]));
  }

  /** Each running service's readiness URL (what `instant status` polls). */
  healthUrls(): Record<string, string> {
    return Object.fromEntries([...this.services].map(([name, s]) => [name, s.running.healthUrl]));
  }

  runningPackages(): string[] {
    return [...this.packages.keys()];
  }

  /** The packages running now and where their services listen: what the console draws. */
  composition(): DeploymentComposition {
    return {
      target: 'embedded',
      packages: [...this.packages.values()].map((pkg) => ({ id: pkg.id, name: pkg.name, version: pkg.version, services: pkg.services.map((s) => s.name) })),
      endpoints: this.endpoints(),
    };
  }

  /** Starts the package's services, waits until each is healthy, and at init runs its importers. */
  async startPackage(pkg: InstantPackage, options: StartOptions): Promise<void> {
    this.packages.set(pkg.id, pkg);
    try {
      await this.startServicesAndImport(pkg, options);
    } catch (error) {
      // Leave nothing of a package half-started: its own services that did start are stopped.
      await this.stopPackage(pkg);
      throw error;
    }
  }

  private async startServicesAndImport(pkg: InstantPackage, options: StartOptions): Promise<void> {
    for (const entry of pkg.services) {
      options.signal?.throwIfAborted();
      const owner = this.services.get(entry.name);
      if (owner) {
        if (owner.packageId !== pkg.id) throw new InstantError('INSTANT_SERVICE_CONFLICT', `service ${entry.name} is run by both ${owner.packageId} and ${pkg.id}`);
        continue;
      }
      options.progress?.step(pkg, `starting ${entry.name}`);
      const definition = await resolveServiceDefinition(pkg, entry);
      const logger = this.options.logger.child({ service: entry.name });
      let running: RunningService;
      try {
        running = await definition.start({ name: entry.name, db: this.options.db, settings: options.settings, logger, stateDir: this.options.stateDir, composition: () => this.composition(), ...(this.options.serverLogs ? { serverLogs: this.options.serverLogs } : {}) });
      } catch (error) {
        logger.error({ err: error }, 'failed to start');
        throw portInUse(entry.name, pkg, error, options.settings) ?? this.serviceFailure(entry.name, pkg, errorMessage(error), error);
      }
      this.services.set(entry.name, { packageId: pkg.id, definition, running });
      trustCertificates(running.trustedCertificates);
      running.watchTrustedCertificates?.((pems) => {
        trustCertificates(pems);
        this.options.onTrustChange?.();
      });
      options.progress?.step(pkg, `waiting for ${entry.name} to be healthy`);
      try {
        await waitHealthy(running.healthUrl, { timeoutMs: this.options.healthTimeoutMs ?? 60_000, ...(options.signal ? { signal: options.signal } : {}) });
      } catch (error) {
        if (options.signal?.aborted) throw options.signal.reason;
        throw this.serviceFailure(entry.name, pkg, errorMessage(error), error);
      }
      logger.info({ endpoints: running.endpoints }, `ready at ${Object.values(running.endpoints).join(', ')}`);
    }
    options.signal?.throwIfAborted();
    if (options.runImporters) await this.runImporters(pkg, options);
  }

  /** Applies the package's importers, in order, to the running services. */
  async runImporters(pkg: InstantPackage, options: { settings: SettingsMap; progress?: PackageProgress; resetConfig?: boolean }): Promise<void> {
    for (const importer of pkg.importers) {
      options.progress?.step(pkg, `importing ${importer.file.slice(pkg.dir.length + 1)}`);
      const logger = this.options.logger.child({ service: pkg.id });
      try {
        const file = importer.file.slice(pkg.dir.length + 1);
        const progress = (message: string): void => options.progress?.step(pkg, `importing ${file}: ${message}`);
        const notice = (message: string): void => {
          logger.warn(message);
          options.progress?.note?.(pkg, message);
        };
        const applied = await databaseAppliedConfig(this.options.db, pkg.id, importer.service ?? (importer.type === 'openhim' ? 'interop-layer' : pkg.id));
        const result = await runImporter(importer, { vars: options.settings.entries(), endpoints: this.endpoints(), logger, progress, notice, applied, ...(options.resetConfig ? { resetConfig: true } : {}) });
        logger.info(result, `imported ${importer.file.slice(pkg.dir.length + 1)}`);
      } catch (error) {
        if (error instanceof InstantError) throw error;
        throw new InstantError('INSTANT_IMPORT_FAILED', `package ${pkg.id}: importer ${importer.file} failed: ${errorMessage(error)}`, 'fix the file or the service it targets, then run `instant init` again (importers are idempotent)', { cause: error });
      }
    }
  }

  /** Stops the package's services, in reverse order of start. */
  async stopPackage(pkg: InstantPackage): Promise<void> {
    this.packages.delete(pkg.id);
    for (const entry of [...pkg.services].reverse()) {
      const started = this.services.get(entry.name);
      if (!started || started.packageId !== pkg.id) continue;
      this.services.delete(entry.name);
      try {
        await started.running.stop();
        this.options.logger.child({ service: entry.name }).info('stopped');
      } catch (error) {
        this.options.logger.child({ service: entry.name }).error({ err: error }, 'did not stop cleanly');
      }
    }
  }

  /** Schemas owned by the given packages' services, for `destroy`. */
  async schemasOf(pkg: InstantPackage): Promise<string[]> {
    const schemas: string[] = [];
    for (const entry of pkg.services) schemas.push(...(await resolveServiceDefinition(pkg, entry)).schemas);
    return schemas;
  }

  private serviceFailure(service: string, pkg: InstantPackage, reason: string, cause: unknown): InstantError {
    const lines = this.options.recentLines.of(service).slice(-10);
    const tail = lines.length ? `\n  last log lines of ${service}:\n    ${lines.join('\n    ')}` : '';
    return new InstantError(
      'INSTANT_SERVICE_FAILED',
      `service ${service} (package ${pkg.id}) failed to start: ${reason}${tail}`,
      `see \`instant logs ${service}\`; fix the cause, then run the command again`,
      { cause },
    );
  }
}

/**
 * A port clash names the setting that chose the port and how to change it, not only the address
 * (the user knows OPENHIM_ROUTER_HTTP_PORT, not which service listens on 5001).
 */
function portInUse(service: string, pkg: InstantPackage, error: unknown, settings: SettingsMap): InstantError | undefined {
  let cause = error as (NodeJS.ErrnoException & { port?: number; address?: string }) | undefined;
  for (let depth = 0; cause && cause.code !== 'EADDRINUSE' && depth < 5; depth++) cause = cause.cause as typeof cause;
  if (!cause || cause.code !== 'EADDRINUSE') return undefined;
  const port = cause.port ?? Number(/:(\d+)$/.exec(cause.message)?.[1]);
  const address = `${cause.address ?? '127.0.0.1'}:${port}`;
  const names = Object.entries(settings.entries()).filter(([name, value]) => /PORT/.test(name) && value === String(port)).map(([name]) => name);
  const setting = names.length ? ` (set by ${names.join(' or ')})` : '';
  const change = names.length ? `give it another with \`-e ${names[0]}=<free port>\` on init or up, or in an --env-file` : 'give the service another port in its settings (`instant config` lists them)';
  return new InstantError(
    'INSTANT_PORT_IN_USE',
    `service ${service} (package ${pkg.id}) failed to start: port ${port} on ${address.replace(/:\d+$/, '')}${setting} is already in use (${cause.message})`,
    `another program, or another instance, listens there (\`lsof -i :${port}\` shows which): stop it, or ${change}`,
    { cause: error },
  );
}
