/**
 * The contract every built-in OpenHIE component implements. A service is an HTTP server with
 * its own database schema, settings and health endpoint; it never imports another service and
 * talks to others only over HTTP. The embedded target starts many in one process; the container
 * targets start one per process with `instant serve <service>`.
 */
import type { Database } from '../db/database.js';
import type { Logger } from '../common/logger.js';
import type { ServerLogs } from '../common/server-logs.js';

/** Resolved settings (environment variables of the packages, after precedence and secrets). */
export interface Settings {
  get(name: string): string | undefined;
  /** The value, or an InstantError naming the setting when it is missing. */
  require(name: string): string;
  int(name: string, fallback?: number): number;
  bool(name: string, fallback?: boolean): boolean;
  /** Every name/value pair, secrets included: never log it whole. */
  entries(): Record<string, string>;
}

export interface ServiceContext {
  /** The service's own name, e.g. `shared-health-record`. */
  name: string;
  /** Shared database handle; the service uses only its own schema(s). */
  db: Database;
  settings: Settings;
  logger: Logger;
  /** The instance's state directory (data, secrets, certificates, logs). */
  stateDir: string;
  /**
   * What the deployment runs now (the embedded stack changes as packages start and stop, so it
   * is asked, not copied). Absent where nobody told the service (a hand-started process).
   */
  composition?: () => DeploymentComposition;
  /** The process's recent log records (the interop layer's GET /logs); absent where nothing keeps them. */
  serverLogs?: ServerLogs;
}

/** A package of the deployment, as the console's architecture view names it. */
export interface DeployedPackage {
  id: string;
  name: string;
  version: string;
  /** The services it runs (none for a package that only configures). */
  services: string[];
}

/**
 * The deployment's composition: its packages and where each service is reached by the others
 * (service -> endpoint name -> base URL, e.g. { fhir: 'http://shared-health-record:3447/fhir' }).
 * Names, versions and URLs only: never a setting's value, so it holds no secret.
 */
export interface DeploymentComposition {
  /** embedded, compose, swarm or kubernetes. */
  target: string;
  packages: DeployedPackage[];
  endpoints: Record<string, Record<string, string>>;
}

export interface RunningService {
  /** Named base URLs of what the service listens on, e.g. { api: 'http://127.0.0.1:8080' }. */
  endpoints: Record<string, string>;
  /** Answers 200 once the service is ready: the platform polls it over HTTP. */
  healthUrl: string;
  /** Certificates (PEM) the service serves on its HTTPS endpoints: the platform's clients trust them. */
  trustedCertificates?: string[];
  /** Tells the platform each certificate the service serves from now on (a keystore replacement), so its clients keep trusting it. */
  watchTrustedCertificates?(listener: (pems: string[]) => void): void;
  /** Stops accepting work, finishes or flushes what is in flight, and releases ports. */
  stop(): Promise<void>;
  /** The service's own Prometheus metrics, served on the container's /metrics (instant serve). */
  metrics?: { contentType: string; metrics(): Promise<string> };
}

export interface ServiceDefinition {
  name: string;
  description: string;
  /** Schemas this service owns: `instant destroy` drops them. */
  schemas: readonly string[];
  /**
   * false: the service reads no table (it talks to the others over HTTP), so `instant serve` opens
   * no database for it and its container gets no database secret (least privilege: the URL's
   * role owns every schema). Its context's db then refuses every call. Default true.
   */
  usesDatabase?: boolean;
  start(context: ServiceContext): Promise<RunningService>;
}
