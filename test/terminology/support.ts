/** The terminology service started on a fresh database of one driver, and the test content. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../src/common/logger.js';
import { SettingsMap } from '../../src/platform/settings.js';
import { terminologyService } from '../../src/services/terminology/index.js';
import type { RunningService } from '../../src/services/service.js';
import { requestJson, type Reply } from '../client-registry/support.js';
import { openTestDatabase, type TestDatabase } from '../support/databases.js';

export { requestJson, type Reply };

export interface TerminologyUnderTest {
  base: string;
  running: RunningService;
  database: TestDatabase;
  get(path: string): Promise<Reply>;
  post(path: string, body: unknown): Promise<Reply>;
  request(method: string, path: string, body?: unknown): Promise<Reply>;
  close(): Promise<void>;
}

export async function startTerminology(driver: 'pglite' | 'postgres', settings: Record<string, string> = {}): Promise<TerminologyUnderTest> {
  const database = await openTestDatabase(driver);
  const stateDir = await mkdtemp(join(tmpdir(), 'instant-tx-'));
  const running = await terminologyService.start({
    name: 'terminology', db: database.db, logger: createLogger(), stateDir,
    settings: new SettingsMap({ TERMINOLOGY_PORT: '0', TERMINOLOGY_LOAD_CORE: 'false', ...settings }),
  });
  const base = running.endpoints.fhir!;
  const request = (method: string, path: string, body?: unknown): Promise<Reply> => requestJson(`${base}/${path}`, method, body);
  return {
    base, running, database, request,
    get: (path) => request('GET', path),
    post: (path, body) => request('POST', path, body),
    async close() {
      await running.stop();
      await database.dispose();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}

export const FINDINGS = 'http://example.org/cs/findings';
export const LOCAL = 'urn:test:cs/local';

const severity = (value: string) => ({ code: 'severity', valueCode: value });

/** A small is-a hierarchy: disorder > heart > (tachy, brady, mi, arrest, acf); lung > (asthma, copd); finding; fever under finding and disorder. */
export const findings = {
  resourceType: 'CodeSystem', url: FINDINGS, version: '1', name: 'Findings', title: 'Test findings', status: 'active',
  identifier: [{ system: 'urn:ietf:rfc:3986', value: 'urn:oid:2.16.999.1' }],
  content: 'complete', hierarchyMeaning: 'is-a', caseSensitive: true,
  property: [{ code: 'severity', type: 'code' }, { code: 'status', type: 'code' }, { code: 'parent', type: 'code' }],
  concept: [
    { code: 'disorder', display: 'Disorder', concept: [
      { code: 'heart', display: 'Heart disease', designation: [{ language: 'fr', use: { system: 'http://snomed.info/sct', code: '900000000000013009' }, value: 'Maladie cardiaque' }], concept: [
        { code: 'tachy', display: 'Tachycardia', property: [severity('high')] },
        { code: 'brady', display: 'Bradycardia', property: [severity('low')] },
        { code: 'mi', display: 'Myocardial infarction', property: [severity('high')] },
        { code: 'arrest', display: 'Cardiac arrest' },
        { code: 'acf', display: 'Acute cardiac failure' },
      ] },
      { code: 'lung', display: 'Lung disease', concept: [
        { code: 'asthma', display: 'Asthma' },
        { code: 'copd', display: 'Chronic obstructive pulmonary disease', property: [{ code: 'status', valueCode: 'retired' }] },
      ] },
    ] },
    { code: 'finding', display: 'Clinical finding', concept: [
      { code: 'fever', display: 'Fever', property: [{ code: 'parent', valueCode: 'disorder' }] },
    ] },
  ],
};

export const vs = (name: string, compose: unknown) => ({ resourceType: 'ValueSet', url: `http://example.org/vs/${name}`, name, status: 'active', compose });
const inc = (extra: Record<string, unknown>) => ({ system: FINDINGS, ...extra });

export const valueSets = [
  vs('all', { include: [{ system: FINDINGS }] }),
  vs('heart', { include: [inc({ filter: [{ property: 'concept', op: 'is-a', value: 'heart' }] })] }),
  vs('heart-below', { include: [inc({ filter: [{ property: 'concept', op: 'descendent-of', value: 'heart' }] })] }),
  vs('not-disorder', { include: [inc({ filter: [{ property: 'concept', op: 'is-not-a', value: 'disorder' }] })] }),
  vs('regex', { include: [inc({ filter: [{ property: 'code', op: 'regex', value: '[bt].*' }] })] }),
  vs('high', { include: [inc({ filter: [{ property: 'severity', op: '=', value: 'high' }] })] }),
  vs('severity-in', { include: [inc({ filter: [{ property: 'severity', op: 'in', value: 'high,low' }] })] }),
  vs('has-severity', { include: [inc({ filter: [{ property: 'severity', op: 'exists', value: 'true' }] })] }),
  vs('mixed', {
    include: [inc({ concept: [{ code: 'fever' }] }), { valueSet: ['http://example.org/vs/heart'] }, { system: 'http://loinc.org', concept: [{ code: '2345-7', display: 'Glucose [Mass/volume] in Serum or Plasma' }] }],
    exclude: [inc({ concept: [{ code: 'brady' }] })],
  }),
  vs('unknown-system', { include: [{ system: 'http://example.org/cs/nobody' }] }),
  vs('self', { include: [{ valueSet: ['http://example.org/vs/self'] }] }),
];

export const localToFindings = {
  resourceType: 'ConceptMap', url: 'http://example.org/cm/local-findings', name: 'LocalFindings', status: 'active',
  sourceUri: 'http://example.org/vs/local', targetUri: 'http://example.org/vs/all',
  group: [{
    source: LOCAL, target: FINDINGS,
    element: [
      { code: 'L-TACHY', display: 'Fast heart', target: [{ code: 'tachy', display: 'Tachycardia', equivalence: 'equivalent' }] },
      { code: 'L-HEART', display: 'Heart trouble', target: [{ code: 'heart', equivalence: 'wider' }] },
      { code: 'L-NONE', target: [{ equivalence: 'unmatched' }] },
    ],
    unmapped: { mode: 'fixed', code: 'disorder', display: 'Disorder' },
  }],
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

/** A Parameters output value by name (first), or every `match` etc. */
export function param(body: Json, name: string): Json {
  const p = body.parameter?.find((x: Json) => x.name === name);
  if (!p) return undefined;
  const key = Object.keys(p).find((k) => k.startsWith('value'));
  return key ? p[key] : p;
}

export function params(body: Json, name: string): Json[] {
  return (body.parameter ?? []).filter((x: Json) => x.name === name);
}

export function part(p: Json, name: string): Json {
  const found = p.part?.find((x: Json) => x.name === name);
  if (!found) return undefined;
  const key = Object.keys(found).find((k) => k.startsWith('value'));
  return key ? found[key] : found;
}

export const codes = (expansion: Json): string[] => (expansion.expansion?.contains ?? []).map((c: Json) => c.code);
export const P = (...parameter: Json[]) => ({ resourceType: 'Parameters', parameter });
