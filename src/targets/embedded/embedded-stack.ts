import { InstantError, errorMessage } from '../../common/errors.js';
import { trustCertificates } from '../../common/trust.js';
import type { Logger } from '../../common/logger.js';
import type { Database } from '../../db/database.js';
import type { RunningService, ServiceDefinition } from '../../services/service.js';
import { runImporter } from '../../platform/importers/index.js';
import type { InstantPackage } from '../../platform/package-metadata.js';
import type { RecentLogLines } from '../../platform/recent-log-lines.js';
import { SettingsMap } from '../../platform/settings.js';
import { resolveServiceDefinition } from './service-loader.js';
import { waitHealthy } from './health.js';

export interface PackageProgress {
  step(pkg: InstantPackage, message: string): void;
}

interface StartedService {
  packageId: string;
  definition: ServiceDefinition;
  running: RunningService;
}

export interface EmbeddedStackOptions {
  db: Database;
  logger: Logger;
  recentLines: RecentLogLines;
  stateDir: string;
  healthTimeoutMs?: number;
}

/** The services of many packages, running in this process over one database. */
export class EmbeddedStack {
  private readonly services = new Map<string, StartedService>();
  /** Packages started, in start order; a package may run no service (configuration only). */
  private readonly packages = new Set<string>();

  constructor(private readonly options: EmbeddedStackOptions) {}

  endpoints(): Record<string, Record<string, string>> {
    return Object.fromEntries([...this.services].map(([name, s]) => [name, s.running.endpoints]));
  }

  /** Each running service's readiness URL (what `instant status` polls). */
  healthUrls(): Record<string, string> {
    return Object.fromEntries([...this.services].map(([name, s]) => [name, s.running.healthUrl]));
  }

  runningPackages(): string[] {
    return [...this.packages];
  }

  /** Starts the package's services, waits until each is healthy, and at init runs its importers. */
  async startPackage(pkg: InstantPackage, options: { settings: SettingsMap; runImporters: boolean; progress?: PackageProgress }): Promise<void> {
    this.packages.add(pkg.id);
    try {
      await this.startServicesAndImport(pkg, options);
    } catch (error) {
      // Leave nothing of a package half-started: its own services that did start are stopped.
      await this.stopPackage(pkg);
      throw error;
    }
  }

  private async startServicesAndImport(pkg: InstantPackage, options: { settings: SettingsMap; runImporters: boolean; progress?: PackageProgress }): Promise<void> {
    for (const entry of pkg.services) {
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
        running = await definition.start({ name: entry.name, db: this.options.db, settings: options.settings, logger, stateDir: this.options.stateDir });
      } catch (error) {
        logger.error({ err: error }, 'failed to start');
        throw this.serviceFailure(entry.name, pkg, errorMessage(error), error);
      }
      this.services.set(entry.name, { packageId: pkg.id, definition, running });
      trustCertificates(running.trustedCertificates);
      options.progress?.step(pkg, `waiting for ${entry.name} to be healthy`);
      try {
        await waitHealthy(running.healthUrl, { timeoutMs: this.options.healthTimeoutMs ?? 60_000 });
      } catch (error) {
        throw this.serviceFailure(entry.name, pkg, errorMessage(error), error);
      }
      logger.info({ endpoints: running.endpoints }, `ready at ${Object.values(running.endpoints).join(', ')}`);
    }
    if (options.runImporters) await this.runImporters(pkg, options);
  }

  /** Applies the package's importers, in order, to the running services. */
  async runImporters(pkg: InstantPackage, options: { settings: SettingsMap; progress?: PackageProgress }): Promise<void> {
    for (const importer of pkg.importers) {
      options.progress?.step(pkg, `importing ${importer.file.slice(pkg.dir.length + 1)}`);
      const logger = this.options.logger.child({ service: pkg.id });
      try {
        const result = await runImporter(importer, { vars: options.settings.entries(), endpoints: this.endpoints(), logger });
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
