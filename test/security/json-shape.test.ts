/**
 * FHIR JSON's shapes (src/fhir/json-shape.ts) hold before any code reads a body: a review found
 * nulls, lists and objects where FHIR JSON has none giving 500s in operations (`parameter: [null]`),
 * in the registries' write rules (which ran before validation) and in `$match`/`$ihe-pix`, and
 * invalid FHIR stored (two types of one choice element, empty strings, `_x` of a complex element,
 * `resourceType` inside a datatype). Each is now a 400 naming the element, on every service.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startFhirServer, type FhirTestServer } from '../fhir/support.js';
import { startRegistry, type RegistryUnderTest } from '../client-registry/support.js';
import { requestJson, startCareServices, type CareServicesUnderTest } from '../care-services/support.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The paths the OperationOutcome's issues name. */
const paths = (body: Json): string[] => (body?.issue ?? []).flatMap((i: Json) => i.expression ?? []);

function assertRefused(reply: { status: number; body: Json }, path: string, what: string): void {
  assert.equal(reply.status, 400, `${what}: ${JSON.stringify(reply.body).slice(0, 300)}`);
  assert.equal(reply.body.resourceType, 'OperationOutcome', what);
  assert.ok(paths(reply.body).includes(path), `${what}: ${JSON.stringify(paths(reply.body))}`);
}

