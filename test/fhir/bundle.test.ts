import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testDrivers } from '../support/databases.js';
import { startFhirServer, type FhirTestServer } from './support.js';
import { preparedIndexOf } from '../../src/fhir/repository.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

for (const driver of testDrivers) {
  describe(`FHIR batch and transaction bundles (${driver})`, () => {
    let s: FhirTestServer;
    before(async () => {
      s = await startFhirServer(driver);
    });
    after(async () => {
      await s.close();
    });

    test('transaction resolves urn:uuid references between new resources and answers in entry order', async () => {
      const reply = await s.request('POST', '', {
        body: {
          resourceType: 'Bundle', type: 'transaction', entry: [
            {
              fullUrl: 'urn:uuid:0b0c6a1e-0000-4000-8000-000000000002',
              resource: { resourceType: 'Observation', status: 'final', code: { text: 'weight' }, subject: { reference: 'urn:uuid:0b0c6a1e-0000-4000-8000-000000000001' } },
              request: { method: 'POST', url: 'Observation' },
            },
            {
              fullUrl: 'urn:uuid:0b0c6a1e-0000-4000-8000-000000000001',
              resource: { resourceType: 'Patient', name: [{ family: 'Linked' }], identifier: [{ system: 'urn:tx', value: 'p1' }] },
              request: { method: 'POST', url: 'Patient', ifNoneExist: 'identifier=urn:tx|p1' },
            },
          ],
        },
      });
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assert.equal(reply.body.type, 'transaction-response');
      const [obsEntry, patientEntry] = reply.body.entry;
      assert.equal(obsEntry.response.status, '201 Created');
      assert.equal(patientEntry.response.status, '201 Created');
      const patientId = patientEntry.resource.id;
      assert.equal(obsEntry.resource.subject.reference, `Patient/${patientId}`);
      const search = await s.request('GET', `Observation?subject=Patient/${patientId}`);
      assert.equal((search.body.entry?.length ?? 0), 1);
    });

    test('transaction replaces placeholders in uri-typed elements and narrative links, not in strings (http.html#trules)', async () => {
      const binaryUrl = 'urn:uuid:0b0c6a1e-0000-4000-8000-0000000000b1';
      const patientUrl = 'urn:uuid:0b0c6a1e-0000-4000-8000-0000000000b2';
      const reply = await s.request('POST', '', {
        body: {
          resourceType: 'Bundle', type: 'transaction', entry: [
            {
              fullUrl: 'urn:uuid:0b0c6a1e-0000-4000-8000-0000000000b3',
              resource: {
                resourceType: 'DocumentReference', status: 'current',
                text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml"><a href="${patientUrl}">patient</a> <img src='${binaryUrl}' alt="scan"/></div>` },
                masterIdentifier: { system: 'urn:ietf:rfc:3986', value: binaryUrl },
                subject: { reference: patientUrl },
                content: [{ attachment: { contentType: 'text/plain', url: binaryUrl } }],
              },
              request: { method: 'POST', url: 'DocumentReference' },
            },
            { fullUrl: binaryUrl, resource: { resourceType: 'Binary', contentType: 'text/plain', data: 'aGk=' }, request: { method: 'POST', url: 'Binary' } },
            {
              fullUrl: patientUrl,
              resource: {
                resourceType: 'Patient', extension: [{ url: 'http://example.org/source', valueUri: binaryUrl }, { url: binaryUrl, valueString: 'x' }, { url: 'http://example.org/note', valueReference: { reference: '#c1' } }],
                identifier: [{ system: binaryUrl, value: '1' }], contained: [{ resourceType: 'Basic', id: 'c1', code: { text: 'x' }, implicitRules: binaryUrl }],
              },
              request: { method: 'POST', url: 'Patient' },
            },
          ],
        },
      });
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      const [document, binary, patient] = (reply.body.entry ?? []).map((entry: Json) => entry.resource);
      const binaryRef = `Binary/${binary.id}`;
      const patientRef = `Patient/${patient.id}`;
      assert.equal(document.content[0].attachment.url, binaryRef, 'Attachment.url is a url');
      assert.equal(document.masterIdentifier.value, binaryUrl, 'Identifier.value is a string: left alone');
      assert.equal(document.masterIdentifier.system, 'urn:ietf:rfc:3986');
      assert.match(document.text.div, new RegExp(`<a href="${patientRef}">`));
      assert.match(document.text.div, new RegExp(`<img src='${binaryRef}'`));
      assert.equal(patient.extension[0].valueUri, binaryRef, 'a choice element of type uri');
      assert.equal(patient.contained[0].implicitRules, binaryRef, 'inside a contained resource');
      assert.equal(patient.extension[1].url, binaryUrl, 'an extension\'s url is its identity, not a link');
      assert.equal(patient.identifier[0].system, binaryUrl, 'an identifier system is a namespace, not a link');
      const read = await s.request('GET', `DocumentReference/${document.id}`);
      assert.equal(read.body.content[0].attachment.url, binaryRef);
    });

    test('conditional create and conditional references inside a transaction reuse existing resources', async () => {
      const reply = await s.request('POST', '', {
        body: {
          resourceType: 'Bundle', type: 'transaction', entry: [
            {
              fullUrl: 'urn:uuid:0b0c6a1e-0000-4000-8000-000000000003',
              resource: { resourceType: 'Patient', identifier: [{ system: 'urn:tx', value: 'p1' }] },
              request: { method: 'POST', url: 'Patient', ifNoneExist: 'identifier=urn:tx|p1' },
            },
            {
              resource: { resourceType: 'Encounter', status: 'finished', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' }, subject: { reference: 'Patient?identifier=urn:tx|p1' } },
              request: { method: 'POST', url: 'Encounter' },
            },
          ],
        },
      });
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assert.equal(reply.body.entry[0].response.status, '200 OK');
      const patients = await s.request('GET', 'Patient?identifier=urn:tx|p1');
      assert.equal((patients.body.entry?.length ?? 0), 1);
      assert.equal(reply.body.entry[1].resource.subject.reference, `Patient/${patients.body.entry[0].resource.id}`);
    });

    test('PUTs in a transaction create, update and revive as one by one, whichever way they are written', async () => {
      const tag = `put${Date.now()}`;
      const put = (id: string, family: string, extra: Record<string, unknown> = {}) => ({
        fullUrl: `Patient/${id}`, resource: { resourceType: 'Patient', id, name: [{ family }] }, request: { method: 'PUT', url: `Patient/${id}`, ...extra },
      });
      assert.equal((await s.request('PUT', `Patient/${tag}-old`, { body: { resourceType: 'Patient', id: `${tag}-old`, name: [{ family: 'Before' }] } })).status, 201);
      assert.equal((await s.request('PUT', `Patient/${tag}-gone`, { body: { resourceType: 'Patient', id: `${tag}-gone`, name: [{ family: 'Gone' }] } })).status, 201);
      assert.equal((await s.request('DELETE', `Patient/${tag}-gone`)).status, 204);
      const reply = await s.request('POST', '', {
        body: {
          resourceType: 'Bundle', type: 'transaction', entry: [
            put(`${tag}-new1`, 'One'),
            put(`${tag}-old`, 'After'),
            put(`${tag}-gone`, 'Back'),
            { ...put(`${tag}-new2`, 'Two'), resource: { resourceType: 'Patient', id: `${tag}-new2`, name: [{ family: 'Two' }], managingOrganization: { reference: `Organization/${tag}-org` } } },
            { fullUrl: `Organization/${tag}-org`, resource: { resourceType: 'Organization', id: `${tag}-org`, name: 'Clinic' }, request: { method: 'PUT', url: `Organization/${tag}-org` } },
          ],
        },
      });
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assert.deepEqual(reply.body.entry.map((e: Json) => [e.response.status, e.resource.meta.versionId]),
        [['201 Created', '1'], ['200 OK', '2'], ['201 Created', '3'], ['201 Created', '1'], ['201 Created', '1']]);
      // Each created resource's history records the PUT that created it, as a PUT outside a bundle does.
      const history = await s.request('GET', `Patient/${tag}-new1/_history`);
      assert.deepEqual(history.body.entry.map((e: Json) => [e.request.method, e.request.url, e.response.status]), [['PUT', `Patient/${tag}-new1`, '201']]);
      assert.equal((await s.request('GET', `Patient?organization=Organization/${tag}-org`)).body.entry?.length, 1, 'indexed with the others');
      // The update's index rows replace the old version's.
      assert.equal((await s.request('GET', `Patient?_id=${tag}-old&family=After`)).body.entry?.length, 1);
      assert.equal((await s.request('GET', `Patient?_id=${tag}-old&family=Before`)).body.entry, undefined);
      const updated = await s.request('GET', `Patient/${tag}-old/_history`);
      assert.deepEqual(updated.body.entry.map((e: Json) => [e.request.method, e.response.status, e.resource.name[0].family]), [['PUT', '200', 'After'], ['PUT', '201', 'Before']]);
      // A PUT whose body names another id is refused as outside a bundle (400), and nothing is saved.
      const wrong = await s.request('POST', '', {
        body: { resourceType: 'Bundle', type: 'transaction', entry: [put(`${tag}-new3`, 'Three'), { ...put(`${tag}-new4`, 'Four'), resource: { resourceType: 'Patient', id: 'other', name: [{ family: 'Four' }] } }] },
      });
      assert.equal(wrong.status, 400, JSON.stringify(wrong.body));
      assert.equal((await s.request('GET', `Patient/${tag}-new3`)).status, 404);
    });

    test('a create whose id was taken meanwhile (a concurrent request) is a 409 naming that resource, and nothing is written', async () => {
      const tag = `taken${Date.now()}`;
      assert.equal((await s.request('PUT', `Patient/${tag}-b`, { body: { resourceType: 'Patient', id: `${tag}-b` } })).status, 201);
      // What a PUT-create of a transaction meets when another request created its id after the check.
      const repo = s.engine.repository();
      const prepared = [`${tag}-a`, `${tag}-b`, `${tag}-c`].map((id) => repo.prepareCreate('Patient', id, { resourceType: 'Patient', id }));
      await assert.rejects(repo.insertPrepared(prepared, ['update-create', 'update-create', 'update-create']), (error: Json) => {
        assert.equal(error.status, 409);
        assert.match(error.message, new RegExp(`Patient/${tag}-b was created by a concurrent request`));
        assert.equal(preparedIndexOf(error), 1, 'the transaction names the entry at fault');
        return true;
      });
      assert.equal((await s.request('GET', `Patient/${tag}-a`)).status, 404);
    });

    test('transaction entries run DELETE, POST, PUT, GET in that order', async () => {
      const existing = await s.request('POST', 'Patient', { body: { resourceType: 'Patient', name: [{ family: 'Doomed' }] } });
      const reply = await s.request('POST', '', {
        body: {
          resourceType: 'Bundle', type: 'transaction', entry: [
            { request: { method: 'GET', url: 'Patient?family=Ordered' } },
            { resource: { resourceType: 'Patient', id: 'ordered-put', name: [{ family: 'Ordered' }] }, request: { method: 'PUT', url: 'Patient/ordered-put' } },
            { resource: { resourceType: 'Patient', name: [{ family: 'Ordered' }] }, request: { method: 'POST', url: 'Patient' } },
            { request: { method: 'DELETE', url: `Patient/${existing.body.id}` } },
          ],
        },
      });
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assert.equal(reply.body.entry[0].resource.entry.length, 2, 'the GET sees both writes');
      assert.equal(reply.body.entry[3].response.status, '204 No Content');
      assert.equal((await s.request('GET', `Patient/${existing.body.id}`)).status, 410);
    });

    test('a conditional reference with no match fails the whole transaction', async () => {
      const reply = await s.request('POST', '', {
        body: {
          resourceType: 'Bundle', type: 'transaction', entry: [
            { resource: { resourceType: 'Patient', name: [{ family: 'NeverSaved' }] }, request: { method: 'POST', url: 'Patient' } },
            { resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient?identifier=urn:none|0' } }, request: { method: 'POST', url: 'Observation' } },
          ],
        },
      });
      assert.equal(reply.status, 412);
      assert.equal(reply.body.resourceType, 'OperationOutcome');
      assert.equal((await s.request('GET', 'Patient?family=NeverSaved')).body.entry?.length ?? 0, 0);
    });

    test('a POST entry whose url carries search parameters is refused (a condition goes in ifNoneExist), not a create that ignores them', async () => {
      const transaction = await s.request('POST', '', {
        body: { resourceType: 'Bundle', type: 'transaction', entry: [
          { resource: { resourceType: 'Patient', name: [{ family: 'QueryPost' }] }, request: { method: 'POST', url: 'Patient?identifier=urn:q|1' } },
        ] },
      });
      assert.equal(transaction.status, 400, JSON.stringify(transaction.body));
      assert.match(transaction.body.issue[0].diagnostics, /ifNoneExist/);
      const batch = await s.request('POST', '', {
        body: { resourceType: 'Bundle', type: 'batch', entry: [
          { resource: { resourceType: 'Patient', name: [{ family: 'QueryPost' }] }, request: { method: 'POST', url: 'Patient?identifier=urn:q|1' } },
          { resource: { resourceType: 'Patient', name: [{ family: 'QueryPost' }] }, request: { method: 'POST', url: 'Patient?_format=json' } },
        ] },
      });
      assert.deepEqual(batch.body.entry.map((e: Json) => e.response.status), ['400 Bad Request', '201 Created']);
      assert.equal(((await s.request('GET', 'Patient?family=QueryPost')).body.entry?.length ?? 0), 1);
    });

    test('batch entries succeed or fail independently', async () => {
      const reply = await s.request('POST', '', {
        body: {
          resourceType: 'Bundle', type: 'batch', entry: [
            { resource: { resourceType: 'Patient', name: [{ family: 'BatchOk' }] }, request: { method: 'POST', url: 'Patient' } },
            { resource: { resourceType: 'Patient', birthDate: 'nope' }, request: { method: 'POST', url: 'Patient' } },
            { request: { method: 'GET', url: 'Patient/does-not-exist' } },
            { request: { url: 'Patient' } },
          ],
        },
      });
      assert.equal(reply.status, 200);
      assert.equal(reply.body.type, 'batch-response');
      const statuses = (reply.body.entry ?? []).map((e: Json) => e.response.status);
      assert.deepEqual(statuses, ['201 Created', '400 Bad Request', '404 Not Found', '400 Bad Request']);
      assert.equal(reply.body.entry[1].response.outcome.resourceType, 'OperationOutcome');
      assert.equal(((await s.request('GET', 'Patient?family=BatchOk')).body.entry?.length ?? 0), 1);
    });

    test('a Bundle a transaction stores keeps its own urn:uuid fullUrls and the references between its entries (bundle.html#references)', async () => {
      const inner = (n: number) => `urn:uuid:0b0c6a1e-0000-4000-8000-0000000001${String(n).padStart(2, '0')}`;
      const outerPatient = 'urn:uuid:0b0c6a1e-0000-4000-8000-000000000200';
      const collection = {
        resourceType: 'Bundle', type: 'collection', entry: [
          { fullUrl: inner(1), resource: { resourceType: 'Patient', active: true } },
          { fullUrl: inner(2), resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: inner(1) }, focus: [{ reference: outerPatient }] } },
        ],
      };
      const reply = await s.request('POST', '', {
        body: {
          resourceType: 'Bundle', type: 'transaction', entry: [
            { resource: collection, request: { method: 'POST', url: 'Bundle' } },
            { fullUrl: outerPatient, resource: { resourceType: 'Patient', active: false }, request: { method: 'POST', url: 'Patient' } },
            // The same fullUrl as the stored Bundle's first entry: inside that Bundle, its own entry is meant.
            { fullUrl: inner(1), resource: { resourceType: 'Patient', gender: 'male' }, request: { method: 'POST', url: 'Patient' } },
          ],
        },
      });
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      const stored = (await s.request('GET', `Bundle/${reply.body.entry[0].resource.id}`)).body;
      const patientId = reply.body.entry[1].resource.id;
      assert.deepEqual(stored.entry.map((e: Json) => e.fullUrl), [inner(1), inner(2)], 'its fullUrls are its own');
      assert.equal(stored.entry[1].resource.subject.reference, inner(1), 'a reference to its own entry stays');
      assert.equal(stored.entry[1].resource.focus[0].reference, `Patient/${patientId}`, 'one to an entry of the transaction is resolved');
      const alone = { ...collection, entry: collection.entry.map((e, i) => (i === 1 ? { ...e, resource: { ...e.resource, focus: undefined } } : e)) };
      const aloneReply = await s.request('POST', '', { body: { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: alone, request: { method: 'POST', url: 'Bundle' } }] } });
      assert.equal(aloneReply.status, 200, `its own placeholders name no entry of the transaction, and need none: ${JSON.stringify(aloneReply.body)}`);
      assert.equal(aloneReply.body.entry[0].resource.entry[1].resource.subject.reference, inner(1));
    });

    test('a response entry that holds a stored resource has its fullUrl (R4 Bundle.entry.fullUrl: "SHALL have a value")', async () => {
      await s.request('PUT', 'Patient/full-url', { body: { resourceType: 'Patient', id: 'full-url' } });
      const entries = [
        { fullUrl: 'urn:uuid:0b0c6a1e-0000-4000-8000-0000000000f1', resource: { resourceType: 'Patient', active: true }, request: { method: 'POST', url: 'Patient' } },
        { resource: { resourceType: 'Patient', id: 'full-url', active: false }, request: { method: 'PUT', url: 'Patient/full-url' } },
        { request: { method: 'GET', url: 'Patient/full-url' } },
        { request: { method: 'GET', url: 'Patient?_id=full-url' } },
      ];
      for (const type of ['transaction', 'batch']) {
        const reply = await s.request('POST', '', { body: { resourceType: 'Bundle', type, entry: entries } });
        assert.equal(reply.status, 200, JSON.stringify(reply.body));
        const [created, updated, read, searched] = reply.body.entry;
        assert.equal(created.fullUrl, `${s.base}/Patient/${created.resource.id}`, type);
        assert.equal(updated.fullUrl, `${s.base}/Patient/full-url`, type);
        assert.equal(read.fullUrl, `${s.base}/Patient/full-url`, type);
        assert.equal(searched.fullUrl, undefined, 'a search answer is a Bundle no one stored');
      }
      const minimal = await s.request('POST', '', { body: { resourceType: 'Bundle', type: 'batch', entry: entries.slice(1, 2) }, headers: { prefer: 'return=minimal' } });
      assert.equal(minimal.body.entry[0].fullUrl, undefined, 'no resource, nothing to name');
    });

    test('an entry whose request headers or fullUrl are not strings is a 400 naming them (was a 500)', async () => {
      for (const [field, value] of [['ifNoneExist', ['identifier=a']], ['ifMatch', { etag: 1 }], ['ifNoneMatch', 5], ['ifModifiedSince', true], ['fullUrl', ['urn:uuid:x']]] as const) {
        const entry: Json = { resource: { resourceType: 'Patient', name: [{ family: 'NotAString' }] }, request: { method: 'POST', url: 'Patient' } };
        if (field === 'fullUrl') entry.fullUrl = value;
        else entry.request[field] = value;
        const transaction = await s.request('POST', '', { body: { resourceType: 'Bundle', type: 'transaction', entry: [entry] } });
        assert.equal(transaction.status, 400, `${field}: ${JSON.stringify(transaction.body)}`);
        assert.match(JSON.stringify(transaction.body), new RegExp(`(entry 0: (request\\.)?${field} is a)|(Bundle\\.entry\\[0\\](\\.request)?\\.${field})`));
        // The envelope is checked before any entry runs (json-shape.ts): a batch with one is refused whole.
        const batch = await s.request('POST', '', { body: { resourceType: 'Bundle', type: 'batch', entry: [entry] } });
        assert.equal(batch.status, 400, field);
      }
      assert.equal((await s.request('GET', 'Patient?family=NotAString')).body.entry?.length ?? 0, 0, 'nothing was stored');
    });

    test('PATCH entries carry a JSON Patch in a Binary', async () => {
      const created = await s.request('POST', 'Patient', { body: { resourceType: 'Patient', gender: 'female' } });
      const patch = Buffer.from(JSON.stringify([{ op: 'replace', path: '/gender', value: 'male' }])).toString('base64');
      const reply = await s.request('POST', '', {
        body: {
          resourceType: 'Bundle', type: 'transaction', entry: [
            { resource: { resourceType: 'Binary', contentType: 'application/json-patch+json', data: patch }, request: { method: 'PATCH', url: `Patient/${created.body.id}` } },
          ],
        },
      });
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assert.equal((await s.request('GET', `Patient/${created.body.id}`)).body.gender, 'male');
    });

    test('transaction creates keep every character of their content and index', async () => {
      const family = 'O\'Brien "quoted" \\ back, {brace} [x] NULL ü 😀';
      const reply = await s.request('POST', '', {
        body: {
          resourceType: 'Bundle', type: 'transaction', entry: [
            { resource: { resourceType: 'Patient', name: [{ family, given: ['a,b'] }] }, request: { method: 'POST', url: 'Patient' } },
            { resource: { resourceType: 'Patient', name: [{ family: 'NULL' }] }, request: { method: 'POST', url: 'Patient' } },
          ],
        },
      });
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      const read = await s.request('GET', `Patient/${reply.body.entry[0].resource.id}`);
      assert.equal(read.body.name[0].family, family);
      assert.deepEqual(read.body.name[0].given, ['a,b']);
      // Search values escape backslash and comma with a backslash.
      const escaped = family.replace(/\\/g, '\\\\').replace(/,/g, '\\,');
      const found = await s.request('GET', `Patient?family:exact=${encodeURIComponent(escaped)}`);
      assert.equal((found.body.entry?.length ?? 0), 1);
      assert.equal(((await s.request('GET', 'Patient?family:exact=NULL')).body.entry?.length ?? 0), 1);
    });

    test('a bundle that is not batch or transaction is rejected', async () => {
      const reply = await s.request('POST', '', { body: { resourceType: 'Bundle', type: 'collection' } });
      assert.equal(reply.status, 400);
      assert.equal((await s.request('POST', '', { body: { resourceType: 'Patient' } })).status, 400);
    });
  });
}
