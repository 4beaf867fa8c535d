/**
 * PDQm ITI-78 Patient search on the client registry, both drivers, from the profile's text:
 * - identifier search resolves a system through the registered NamingSystems: the domain URL and
 *   its `urn:oid:` form (the form IHE Connectathon domains use) find the same Patients, with a
 *   value and as a domain filter `identifier=<domain>|`;
 * - 3.78.4.1.3 Case 1: "populates the total property of the bundle" (also when results span pages);
 * - Case 2: with `identifier=<domain>|` the Supplier "eliminates identifiers from the result set"
 *   of the other domains;
 * - Case 4: a domain the Supplier does not know: the preferred answer, 404 with an
 *   OperationOutcome (not-found, "targetSystem not found").
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { testDrivers } from '../support/databases.js';
import { CLINIC_A, CLINIC_B, NATIONAL_ID, NATIONAL_ID_OID, namingSystem, patient, startRegistry, type RegistryUnderTest } from './support.js';

const NOT_GOLDEN = `_tag:not=${encodeURIComponent('http://instant-openhie.org/fhir/cr-record-type|golden')}`;
const q = (value: string) => encodeURIComponent(value);

for (const driver of testDrivers) {
  describe(`client registry: PDQm ITI-78 search on ${driver}`, () => {
    let cr: RegistryUnderTest;
    let banda: string;

    before(async () => {
      cr = await startRegistry(driver);
      for (const [name, url, oid] of [['NationalId', NATIONAL_ID, NATIONAL_ID_OID], ['ClinicA', CLINIC_A], ['ClinicB', CLINIC_B]] as const) {
        assert.equal((await cr.request('POST', 'NamingSystem', namingSystem(name, url, oid))).status, 201);
      }
      const created = await cr.request('POST', 'Patient', patient({ ids: [[`urn:oid:${NATIONAL_ID_OID}`, 'O1'], [CLINIC_A, 'PA-1'], [CLINIC_B, 'PB-1']], family: 'Banda', given: 'Chisomo', birthDate: '1970-01-01' }));
      assert.equal(created.status, 201);
      banda = created.body.id;
      for (let n = 0; n < 5; n++) {
        assert.equal((await cr.request('POST', 'Patient', patient({ ids: [[CLINIC_A, `PDQ-${n}`]], family: 'Pagefam', given: `Given${n}`, birthDate: `19${50 + n}-02-0${n + 1}`, gender: 'unknown' }))).status, 201);
      }
    });
    after(async () => {
      await cr.close();
    });

    test('identifier=urn:oid:<domain OID>|value finds what the domain URL finds', async () => {
      const byUrl = await cr.request('GET', `Patient?identifier=${q(`${NATIONAL_ID}|O1`)}&${NOT_GOLDEN}`);
      const byOid = await cr.request('GET', `Patient?identifier=${q(`urn:oid:${NATIONAL_ID_OID}|O1`)}&${NOT_GOLDEN}`);
      assert.equal(byUrl.body.total, 1);
      assert.equal(byOid.status, 200);
      assert.equal(byOid.body.total, 1, 'the OID form names the same domain');
      assert.equal(byOid.body.entry[0].resource.id, banda);
    });

    test('the domain filter identifier=urn:oid:<OID>| finds the Patients with an identifier in that domain', async () => {
      const reply = await cr.request('GET', `Patient?identifier=${q(`urn:oid:${NATIONAL_ID_OID}|`)}&${NOT_GOLDEN}`);
      assert.equal(reply.status, 200);
      assert.equal(reply.body.total, 1);
    });

    test('Case 1: Bundle.total is the number of matches even when there is a next page', async () => {
      const reply = await cr.request('GET', `Patient?family=Pagefam&${NOT_GOLDEN}&_count=2`);
      assert.equal(reply.status, 200);
      assert.ok(reply.body.link.some((l: { relation: string }) => l.relation === 'next'), 'results span pages');
      assert.equal((reply.body.entry?.length ?? 0), 2);
      assert.equal(reply.body.total, 5);
      const none = await cr.request('GET', `Patient?family=Nobodyhere`);
      assert.equal(none.body.total, 0, 'Case 3: total 0');
    });

    test('Case 2: identifier=<domain>| keeps only identifiers of the asked domains in the returned Patients', async () => {
      const one = await cr.request('GET', `Patient?family=Banda&identifier=${q(`${CLINIC_A}|`)}&${NOT_GOLDEN}`);
      assert.equal(one.status, 200);
      assert.deepEqual((one.body.entry ?? []).map((e: { resource: { identifier: Array<{ system: string; value: string }> } }) => e.resource.identifier), [[{ system: CLINIC_A, value: 'PA-1' }]]);
      const two = await cr.request('GET', `Patient?_id=${banda}&identifier=${q(`${CLINIC_B}|,urn:oid:${NATIONAL_ID_OID}|`)}`);
      // A domain asked by its OID is answered in that form (review finding 10; Case 2: identifiers "in the list").
      assert.deepEqual(two.body.entry[0].resource.identifier.map((i: { system: string }) => i.system).sort(), [CLINIC_B, `urn:oid:${NATIONAL_ID_OID}`].sort());
      const all = await cr.request('GET', `Patient?_id=${banda}`);
      assert.equal(all.body.entry[0].resource.identifier.length, 3, 'without a domain filter every identifier is returned');
      assert.equal((await cr.request('GET', `Patient/${banda}`)).body.identifier.length, 3, 'the stored record is untouched');
    });

    test('an unsupported _format: 400 on a read (3.78.4.4.2), 406 on a search (Case 5) (review finding 11)', async () => {
      const read = await cr.request('GET', `Patient/${banda}?_format=${q('text/plain')}`);
      assert.equal(read.status, 400, JSON.stringify(read.body));
      assert.match(read.body.issue[0].diagnostics, /_format/);
      assert.equal((await cr.request('GET', `Patient/${banda}/_history/1?_format=${q('text/plain')}`)).status, 400);
      assert.equal((await cr.request('GET', `Patient?family=Banda&_format=${q('text/plain')}`)).status, 406);
      assert.equal((await cr.request('GET', `Patient/${banda}?_format=json`)).status, 200);
    });

    test('Case 4: a domain the registry does not know is 404 "targetSystem not found"', async () => {
      const reply = await cr.request('GET', `Patient?family=Banda&identifier=${q('urn:oid:1.2.3.4.5.6.7.8.9|')}`);
      assert.equal(reply.status, 404, JSON.stringify(reply.body));
      assert.equal(reply.body.resourceType, 'OperationOutcome');
      assert.equal(reply.body.issue[0].code, 'not-found');
      assert.equal(reply.body.issue[0].diagnostics, 'targetSystem not found');
    });
  });
}