describe('FHIR JSON shapes in the shared health record', () => {
  let s: FhirTestServer;
  before(async () => {
    s = await startFhirServer('pglite');
  });
  after(async () => {
    await s.close();
  });

  test('invalid FHIR a review found stored is refused: two members of one choice, empty strings, companions of complex elements, resourceType inside a datatype', async () => {
    for (const [body, path] of [
      [{ resourceType: 'Patient', deceasedBoolean: true, deceasedDateTime: '2000' }, 'Patient.deceasedDateTime'],
      [{ resourceType: 'Observation', status: 'final', code: { text: 'x' }, valueString: 'a', _valueBoolean: { id: 'x' } }, 'Observation._valueBoolean'],
      [{ resourceType: 'Patient', birthDate: '' }, 'Patient.birthDate'],
      [{ resourceType: 'Patient', identifier: [{ system: '', value: 'x' }] }, 'Patient.identifier[0].system'],
      [{ resourceType: 'Patient', _maritalStatus: { id: 'x' } }, 'Patient._maritalStatus'],
      [{ resourceType: 'Patient', name: [{ family: 'X', resourceType: 'Patient' }] }, 'Patient.name[0].resourceType'],
      [{ resourceType: 'Patient', _birthDate: [{ id: 'a' }] }, 'Patient._birthDate'], // was "Cannot assign to read only property"
      [{ resourceType: 'Patient', identifier: ['x'] }, 'Patient.identifier[0]'], // was 'Invalid additional property "0"'
      [{ resourceType: 'Patient', maritalStatus: { id: 'm1' } }, 'Patient.maritalStatus'], // ele-1: an id is no content
      [{ resourceType: 'Patient', name: [{ given: [] }] }, 'Patient.name[0]'],
      [{ resourceType: 'Patient', extension: [{ _url: { extension: [{ url: 'http://y', valueString: 'z' }] }, valueString: 'v' }] }, 'Patient.extension[0]._url'],
      [{ resourceType: 'Patient', text: { status: 'generated', _div: { extension: [{ url: 'http://y', valueString: 'z' }] } } }, 'Patient.text._div'],
      [{ resourceType: 'Patient', name: [{ family: 'x', _id: { extension: [{ url: 'http://y', valueString: 'z' }] } }] }, 'Patient.name[0]._id'],
      // A companion holding only an empty list is empty (it was stored as written).
      [{ resourceType: 'Patient', active: true, _active: { extension: [] } }, 'Patient._active'],
      [{ resourceType: 'Patient', name: [{ family: 'X', _family: { extension: [] } }] }, 'Patient.name[0]._family'],
    ] as Array<[Json, string]>) {
      assertRefused(await s.request('POST', body.resourceType, { body }), path, JSON.stringify(body));
    }
    // ExampleScenario.instance.resourceType is an element (a code), not a resource's type.
    const scenario = await s.request('POST', 'ExampleScenario', { body: { resourceType: 'ExampleScenario', status: 'draft', instance: [{ resourceId: 'rx1', resourceType: 'MedicationRequest' }] } });
    assert.equal(scenario.status, 201, JSON.stringify(scenario.body));
    assert.equal((await s.request('DELETE', `ExampleScenario/${scenario.body.id}`)).status < 300, true);
    // The same through XML: an empty value attribute is an empty string.
    const xml = await s.request('POST', 'Patient', { raw: '<Patient xmlns="http://hl7.org/fhir"><birthDate value=""/></Patient>', headers: { 'content-type': 'application/fhir+xml', accept: 'application/fhir+json' } });
    assert.equal(xml.status, 400, JSON.stringify(xml.body));
    assert.equal((await s.request('GET', 'Patient')).body.total, 0, 'nothing was stored');
  });

  test('an empty list means an absent element, as in HAPI: stored and answered without it; $validate warns; a JSON Patch emptying a list leaves the element out', async () => {
    // FHIR JSON has no empty lists; clients send them for lists built from nothing.
    const sent = { resourceType: 'Patient', identifier: [], name: [{ family: 'Phiri', given: [] }], extension: [] };
    const stored = await s.request('POST', 'Patient', { body: sent });
    assert.equal(stored.status, 201, JSON.stringify(stored.body));
    assert.deepEqual(stored.body.name, [{ family: 'Phiri' }]);
    assert.equal('identifier' in stored.body || 'extension' in stored.body, false, JSON.stringify(stored.body));
    const read = await s.request('GET', `Patient/${stored.body.id}`);
    assert.equal('identifier' in read.body, false, 'not stored either');
    const validated = await s.request('POST', 'Patient/$validate', { body: sent });
    assert.equal(validated.status, 200, JSON.stringify(validated.body));
    const warned = validated.body.issue.filter((i: Json) => i.severity === 'warning' && /empty list/.test(i.details?.text ?? '')).flatMap((i: Json) => i.expression);
    assert.deepEqual(warned.sort(), ['Patient.extension', 'Patient.identifier', 'Patient.name[0].given']);
    // The same through a transaction, and in an operation's input ($match's Patient in the registry test).
    const tx = await s.request('POST', '', { body: { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: { resourceType: 'Patient', telecom: [], gender: 'male' }, request: { method: 'POST', url: 'Patient' } }] } });
    assert.equal(tx.status, 200, JSON.stringify(tx.body));
    const location = /Patient\/[^/]+/.exec(tx.body.entry[0].response.location)![0];
    const fromTransaction = await s.request('GET', location);
    assert.equal(fromTransaction.body.gender, 'male');
    assert.equal('telecom' in fromTransaction.body, false);
    assert.equal((await s.request('DELETE', location)).status < 300, true);
    assert.equal((await s.request('DELETE', `Patient/${stored.body.id}`)).status < 300, true);

    const created = await s.request('POST', 'Patient', { body: { resourceType: 'Patient', name: [{ family: 'Moyo', given: ['Ana'] }], telecom: [{ system: 'phone', value: '1' }] } });
    assert.equal(created.status, 201);
    const patched = await s.request('PATCH', `Patient/${created.body.id}`, {
      raw: JSON.stringify([{ op: 'remove', path: '/telecom/0' }, { op: 'remove', path: '/name/0/given/0' }]),
      headers: { 'content-type': 'application/json-patch+json' },
    });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assert.deepEqual(patched.body.name, [{ family: 'Moyo' }]);
    assert.equal('telecom' in patched.body, false);
    // A later operation may fill a list an earlier one emptied.
    const refilled = await s.request('PATCH', `Patient/${created.body.id}`, {
      raw: JSON.stringify([{ op: 'remove', path: '/name/0' }, { op: 'add', path: '/name/0', value: { family: 'Banda' } }]),
      headers: { 'content-type': 'application/json-patch+json' },
    });
    assert.equal(refilled.status, 200, JSON.stringify(refilled.body));
    assert.deepEqual(refilled.body.name, [{ family: 'Banda' }]);
    assert.equal((await s.request('DELETE', `Patient/${created.body.id}`)).status < 300, true);
  });

  test('dates: days no month has and times without a zone are refused (they were stored and indexed as another day); a leap second is stored and found (was a 500)', async () => {
    for (const [body, path] of [
      [{ resourceType: 'Patient', birthDate: '2023-02-29' }, 'Patient.birthDate'],
      [{ resourceType: 'Patient', birthDate: '2020-06-31' }, 'Patient.birthDate'],
      [{ resourceType: 'Observation', status: 'final', code: { text: 'x' }, effectiveDateTime: '2023-02-30T10:00:00Z' }, 'Observation.effectiveDateTime'],
      [{ resourceType: 'Observation', status: 'final', code: { text: 'x' }, effectiveDateTime: '2020-01-01T10:00:00' }, 'Observation.effectiveDateTime'],
      [{ resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, period: { start: '2021-04-31' } }, 'Encounter.period.start'],
    ] as Array<[Json, string]>) {
      assertRefused(await s.request('POST', body.resourceType, { body }), path, JSON.stringify(body));
    }
    assert.equal((await s.request('POST', 'Patient', { body: { resourceType: 'Patient', birthDate: '2024-02-29' } })).status, 201, 'a leap day is a day');
    const leap = await s.request('POST', 'Observation', { body: { resourceType: 'Observation', status: 'final', code: { text: 'leap-second' }, effectiveDateTime: '2016-12-31T23:59:60Z' } });
    assert.equal(leap.status, 201, JSON.stringify(leap.body));
    assert.equal(leap.body.effectiveDateTime, '2016-12-31T23:59:60Z', 'stored as written');
    for (const query of ['date=2016-12-31', 'date=2016-12-31T23:59:60Z', 'date=lt2017-01-01T00:00:00Z']) {
      const found = await s.request('GET', `Observation?code:text=leap-second&${query}`);
      assert.equal(found.body.total ?? found.body.entry?.length, 1, `${query}: ${JSON.stringify(found.body).slice(0, 300)}`);
    }
    const next = await s.request('GET', 'Observation?code:text=leap-second&date=2017-01-01');
    assert.equal(next.body.entry?.length ?? 0, 0, 'not the next day');
  });

  test('operations: a null, list or object where FHIR JSON has none is a 400 naming it, not a 500', async () => {
    const patient = (await s.request('POST', 'Patient', { body: { resourceType: 'Patient', name: [{ family: 'Ops' }] } })).body;
    for (const path of ['Patient/$validate', `Patient/${patient.id}/$meta-add`, `Patient/${patient.id}/$meta-delete`]) {
      assertRefused(await s.request('POST', path, { body: { resourceType: 'Parameters', parameter: [null] } }), 'Parameters.parameter[0]', path);
      assertRefused(await s.request('POST', path, { body: { resourceType: 'Parameters', parameter: [{ name: 'x', valueUri: {} }] } }), 'Parameters.parameter[0].valueUri', path);
      assertRefused(await s.request('POST', path, { body: { resourceType: 'Parameters', parameter: [{ name: 'x', part: [{ name: 'y', valueString: ['a'] }] }] } }), 'Parameters.parameter[0].part[0].valueString', path);
      // A JSON type other than the value[x]'s was read as the value ("5" as 5, "true" as true).
      assertRefused(await s.request('POST', path, { body: { resourceType: 'Parameters', parameter: [{ name: 'x', valueInteger: '5' }] } }), 'Parameters.parameter[0].valueInteger', path);
    }
    // $validate still answers a resource's own faults as issues of a 200, as FHIR defines it.
    const validated = await s.request('POST', 'Patient/$validate', { body: { resourceType: 'Parameters', parameter: [{ name: 'resource', resource: { resourceType: 'Patient', gender: {} } }] } });
    assert.ok(validated.status < 500);
    assert.ok(paths(validated.body).includes('Patient.gender'), JSON.stringify(validated.body));
  });

  test("a transaction's envelope: a list or object in fullUrl, request, search or meta is a 400 naming it", async () => {
    const entry = (extra: Json) => ({ resource: { resourceType: 'Patient', name: [{ family: 'Envelope' }] }, request: { method: 'POST', url: 'Patient' }, ...extra });
    for (const [bundle, path] of [
      [{ entry: [entry({ fullUrl: {} })] }, 'Bundle.entry[0].fullUrl'],
      [{ entry: [entry({ request: { method: 'PUT', url: 'Patient/e1', ifMatch: {} } })] }, 'Bundle.entry[0].request.ifMatch'],
      [{ entry: [entry({ search: { mode: {} } })] }, 'Bundle.entry[0].search.mode'],
      [{ entry: [entry({ _fullUrl: {} })] }, 'Bundle.entry[0]._fullUrl'],
      [{ meta: { lastUpdated: {} }, entry: [entry({})] }, 'Bundle.meta.lastUpdated'],
      [{ entry: [null] }, 'Bundle.entry[0]'],
    ] as Array<[Json, string]>) {
      for (const type of ['transaction', 'batch']) {
        assertRefused(await s.request('POST', '', { body: { resourceType: 'Bundle', type, ...bundle } }), path, `${type} ${JSON.stringify(bundle).slice(0, 120)}`);
      }
    }
    assert.equal((await s.request('GET', 'Patient?family=Envelope')).body.total, 0);
  });
});

