/**
 * A FHIR engine served over HTTP with chosen limits (src/common/limits.ts), for the security
 * tests of FHIR bodies, JSON Patch, prototype safety and index values.
 */
import { createHttpApp, listenOn } from '../../src/common/http-app.js';
import { DEFAULT_LIMITS, type Limits } from '../../src/common/limits.js';
import { createLogger } from '../../src/common/logger.js';
import { FhirEngine } from '../../src/fhir/engine.js';
import { registerFhirRoutes } from '../../src/fhir/http/fastify.js';
import { openTestDatabase, type TestDatabase } from '../support/databases.js';

export interface LimitedFhirServer {
  base: string;
  engine: FhirEngine;
  database: TestDatabase;
  /** fetch relative to the FHIR base; JSON in (body) or raw text, JSON out when it parses. */
  request(method: string, path: string, options?: { body?: unknown; raw?: string | Buffer; headers?: Record<string, string> }): Promise<{ status: number; headers: Headers; body: any }>;
  close(): Promise<void>;
}

export async function startLimitedFhirServer(
  driver: 'pglite' | 'postgres',
  options: { limits?: Partial<Limits>; bodyLimit?: number } = {},
): Promise<LimitedFhirServer> {
  const database = await openTestDatabase(driver);
  const engine = new FhirEngine({ db: database.db, schema: 'fhir_security', limits: { ...DEFAULT_LIMITS, ...options.limits } });
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
    async request(method, path, { body, raw, headers } = {}) {
      const response = await fetch(`${base}/${path}`, {
        method,
        headers: { ...(body !== undefined || raw !== undefined ? { 'content-type': 'application/fhir+json' } : {}), ...headers },
        body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
      });
      const text = await response.text();
      let parsed: unknown = text || undefined;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON: keep the text
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

/** Asserts-free helper: the OperationOutcome's first diagnostics, or the body as text. */
export function diagnostics(body: any): string {
  return body?.issue?.[0]?.diagnostics ?? JSON.stringify(body)?.slice(0, 300) ?? '';
}
