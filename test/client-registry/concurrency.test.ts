/**
 * Concurrent registrations of the same new person (both drivers): linking is serialised per
 * blocking key, so the registrations that come second see the first one's golden record and link
 * to it, instead of each creating a golden record of its own.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { testDrivers } from '../support/databases.js';
import { goldenOf, startRegistry, type RegistryUnderTest } from './support.js';

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
  });
}
