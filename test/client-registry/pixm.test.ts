/**
 * PIXm 3.x ITI-83 `$ihe-pix` on both drivers, from the profile's text:
 * - 3.83.4.1.2.1: sourceIdentifier may be "the Logical id of a FHIR Patient Resource"
 *   (`http://fhir.mydomain.com|Patient/123`, the server's base as the system);
 * - 3.83.4.1.2.2 / 3.83.4.1.3: Patient Identifiers "include business identifier(s) and the Logical
 *   id(s) of FHIR Patient Resource(s)": targetSystem may be the server's base (logical ids only);
 * - 3.83.4.2.2.1: "for each matching Patient Resource, one parameter ... targetId"; the source
 *   identifier is not repeated;
 * - 3.83.4.2.2.5: when the Patient is deprecated (merged), 200 with no result, or 404.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { testDrivers } from '../support/databases.js';
import { CLINIC_A, CLINIC_B, goldenOf, namingSystem, patient, startRegistry, type RegistryUnderTest } from './support.js';

type Parameter = { name: string; valueIdentifier?: { system: string; value: string }; valueReference?: { reference: string } };
const q = (value: string) => encodeURIComponent(value);
const CLINIC_C = 'http://clinic-c.example.org/mrn';
const CLINIC_C_OID = '2.16.999.1.33';

for (const driver of testDrivers) {
  describe(`client registry: PIXm ITI-83 on ${driver}`, () => {
    let cr: RegistryUnderTest;
    let atA: { id: string; golden: string };
    let atB: { id: string };
    const pix = async (query: string) => cr.request('GET', `Patient/$ihe-pix?${query}`);
    const identifiers = (body: { parameter?: Parameter[] }) => (body.parameter ?? []).filter((p) => p.name === 'targetIdentifier').map((p) => `${p.valueIdentifier!.system}|${p.valueIdentifier!.value}`).sort();
    const targetIds = (body: { parameter?: Parameter[] }) => (body.parameter ?? []).filter((p) => p.name === 'targetId').map((p) => p.valueReference!.reference);

    before(async () => {
      cr = await startRegistry(driver);
      for (const [name, url] of [['ClinicA', CLINIC_A], ['ClinicB', CLINIC_B]] as const) {
        assert.equal((await cr.request('POST', 'NamingSystem', namingSystem(name, url))).status, 201);
      }
      const a = await cr.request('POST', 'Patient', { ...patient({ ids: [[CLINIC_A, 'RED-994']], family: 'Mohr', given: 'Alice', birthDate: '1958-01-30' }), telecom: [{ system: 'phone', value: '0999555111' }] });
      const b = await cr.request('POST', 'Patient', { ...patient({ ids: [[CLINIC_B, 'BLUE-994']], family: 'Mohr', given: 'Alice', birthDate: '1958-01-30' }), telecom: [{ system: 'phone', value: '0999555111' }] });
      assert.equal(a.status, 201);
      assert.equal(b.status, 201);
      assert.equal(goldenOf(b.body), goldenOf(a.body), 'one person at two clinics');
      atA = { id: a.body.id, golden: goldenOf(a.body)! };
      atB = { id: b.body.id };
    });
    after(async () => {
      await cr.close();
    });

    test('one targetId per other Patient resource of the person (golden record first, never the queried one), every business identifier but the source', async () => {
      const reply = await pix(`sourceIdentifier=${q(`${CLINIC_A}|RED-994`)}`);
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assert.deepEqual(identifiers(reply.body), [`${CLINIC_B}|BLUE-994`]);
      const ids = targetIds(reply.body);
      assert.equal(ids[0], `${cr.base}/Patient/${atA.golden}`, 'the enterprise identity first');
      assert.deepEqual(ids.slice(1), [`${cr.base}/Patient/${atB.id}`], 'the record holding the source identifier is the one asked about');
    });

    test('POST with the parameters as a form (application/x-www-form-urlencoded) is answered as the GET (the form was ignored: 400 no sourceIdentifier)', async () => {
      const form = `sourceIdentifier=${q(`${CLINIC_A}|RED-994`)}&targetSystem=${q(CLINIC_B)}`;
      const posted = await fetch(`${cr.base}/Patient/$ihe-pix`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/fhir+json' }, body: form });
      const body = await posted.json() as { parameter?: Parameter[] };
      assert.equal(posted.status, 200, JSON.stringify(body));
      assert.deepEqual(identifiers(body), [`${CLINIC_B}|BLUE-994`]);
      assert.deepEqual(body, (await pix(form)).body);
    });

    test('sourceIdentifier=<base>|Patient/<id> (a logical id on this server) is answered; the queried resource is not repeated', async () => {
      const reply = await pix(`sourceIdentifier=${q(`${cr.base}|Patient/${atA.id}`)}`);
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assert.deepEqual(identifiers(reply.body), [`${CLINIC_A}|RED-994`, `${CLINIC_B}|BLUE-994`]);
      assert.deepEqual(targetIds(reply.body).sort(), [`${cr.base}/Patient/${atA.golden}`, `${cr.base}/Patient/${atB.id}`].sort());
      const unknown = await pix(`sourceIdentifier=${q(`${cr.base}|Patient/no-such-patient`)}`);
      assert.equal(unknown.status, 404);
      assert.equal(unknown.body.issue[0].diagnostics, 'sourceIdentifier Patient Identifier not found');
    });

    test('a sourceIdentifier value with an escaped |, comma or backslash (search.html#escaping) is that value; an unescaped comma is two sources', async () => {
      const odd = 'GRN|7,8\\9';
      const created = await cr.request('POST', 'Patient', patient({ ids: [[CLINIC_A, odd], [CLINIC_B, 'GRN-PLAIN']], family: 'Quill', given: 'Odo', birthDate: '1961-02-03' }));
      assert.equal(created.status, 201);
      const reply = await pix(`sourceIdentifier=${q(`${CLINIC_A}|GRN\\|7\\,8\\\\9`)}`);
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assert.deepEqual(identifiers(reply.body), [`${CLINIC_B}|GRN-PLAIN`]);
      assert.equal((await pix(`sourceIdentifier=${q(`${CLINIC_A}|GRN|7,8`)}`)).status, 400, 'two sourceIdentifiers');
    });

    test('targetSystem=<base> asks for logical ids only; a domain asks for its identifiers only', async () => {
      const ids = await pix(`sourceIdentifier=${q(`${CLINIC_A}|RED-994`)}&targetSystem=${q(cr.base)}`);
      assert.equal(ids.status, 200, JSON.stringify(ids.body));
      assert.deepEqual(identifiers(ids.body), []);
      assert.equal(targetIds(ids.body).length, 2);
      // As PIXm's own example (red to blue): the blue identifier, and the Patient resource holding it.
      const blue = await pix(`sourceIdentifier=${q(`${CLINIC_A}|RED-994`)}&targetSystem=${q(CLINIC_B)}`);
      assert.deepEqual(blue.body.parameter, [
        { name: 'targetIdentifier', valueIdentifier: { system: CLINIC_B, value: 'BLUE-994' } },
        { name: 'targetId', valueReference: { reference: `${cr.base}/Patient/${atB.id}` } },
      ]);
      const both = await pix(`sourceIdentifier=${q(`${CLINIC_A}|RED-994`)}&targetSystem=${q(CLINIC_B)}&targetSystem=${q(cr.base)}`);
      assert.deepEqual(identifiers(both.body), [`${CLINIC_B}|BLUE-994`]);
      assert.equal(targetIds(both.body).length, 2);
      // An empty targetSystem names no domain: left out, as an empty search parameter is.
      const empty = await pix(`sourceIdentifier=${q(`${CLINIC_A}|RED-994`)}&targetSystem=`);
      assert.equal(empty.status, 200, JSON.stringify(empty.body));
      assert.ok(identifiers(empty.body).includes(`${CLINIC_B}|BLUE-994`));
    });

    test('after a merge the retired record\'s identifier answers 200 with no result, and the survivor no longer lists it', async () => {
      const duplicate = await cr.request('POST', 'Patient', patient({ ids: [[CLINIC_A, 'RED-OLD']], family: 'Kachingwe', given: 'Peter', birthDate: '1966-06-06', gender: 'male' }));
      const survivor = await cr.request('POST', 'Patient', patient({ ids: [[CLINIC_B, 'BLUE-NEW']], family: 'Kachingwe', given: 'Petro', birthDate: '1966-06-07', gender: 'male' }));
      const merged = await cr.request('POST', 'Patient/$merge', { resourceType: 'Parameters', parameter: [
        { name: 'source-patient', valueReference: { reference: `Patient/${duplicate.body.id}` } },
        { name: 'target-patient', valueReference: { reference: `Patient/${survivor.body.id}` } },
      ] });
      assert.equal(merged.status, 200, JSON.stringify(merged.body));
      const retired = await pix(`sourceIdentifier=${q(`${CLINIC_A}|RED-OLD`)}`);
      assert.equal(retired.status, 200, JSON.stringify(retired.body));
      assert.equal(retired.body.resourceType, 'Parameters');
      assert.equal(retired.body.parameter, undefined, 'no result for a deprecated patient');
      const byId = await pix(`sourceIdentifier=${q(`${cr.base}|Patient/${duplicate.body.id}`)}`);
      assert.equal(byId.status, 200);
      assert.equal(byId.body.parameter, undefined);
      const live = await pix(`sourceIdentifier=${q(`${CLINIC_B}|BLUE-NEW`)}`);
      assert.deepEqual(identifiers(live.body), []);
      assert.ok(!targetIds(live.body).some((r) => r.endsWith(`/Patient/${duplicate.body.id}`)), 'the retired record is not one of the person\'s');
    });

    test('a targetSystem asked by OID (urn:oid: or bare) is answered in that form (review finding 10)', async () => {
      assert.equal((await cr.request('POST', 'NamingSystem', namingSystem('ClinicC', CLINIC_C, CLINIC_C_OID))).status, 201);
      const c = await cr.request('POST', 'Patient', { ...patient({ ids: [[CLINIC_C, 'GREEN-994']], family: 'Mohr', given: 'Alice', birthDate: '1958-01-30' }), telecom: [{ system: 'phone', value: '0999555111' }] });
      assert.equal(goldenOf(c.body), atA.golden, 'the same person at a third clinic');
      const byOid = await pix(`sourceIdentifier=${q(`${CLINIC_A}|RED-994`)}&targetSystem=${q(`urn:oid:${CLINIC_C_OID}`)}`);
      assert.deepEqual(identifiers(byOid.body), [`urn:oid:${CLINIC_C_OID}|GREEN-994`]);
      assert.deepEqual(targetIds(byOid.body), [`${cr.base}/Patient/${c.body.id}`]);
      const bare = await pix(`sourceIdentifier=${q(`${CLINIC_A}|RED-994`)}&targetSystem=${q(CLINIC_C_OID)}`);
      assert.deepEqual(identifiers(bare.body), [`urn:oid:${CLINIC_C_OID}|GREEN-994`]);
      const byUrl = await pix(`sourceIdentifier=${q(`${CLINIC_A}|RED-994`)}&targetSystem=${q(CLINIC_C)}`);
      assert.deepEqual(identifiers(byUrl.body), [`${CLINIC_C}|GREEN-994`]);
      const all = await pix(`sourceIdentifier=${q(`${CLINIC_A}|RED-994`)}`);
      assert.ok(identifiers(all.body).includes(`${CLINIC_C}|GREEN-994`), 'without targetSystem the domain URL');
    });
  });
}

/**
 * With no NamingSystem registered the registry takes any domain (open); PIXm still answers the
 * profile's codes: a domain no record uses is not recognised (sourceIdentifier 400, targetSystem
 * 403, ITI-83 Cases 3 and 4), an unknown value of a used domain is 404.
 */
