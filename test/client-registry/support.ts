/** The client registry service started on a fresh database of one driver, with a JSON request helper. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../src/common/logger.js';
import { SettingsMap } from '../../src/platform/settings.js';
import { clientRegistryService } from '../../src/services/client-registry/index.js';
import type { RunningService } from '../../src/services/service.js';
import { openTestDatabase, type TestDatabase } from '../support/databases.js';

export interface Reply {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

export interface RegistryUnderTest {
  base: string;
  running: RunningService;
  database: TestDatabase;
  request(method: string, path: string, body?: unknown): Promise<Reply>;
  close(): Promise<void>;
}

export async function requestJson(url: string, method: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const response = await fetch(url, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/fhir+json' } : {}), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON */
  }
  return { status: response.status, headers: response.headers, body: parsed };
}

export async function startRegistry(driver: 'pglite' | 'postgres', settings: Record<string, string> = {}): Promise<RegistryUnderTest> {
  const database = await openTestDatabase(driver);
  const stateDir = await mkdtemp(join(tmpdir(), 'instant-cr-'));
  const running = await clientRegistryService.start({
    name: 'client-registry', db: database.db, logger: createLogger(), stateDir,
    settings: new SettingsMap({ CLIENT_REGISTRY_PORT: '0', CLIENT_REGISTRY_MLLP_PORT: '0', ...settings }),
  });
  const base = running.endpoints.fhir!;
  return {
    base,
    running,
    database,
    request: (method, path, body) => requestJson(`${base}/${path}`, method, body),
    async close() {
      await running.stop();
      await database.dispose();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}

export const NATIONAL_ID = 'http://example.org/fhir/sid/national-id';
export const NATIONAL_ID_OID = '2.16.999.1.1';
export const CLINIC_A = 'http://clinic-a.example.org/mrn';
export const CLINIC_B = 'http://clinic-b.example.org/mrn';

export function namingSystem(name: string, url: string, oid?: string): Record<string, unknown> {
  return {
    resourceType: 'NamingSystem', name, status: 'active', kind: 'identifier', date: '2024-01-01',
    uniqueId: [{ type: 'uri', value: url, preferred: true }, ...(oid ? [{ type: 'oid', value: oid }] : [])],
  };
}

export function patient(options: { ids: Array<[string, string]>; family: string; given: string; birthDate: string; gender?: string; extension?: unknown[] }): Record<string, unknown> {
  return {
    resourceType: 'Patient',
    identifier: options.ids.map(([system, value]) => ({ system, value })),
    name: [{ family: options.family, given: [options.given] }],
    gender: options.gender ?? 'female',
    birthDate: options.birthDate,
    ...(options.extension ? { extension: options.extension } : {}),
  };
}

/** The golden record id a source record refers to. */
export function goldenOf(source: { link?: Array<{ type: string; other: { reference: string } }> }): string | undefined {
  return source.link?.find((l) => l.type === 'refer')?.other.reference.replace(/^Patient\//, '');
}
