/**
 * The identifier-domain cache (both drivers): a registration answered from the cached domains is
 * answered as one that read them; a committed NamingSystem write (by this engine or another, as
 * another process would) is seen by the next registration, with no wait (the domains version read
 * in the registration's transaction); a transaction's own uncommitted NamingSystem is seen by that
 * transaction only and never cached.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Patient } from '@medplum/fhirtypes';
import { openDatabase } from '../../src/db/open.js';
import type { Database } from '../../src/db/database.js';
import { FhirError } from '../../src/fhir/outcome.js';
import { createClientRegistryEngine } from '../../src/services/client-registry/index.js';
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

for (const driver of testDrivers) {
  describe(`client registry identifier-domain cache on ${driver}`, () => {
    let database: TestDatabase;
    let engine: ClientRegistryEngine;

    before(async () => {
      database = await openTestDatabase(driver);
      engine = await createClientRegistryEngine({ db: database.db }, { schema: SCHEMA });
      await engine.repository().create(namingSystem('National id', NATIONAL_ID, NATIONAL_ID_OID) as never, 'NamingSystem');
    });
    after(async () => {
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

    test('a NamingSystem written by another engine is seen by the next registration here', async () => {
      const other = await createClientRegistryEngine({ db: database.db }, { schema: SCHEMA });
      const domain = 'http://clinic-c.example.org/mrn';
      assert.equal((await register(engine, domain, 'C-1')).status, 422); // cached here, without clinic C
      const reads = engine.identifierDomains.reads;
      assert.equal((await register(engine, domain, 'C-2')).status, 422);
      assert.equal(engine.identifierDomains.reads, reads, 'served from memory while the domains version stands');
      // This engine's cache is not told (no interceptor of its own ran): the version tells it.
      const created = await other.repository().create(namingSystem('Clinic C', domain) as never, 'NamingSystem');
      assert.equal((await register(engine, domain, 'C-3')).status, 201, 'the next registration accepts the new domain');
      await other.repository().delete('NamingSystem', created.resource.id!);
      assert.equal((await register(engine, domain, 'C-4')).status, 422, 'and refuses it once deleted');
      await other.settle();
    });

    if (driver === 'postgres') {
      test('a NamingSystem written on another connection pool is seen by the next registration', async () => {
        const url = (database.location as { url: string }).url;
        const otherDb: Database = await openDatabase({ url });
        const other = await createClientRegistryEngine({ db: otherDb }, { schema: SCHEMA });
        try {
          const domain = 'http://clinic-d.example.org/mrn';
          assert.equal((await register(engine, domain, 'D-1')).status, 422); // cached here, without clinic D
          const reads = engine.identifierDomains.reads;
          for (let n = 2; n < 6; n++) assert.equal((await register(engine, domain, `D-${n}`)).status, 422);
          assert.equal(engine.identifierDomains.reads, reads, 'no expiry: served from memory while the domains version stands');
          await other.repository().create(namingSystem('Clinic D', domain) as never, 'NamingSystem');
          assert.equal((await register(engine, domain, 'D-6')).status, 201, 'the next registration after the commit accepts the other connection\'s new domain');
        } finally {
          await other.settle();
          await otherDb.close();
        }
      });
    }
  });
}
