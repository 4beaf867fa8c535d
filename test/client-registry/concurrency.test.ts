/**
 * Concurrent registrations of the same new person (both drivers): linking is serialised per
 * blocking key, so the registrations that come second see the first one's golden record and link
 * to it, instead of each creating a golden record of its own.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { testDrivers } from '../support/databases.js';
import { RegistryStore } from '../../src/services/client-registry/store.js';
import { goldenOf, startRegistry, type Reply, type RegistryUnderTest } from './support.js';

const GOLDEN = 'http://instant-openhie.org/fhir/cr-record-type|golden';
const PARALLEL = 8;

interface Person { family: string; given: string; birthDate: string; line: string; phone: string }
const RUDO: Person = { family: 'Mutasa', given: 'Rudo', birthDate: '1987-09-23', line: '14 Baobab Road', phone: '+263 77 555 0142' };
const FARAI: Person = { family: 'Chikowore', given: 'Farai', birthDate: '1979-02-11', line: '3 Msasa Lane', phone: '+263 71 555 0987' };

function clinicRegistration(clinic: number, person: Person): Record<string, unknown> {
  return {
    resourceType: 'Patient',
    identifier: [{ system: `http://clinic-${clinic}.example.org/mrn`, value: `MRN-${clinic}` }],
    name: [{ family: person.family, given: [person.given] }],
    gender: 'female',
    birthDate: person.birthDate,
    address: [{ line: [person.line], city: 'Ketu', postalCode: '40210' }],
    telecom: [{ system: 'phone', value: person.phone }],
  };
}

for (const driver of testDrivers) {
  describe(`client registry concurrency on ${driver}`, () => {
    let cr: RegistryUnderTest;

    before(async () => {
      cr = await startRegistry(driver);
    });
    after(async () => {
      await cr.close();
    });

    test(`${PARALLEL} parallel registrations of the same new person make one golden record`, async () => {
      const replies = await Promise.all(Array.from({ length: PARALLEL }, (_, n) => cr.request('POST', 'Patient', clinicRegistration(n, RUDO))));
      for (const reply of replies) assert.equal(reply.status, 201, JSON.stringify(reply.body));
      const goldens = new Set(replies.map((reply) => goldenOf(reply.body)));
      assert.equal(goldens.size, 1, `every registration links to one golden record, got ${[...goldens].join(', ')}`);
      const stored = await cr.request('GET', `Patient?_tag=${encodeURIComponent(GOLDEN)}&family=mutasa`);
      assert.equal(stored.body.total ?? stored.body.entry?.length, 1, 'one golden record is stored');
      const golden = await cr.request('GET', `Patient/${[...goldens][0]}`);
      assert.equal(golden.body.link.length, PARALLEL, 'the golden record lists every source');
    });

    test('parallel registrations in transaction bundles of the same new person make one golden record', async () => {
      const bundles = Array.from({ length: 4 }, (_, n) => ({
        resourceType: 'Bundle', type: 'transaction',
        entry: [{ fullUrl: `urn:uuid:00000000-0000-4000-8000-00000000000${n}`, resource: clinicRegistration(20 + n, FARAI), request: { method: 'POST', url: 'Patient' } }],
      }));
      const replies = await Promise.all(bundles.map((bundle) => cr.request('POST', '', bundle)));
      for (const reply of replies) assert.equal(reply.status, 200, JSON.stringify(reply.body));
      const stored = await cr.request('GET', `Patient?_tag=${encodeURIComponent(GOLDEN)}&family=chikowore`);
      assert.equal(stored.body.total ?? stored.body.entry?.length, 1, 'one golden record is stored');
    });

    test('a bundle past the fine key-lock budget (coarse locks) and single registrations of its people still make one golden record each', async () => {
      // 60 people sharing no blocking key (distinct birth dates and postcodes): the bundle's first
      // ~36 take fine key locks, the rest coarse ones (store.ts); the last ones are registered at
      // another clinic at the same time.
      const registration = (clinic: number, n: number): Record<string, unknown> => ({
        ...clinicRegistration(clinic, { family: 'Zvobgo', given: 'Tendai', birthDate: `${1940 + n}-03-1${n % 10}`, line: `${n + 1} Jacaranda Street`, phone: `+263 77 600 ${1000 + n}` }),
        address: [{ line: [`${n + 1} Jacaranda Street`], city: 'Ketu', postalCode: `5${String(n).padStart(4, '0')}` }],
        identifier: [{ system: `http://clinic-${clinic}.example.org/mrn`, value: `MRN-${clinic}-${n}` }], // one person per clinic MRN
      });
      const count = 60;
      const bundle = {
        resourceType: 'Bundle', type: 'transaction',
        entry: Array.from({ length: count }, (_, n) => ({ fullUrl: `urn:uuid:00000000-0000-4000-8000-${String(100000000000 + n)}`, resource: registration(40, n), request: { method: 'POST', url: 'Patient' } })),
      };
      // Locks taken patient by patient can still cross (a coarse bucket shared by chance): PostgreSQL
      // then refuses one side with a 409 "retry", and the client retries, as any client would.
      const withRetry = async (send: () => Promise<Reply>): Promise<Reply> => {
        for (let attempt = 0; ; attempt++) {
          const reply = await send();
          if (reply.status !== 409 || attempt === 3) return reply;
        }
      };
      const late = Array.from({ length: PARALLEL }, (_, n) => count - PARALLEL + n);
      const [bundled, ...singles] = await Promise.all([
        withRetry(() => cr.request('POST', '', bundle)),
        ...late.map((n) => withRetry(() => cr.request('POST', 'Patient', registration(41, n)))),
      ]);
      assert.equal(bundled!.status, 200, JSON.stringify(bundled!.body).slice(0, 500));
      for (const [i, reply] of singles.entries()) {
        assert.equal(reply.status, 201, JSON.stringify(reply.body));
        const inBundle = /Patient\/([^/]+)/.exec(bundled!.body.entry[late[i]!].response.location)![1];
        const source = await cr.request('GET', `Patient/${inBundle}`);
        assert.equal(goldenOf(reply.body), goldenOf(source.body), `person ${late[i]}: both registrations link to one golden record`);
      }
    });

    if (driver === 'postgres') {
      test('a fine key lock and a coarse one on the same key exclude each other, both ways', async () => {
        const store = new RegistryStore('cr');
        const many = Array.from({ length: 300 }, (_, n) => `test-lock:other-${n}`); // past the fine budget: coarse
        const cases: Array<[string, string[], string[]]> = [['fine then coarse', ['test-lock:shared'], ['test-lock:shared', ...many]], ['coarse then fine', ['test-lock:shared', ...many], ['test-lock:shared']]];
        for (const [name, first, second] of cases) {
          let release!: () => void;
          const released = new Promise<void>((resolve) => (release = resolve));
          let holding!: () => void;
          const held = new Promise<void>((resolve) => (holding = resolve));
          const holder = cr.database.db.transaction(async (tx) => {
            await store.replaceBlockingKeys(tx, 'test-lock-a', first, true);
            holding();
            await released;
            throw new Error('rolled back');
          });
          await held;
          await assert.rejects(cr.database.db.transaction(async (tx) => {
            await tx.exec("SET LOCAL lock_timeout = '300ms'");
            await store.replaceBlockingKeys(tx, 'test-lock-b', second, true);
          }), /lock timeout/, `${name}: the second waits for the first`);
          release();
          await assert.rejects(holder, /rolled back/);
        }
      });
    }
  });
}
