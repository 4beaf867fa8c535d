/**
 * Finding 5 (issue 7), at the FHIR layer: a request whose statement runs past the database budget
 * gets a 400 OperationOutcome "too-costly" (the client's to narrow), a request caught by the PGlite
 * thread's restart gets 503 with Retry-After, and the engine keeps serving its committed data.
 * A test hook makes the page query of one search slow (no search is slow enough on purpose now).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { OperationOutcome } from '@medplum/fhirtypes';
import type { Database, Queryable } from '../../src/db/database.js';
import { openDatabase } from '../../src/db/open.js';
import { FhirEngine } from '../../src/fhir/engine.js';
import { freshPgliteDataDir, freshPostgresUrl, postgresAdminUrl } from '../support/databases.js';

const SCHEMA = 'slow_fhir';

/**
 * The database, with the next page query of a search made endless once `slow` is set (one-shot:
 * a search may run other statements first, e.g. the counts of search/first-page.ts).
 */
function withSlowSearches(db: Database): Database & { slow: boolean } {
  const page = `FROM ${SCHEMA}.resources r WHERE`;
  const rewrite = (sql: string): string =>
    sql.replace(page, `FROM ${SCHEMA}.resources r, (SELECT count(*) FROM generate_series(1, 10000000000)) burn WHERE`);
  const hooked = {
    slow: false,
    kind: db.kind,
    query: (sql: string, params?: unknown[]) => {
      if (!hooked.slow || !sql.includes(page)) return db.query(sql, params);
      hooked.slow = false;
      return db.query(rewrite(sql), params);
    },
    exec: (sql: string) => db.exec(sql),
    transaction: <T>(fn: (tx: Queryable) => Promise<T>, options?: { maintenance?: boolean }) => db.transaction(fn, options),
    migrate: db.migrate.bind(db),
    dropSchema: db.dropSchema.bind(db),
    close: () => db.close(),
  };
  return hooked as unknown as Database & { slow: boolean };
}

async function open(driver: 'pglite-worker' | 'postgres'): Promise<{ db: Database; dispose(): Promise<void> }> {
  const options = { statementTimeoutMs: 1_500 };
  if (driver === 'postgres') {
    const { url, dispose } = await freshPostgresUrl();
    return { db: await openDatabase({ url }, options), dispose };
  }
  const { dir, dispose } = await freshPgliteDataDir();
  return { db: await openDatabase({ dataDir: dir, thread: 'worker' }, options), dispose };
}

const drivers: Array<'pglite-worker' | 'postgres'> = postgresAdminUrl ? ['pglite-worker', 'postgres'] : ['pglite-worker'];
for (const driver of drivers) {
  describe(`FHIR requests past the statement budget on ${driver}`, () => {
    test('400 too-costly for the slow search, 200 or 503 + Retry-After for a bystander, committed data still served', async () => {
      const { db, dispose } = await open(driver);
      const hooked = withSlowSearches(db);
      const engine = new FhirEngine({ db: hooked, schema: SCHEMA });
      try {
        await engine.migrate();
        const created = await engine.handle({ method: 'POST', path: 'Patient', query: [], headers: {}, body: { resourceType: 'Patient', name: [{ family: 'Otieno' }] } });
        assert.equal(created.status, 201);
        const id = created.resource!.id!;

        hooked.slow = true;
        const search = engine.handle({ method: 'GET', path: 'Patient', query: [['family', 'Otieno']], headers: {} });
        const bystander = engine.handle({ method: 'GET', path: `Patient/${id}`, query: [], headers: {} });
        const refused = await search;
        assert.equal(refused.status, 400);
        const issue = (refused.resource as OperationOutcome).issue[0]!;
        assert.equal(issue.code, 'too-costly');
        assert.match(issue.diagnostics!, /INSTANT_DB_STATEMENT_TIMEOUT_MS/);

        const innocent = await bystander;
        if (innocent.status === 503) assert.ok(Number(innocent.headers?.['retry-after']) > 0, 'a 503 says when to retry');
        else assert.equal(innocent.status, 200);

        const read = await engine.handle({ method: 'GET', path: `Patient/${id}`, query: [], headers: {} });
        assert.equal(read.status, 200);
        const found = await engine.handle({ method: 'GET', path: 'Patient', query: [['family', 'Otieno']], headers: {} });
        assert.equal(found.status, 200);
        assert.equal((found.resource as { entry?: unknown[] }).entry?.length, 1);
      } finally {
        await engine.settle();
        await db.close();
        await dispose();
      }
    });
  });
}