describe('FHIR JSON shapes in the registries: checked before their write rules and operations read the resource', () => {
  let cr: RegistryUnderTest;
  let cs: CareServicesUnderTest;
  before(async () => {
    cr = await startRegistry('pglite');
    cs = await startCareServices('pglite');
  });
  after(async () => {
    await cr?.close();
    await cs?.close();
  });

  test('client registry: Patient writes, $match, $ihe-pix', async () => {
    for (const [body, path] of [
      [{ resourceType: 'Patient', identifier: [null] }, 'Patient.identifier[0]'],
      [{ resourceType: 'Patient', link: { other: { reference: 'Patient/x' }, type: 'seealso' } }, 'Patient.link'],
      [{ resourceType: 'Patient', identifier: [{ system: {}, value: 'N1' }] }, 'Patient.identifier[0].system'],
    ] as Array<[Json, string]>) {
      assertRefused(await cr.request('POST', 'Patient', body), path, JSON.stringify(body));
    }
    const match = (resource: Json) => cr.request('POST', 'Patient/$match', { resourceType: 'Parameters', parameter: [{ name: 'resource', resource }] });
    assertRefused(await match({ resourceType: 'Patient', identifier: { system: 'http://moh/nid', value: 'N1' } }), 'Patient.identifier', '$match identifier object');
    assertRefused(await match({ resourceType: 'Patient', identifier: [null] }), 'Patient.identifier[0]', '$match identifier null');
    assertRefused(await match({ resourceType: 'Patient', name: [{ family: {} }] }), 'Patient.name[0].family', '$match family object');
    assertRefused(await cr.request('POST', 'Patient/$ihe-pix', { resourceType: 'Parameters', parameter: [{ name: 'targetSystem', valueUri: {} }] }), 'Parameters.parameter[0].valueUri', '$ihe-pix');
    assertRefused(await cr.request('POST', 'Patient/$ihe-pix', { resourceType: 'Parameters', parameter: [{ name: 'sourceIdentifier', valueIdentifier: { system: 'urn:x', value: ['N1'] } }] }), 'Parameters.parameter[0].valueIdentifier.value', '$ihe-pix list');
  });

  test('care services (mCSD): Location and Organization writes', async () => {
    for (const [body, path] of [
      [{ resourceType: 'Location', name: 'x', partOf: { reference: {} } }, 'Location.partOf.reference'],
      [{ resourceType: 'Location', name: 'x', managingOrganization: { reference: [] } }, 'Location.managingOrganization'], // nothing in it but an empty list (ele-1)
      [{ resourceType: 'Location', name: 'x', managingOrganization: { reference: ['Organization/a'] } }, 'Location.managingOrganization.reference'],
      [{ resourceType: 'Location', name: 'x', position: { latitude: {}, longitude: 1 } }, 'Location.position.latitude'],
      [{ resourceType: 'Location', name: 'x', position: [{ latitude: 1, longitude: 1 }] }, 'Location.position'],
      [{ resourceType: 'Organization', name: 'x', partOf: { reference: ['Organization/a'] } }, 'Organization.partOf.reference'],
    ] as Array<[Json, string]>) {
      assertRefused(await requestJson(`${cs.direct}/${body.resourceType}`, 'POST', body), path, JSON.stringify(body));
    }
  });
});
