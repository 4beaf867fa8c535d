/** A FHIR engine served over real HTTP on a fresh database of one driver. */
import { createHttpApp, listenOn } from '../../src/common/http-app.js';
import { createLogger } from '../../src/common/logger.js';
import { DEFAULT_LIMITS, type Limits } from '../../src/common/limits.js';
import { FhirEngine } from '../../src/fhir/engine.js';
import { registerFhirRoutes } from '../../src/fhir/http/fastify.js';
import type { TerminologyProvider } from '../../src/fhir/terminology/provider.js';
import { openTestDatabase, type TestDatabase, type TestDriver } from '../support/databases.js';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SettingsMap } from '../../src/platform/settings.js';
import { sharedHealthRecordService } from '../../src/services/shared-health-record/index.js';
import { routeCoreChannel, startIol } from '../interop-layer/support.js';

export interface FhirTestServer {
  base: string;
  engine: FhirEngine;
  database: TestDatabase;
  /** fetch relative to the FHIR base, JSON in and out. */
  request(method: string, path: string, options?: { body?: unknown; headers?: Record<string, string>; raw?: string | Buffer }): Promise<FhirReply>;
  close(): Promise<void>;
}

export interface FhirReply {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

export async function startFhirServer(
  driver: TestDriver,
  options: { bodyLimit?: number; schema?: string; limits?: Partial<Limits>; terminology?: TerminologyProvider } = {},
): Promise<FhirTestServer> {
  const database = await openTestDatabase(driver);
  const engine = new FhirEngine({
    db: database.db, schema: options.schema ?? 'fhir_test', terminology: options.terminology,
    ...(options.limits ? { limits: { ...DEFAULT_LIMITS, ...options.limits } } : {}),
  });
  await engine.migrate();
  const app = createHttpApp({ logger: createLogger(process.env.FHIR_TEST_LOG ? { pretty: process.stderr } : {}), bodyLimit: options.bodyLimit });
  await registerFhirRoutes(app, engine);
  const url = await listenOn(app, '127.0.0.1', 0);
  const base = `${url}/fhir`;
  engine.setBaseUrl(base);
  return {
    base,
    engine,
    database,
    async request(method, path, { body, headers, raw } = {}) {
      const response = await fetch(`${base}/${path}`, {
        method,
        headers: { ...(body !== undefined || raw !== undefined ? { 'content-type': 'application/fhir+json' } : {}), ...headers },
        body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
      });
      const text = await response.text();
      let parsed: unknown = undefined;
      if (text) {
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = text;
        }
      }
      return { status: response.status, headers: response.headers, body: parsed };
    },
    async close() {
      await app.close();
      await engine.settle();
      await database.dispose();
    },
  };
}

/** Creates a resource (201 or the test fails) and remembers its server id under a name. */
export function namedCreator(server: () => FhirTestServer, ids: Record<string, string>): (name: string, resource: Record<string, unknown> & { resourceType: string }) => Promise<void> {
  return async (name, resource) => {
    const reply = await server().request('POST', resource.resourceType, { body: resource });
    if (reply.status !== 201) throw new Error(`${name}: ${reply.status} ${JSON.stringify(reply.body)}`);
    ids[name] = reply.body.id;
  };
}

/** The shared health record service behind the interoperability layer's core channel, as clients reach it. */
export interface RoutedSharedHealthRecord {
  /** The FHIR base through the router. */
  base: string;
  /** The core channel's client's Basic credentials (`shr-client`). */
  auth: Record<string, string>;
  credentials: { clientID: string; password: string };
  close(): Promise<void>;
}

export async function startSharedHealthRecordThroughRouter(driver: 'pglite' | 'postgres', settings: Record<string, string> = {}): Promise<RoutedSharedHealthRecord> {
  const database = await openTestDatabase(driver);
  const shr = await sharedHealthRecordService.start({
    name: 'shared-health-record', db: database.db, logger: createLogger(), stateDir: await mkdtemp(join(tmpdir(), 'instant-shr-')),
    settings: new SettingsMap({ FHIR_DATASTORE_PORT: '0', ...settings }),
  });
  const iol = await startIol(driver);
  const { base, auth } = await routeCoreChannel(iol, shr.endpoints.fhir!);
  return {
    base, auth, credentials: { clientID: 'shr-client', password: 'shr-client-secret-1' },
    async close() {
      await iol.stop();
      await shr.stop();
      await database.dispose();
    },
  };
}
