/**
 * The identifier-domain cache (both drivers): a registration answered from the cached domains is
 * answered as one that read them; a NamingSystem write drops them at once in this process, and on
 * PostgreSQL in every process on the database (NOTIFY at commit); a transaction's own uncommitted
 * NamingSystem is seen by that transaction only and never cached; without notifications the
 * cached domains are dropped after their time bound.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Patient } from '@medplum/fhirtypes';
import { openDatabase } from '../../src/db/open.js';
import type { Database, Subscription } from '../../src/db/database.js';
import { FhirError } from '../../src/fhir/outcome.js';
import { createClientRegistryEngine } from '../../src/services/client-registry/index.js';
import { IdentifierDomainCache } from '../../src/services/client-registry/identifier-domains.js';
import type { ClientRegistryEngine } from '../../src/services/client-registry/registry-engine.js';
import { openTestDatabase, testDrivers, type TestDatabase } from '../support/databases.js';
import { CLINIC_A, CLINIC_B, NATIONAL_ID, NATIONAL_ID_OID, namingSystem, patient } from './support.js';

const SCHEMA = 'cr';

async function register(engine: ClientRegistryEngine, system: string, value: string, family = 'Moyo'): Promise<{ status: number; system?: string }> {
  try {
    const created = await engine.repository().create(patient({ ids: [[system, value]], family, given: 'Tariro', birthDate: '1990-04-0' + (value.length % 9 + 1) }) as unknown as Patient, 'Patient');
    return { status: 201, system: (created.resource as Patient).identifier?.[0]?.system };
  } catch (error) {
    if (error instanceof FhirError) return { status: error.status };
    throw error;
  }
}

/** Waits (bounded) until `check` holds: a notification travels through the server. */
async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`never: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

for (const driver of testDrivers) {
  describe(`client registry identifier-domain cache on ${driver}`, () => {
    let database: TestDatabase;
    let engine: ClientRegistryEngine;
    let following: Subscription | undefined;

    before(async () => {
      database = await openTestDatabase(driver);
      engine = await createClientRegistryEngine({ db: database.db }, { schema: SCHEMA });
      following = await engine.identifierDomains.followChanges(database.db);
      assert.equal(!!following, driver === 'postgres', 'PostgreSQL follows NamingSystem writes; PGlite has no other process');
      const changes = engine.identifierDomains.changes;
      await engine.repository().create(namingSystem('National id', NATIONAL_ID, NATIONAL_ID_OID) as never, 'NamingSystem');
      // On PostgreSQL the write is also announced to this process (it drops the table once more): let that pass first.
      if (following) await eventually(async () => engine.identifierDomains.changes > changes + 1, 'the NamingSystem write is announced');
    });
    after(async () => {
      await following?.close();
      await engine.settle();
      await database.dispose();
    });

    test('a registration answered from the cache is answered as one that read the domains', async () => {
      const cache = engine.identifierDomains;
      const readsBefore = cache.reads;
      const miss = await register(engine, NATIONAL_ID_OID, 'NID-1'); // by OID: stored with the domain's URL
      assert.deepEqual(miss, { status: 201, system: NATIONAL_ID });
      assert.equal(cache.reads, readsBefore + 1, 'the first registration after the NamingSystem write reads the domains');
      const hit = await register(engine, NATIONAL_ID_OID, 'NID-2');
      assert.deepEqual(hit, miss);
      assert.deepEqual(await register(engine, `urn:oid:${NATIONAL_ID_OID}`, 'NID-3'), miss);
      assert.equal((await register(engine, CLINIC_A, 'A-1')).status, 422, 'an unknown domain is refused from the cache too');
      assert.equal(cache.reads, readsBefore + 1, 'the next registrations read no NamingSystem');
      // What an uncached read answers for the same requests.
      cache.forget();
      assert.deepEqual(await register(engine, NATIONAL_ID_OID, 'NID-4'), miss);
      assert.equal((await register(engine, CLINIC_A, 'A-2')).status, 422);
    });

    test('a NamingSystem write in this process takes effect at once (create, then retire)', async () => {
      assert.equal((await register(engine, CLINIC_A, 'A-3')).status, 422);
      const created = await engine.repository().create(namingSystem('Clinic A', CLINIC_A) as never, 'NamingSystem');
      assert.equal((await register(engine, CLINIC_A, 'A-4')).status, 201);
      await engine.repository().update('NamingSystem', created.resource.id!, { ...namingSystem('Clinic A', CLINIC_A), id: created.resource.id, status: 'retired' } as never);
      assert.equal((await register(engine, CLINIC_A, 'A-5')).status, 422, 'a retired domain is refused at once');
    });

    test("a transaction sees its own NamingSystem, and a rolled-back one is never cached", async () => {
      const registerInOneTransaction = (value: string, rollBack: boolean) => engine.repository().transaction(async (repo) => {
        await repo.create(namingSystem('Clinic B', CLINIC_B) as never, 'NamingSystem');
        const created = await repo.create(patient({ ids: [[CLINIC_B, value]], family: 'Dube', given: 'Rufaro', birthDate: '1985-01-02' }) as never, 'Patient');
        assert.equal((created.resource as Patient).identifier?.[0]?.system, CLINIC_B, 'the transaction accepts its own new domain');
        if (rollBack) throw new Error('rolled back');
      });
      await assert.rejects(registerInOneTransaction('B-1', true), /rolled back/);
      assert.equal((await register(engine, CLINIC_B, 'B-2')).status, 422, 'the rolled-back domain is not registered, cached or not');
      assert.equal((await register(engine, CLINIC_B, 'B-3')).status, 422);
      await registerInOneTransaction('B-4', false);
      assert.equal((await register(engine, CLINIC_B, 'B-5')).status, 201);
    });

    test('without notifications, cached domains are dropped after their time bound', async () => {
      const cache = new IdentifierDomainCache(SCHEMA, 100);
      const repo = engine.repository();
      const domain = 'http://clinic-c.example.org/mrn';
      assert.equal((await cache.load(repo, false)).canonical(domain), undefined);
      // Written by another engine (as another process would): this cache is not told.
      await engine.repository().create(namingSystem('Clinic C', domain) as never, 'NamingSystem');
      assert.equal((await cache.load(repo, false)).canonical(domain), undefined, 'served from memory within the bound');
      await new Promise((resolve) => setTimeout(resolve, 150));
      assert.equal((await cache.load(repo, false)).canonical(domain), domain, 'read again once the bound passed');
    });

    if (driver === 'postgres') {
      test('a NamingSystem written by another process is seen once its commit is announced', async () => {
        const url = (database.location as { url: string }).url;
        const otherDb: Database = await openDatabase({ url });
        const other = await createClientRegistryEngine({ db: otherDb }, { schema: SCHEMA });
        const otherFollowing = await other.identifierDomains.followChanges(otherDb);
        try {
          const domain = 'http://clinic-d.example.org/mrn';
          assert.equal((await register(engine, domain, 'D-1')).status, 422); // cached here, without clinic D
          const reads = engine.identifierDomains.reads;
          for (let n = 2; n < 6; n++) assert.equal((await register(engine, domain, `D-${n}`)).status, 422);
          assert.equal(engine.identifierDomains.reads, reads, 'no expiry while following: served from memory');
          await other.repository().create(namingSystem('Clinic D', domain) as never, 'NamingSystem');
          await eventually(async () => (await register(engine, domain, `D-${Date.now()}`)).status === 201, 'this process accepts the other process\'s new domain');
        } finally {
          await otherFollowing?.close();
          await other.settle();
          await otherDb.close();
        }
      });
    }
  });
}