describe('client registry: PIXm ITI-83 with no domain registered (open)', () => {
  let cr: RegistryUnderTest;
  before(async () => {
    cr = await startRegistry('pglite');
    assert.equal((await cr.request('POST', 'Patient', patient({ ids: [[CLINIC_A, 'OPEN-1']], family: 'Open', given: 'Olu', birthDate: '1966-06-06' }))).status, 201);
  });
  after(async () => {
    await cr.close();
  });

  test('used domains are recognised, others are 400 (source) and 403 (target)', async () => {
    const pix = (query: string) => cr.request('GET', `Patient/$ihe-pix?${query}`);
    assert.equal((await pix(`sourceIdentifier=${q(`${CLINIC_A}|OPEN-1`)}`)).status, 200);
    assert.equal((await pix(`sourceIdentifier=${q(`${CLINIC_A}|OPEN-1`)}&targetSystem=${q(CLINIC_B)}`)).status, 403, 'a domain no record uses');
    assert.equal((await pix(`sourceIdentifier=${q(`${CLINIC_A}|OPEN-1`)}&targetSystem=${q(CLINIC_A)}`)).status, 200);
    assert.equal((await pix(`sourceIdentifier=${q(`${CLINIC_B}|OPEN-1`)}`)).status, 400);
    assert.equal((await pix(`sourceIdentifier=${q(`${CLINIC_A}|NOPE`)}`)).status, 404);
  });

  test('a domain asked many times is looked up once: a POSTed Parameters repeating targetSystem does not hold the database', async () => {
    const repeats = 10_000;
    const asked = {
      resourceType: 'Parameters',
      parameter: [
        { name: 'sourceIdentifier', valueIdentifier: { system: CLINIC_A, value: 'OPEN-1' } },
        ...Array.from({ length: repeats }, () => ({ name: 'targetSystem', valueUri: CLINIC_A })),
      ],
    };
    const started = Date.now();
    const reply = await cr.request('POST', 'Patient/$ihe-pix', asked);
    const took = Date.now() - started;
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    // One search per repetition took about 2 ms each (20 s here); one per distinct domain is a few ms.
    assert.ok(took < 4000, `${repeats} repetitions of one targetSystem took ${took} ms`);
  });
});
