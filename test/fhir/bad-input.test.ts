import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testDrivers } from '../support/databases.js';
import { startFhirServer, type FhirTestServer, type FhirReply } from './support.js';

function assertOutcome(reply: FhirReply, status: number): void {
  assert.equal(reply.status, status, JSON.stringify(reply.body));
  assert.equal(reply.body?.resourceType, 'OperationOutcome');
  assert.ok(reply.body.issue[0].diagnostics);
}

for (const driver of testDrivers) {
  describe(`FHIR bad input gets a 4xx OperationOutcome (${driver})`, () => {
    let s: FhirTestServer;
    before(async () => {
      s = await startFhirServer(driver, { bodyLimit: 64 * 1024 });
    });
    after(async () => {
      await s.close();
    });

    test('malformed JSON, non-object bodies and missing or wrong resourceType', async () => {
      assertOutcome(await s.request('POST', 'Patient', { raw: '{"resourceType": "Patient",' }), 400);
      assertOutcome(await s.request('POST', 'Patient', { raw: '[1,2,3]' }), 400);
      assertOutcome(await s.request('POST', 'Patient', { raw: '"text"' }), 400);
      assertOutcome(await s.request('POST', 'Patient', { body: { name: [] } }), 400);
      assertOutcome(await s.request('POST', 'Patient', { body: { resourceType: 'Observation', status: 'final', code: { text: 'x' } } }), 400);
      assertOutcome(await s.request('POST', 'Patient', { body: { resourceType: 'NotAType' } }), 400);
      assertOutcome(await s.request('POST', 'Patient', { body: { resourceType: 'Patient', gender: 42 } }), 400);
    });

    test('bytes that are not UTF-8: 415 for a type the server does not take (a Binary takes its content), 400 for a FHIR body; never a length mismatch', async () => {
      const bytes = Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, ...Buffer.from('tail')]);
      // A Binary takes its own content as is (binary.html); another type does not.
      const pdf = await s.request('POST', 'Patient', { raw: bytes, headers: { 'content-type': 'application/pdf' } });
      assertOutcome(pdf, 415);
      assert.equal((await s.request('POST', 'Binary', { raw: bytes, headers: { 'content-type': 'application/pdf', accept: 'application/fhir+json' } })).status, 201);
      const fhir = await s.request('POST', 'Patient', { raw: bytes, headers: { 'content-type': 'application/fhir+json' } });
      assertOutcome(fhir, 400);
      assert.match(JSON.stringify(fhir.body), /UTF-8/);
      const bom = await s.request('POST', 'Patient', { raw: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"resourceType":"Patient"}')]), headers: { 'content-type': 'application/fhir+json' } });
      assert.equal(bom.status, 201, 'a UTF-8 byte order mark is not an error');
    });

    test('a query or form with %-escaped bytes that are not UTF-8 is a 400 (not a search for U+FFFD); UTF-8 escapes are read', async () => {
      assertOutcome(await s.request('GET', 'Patient?name=%FF'), 400);
      assertOutcome(await s.request('GET', 'Patient?family=Ren%C3%A9%E9'), 400);
      assertOutcome(await s.request('POST', 'Patient/_search', { raw: 'name=%C3', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 400);
      assert.equal((await s.request('POST', 'Patient', { body: { resourceType: 'Patient', name: [{ family: 'René' }] } })).status, 201);
      const found = await s.request('GET', 'Patient?family:exact=Ren%C3%A9&bad=%zz');
      assert.equal(found.status, 200, JSON.stringify(found.body));
      assert.equal(found.body.entry.filter((e: { resource: { resourceType: string } }) => e.resource.resourceType === 'Patient').length, 1);
    });

    test('a reference to a type the element does not allow is refused, naming the element', async () => {
      const observation = { resourceType: 'Observation', status: 'final', code: { text: 'weight' } };
      const refused = await s.request('POST', 'Observation', { body: { ...observation, subject: { reference: 'Medication/1' } } });
      assertOutcome(refused, 400);
      assert.match(JSON.stringify(refused.body), /Observation\.subject/);
      const allowed = await s.request('POST', 'Observation', { body: { ...observation, subject: { reference: 'Patient/1' } } });
      assert.equal(allowed.status, 201, JSON.stringify(allowed.body));
      const elsewhere = await s.request('POST', 'Observation', { body: { ...observation, subject: { reference: 'https://other.example/fhir/Patient/9' } } });
      assert.equal(elsewhere.status, 201, 'absolute references to other servers are not second-guessed');
    });

    test('invalid ids and unknown types', async () => {
      assertOutcome(await s.request('GET', `Patient/${'x'.repeat(65)}`), 400);
      assertOutcome(await s.request('GET', 'Patient/bad%20id'), 400);
      assertOutcome(await s.request('PUT', 'Patient/a_b', { body: { resourceType: 'Patient', id: 'a_b' } }), 400);
      assertOutcome(await s.request('GET', 'Unicorn/1'), 404);
      assertOutcome(await s.request('POST', 'Unicorn', { body: { resourceType: 'Unicorn' } }), 404);
      assertOutcome(await s.request('GET', 'Patient/1/_history/abc'), 404);
      assertOutcome(await s.request('GET', 'Patient/1/2/3/4/5'), 404);
      assertOutcome(await s.request('DELETE', '_history'), 405);
      // An encoded slash is not a path separator (the router refuses it too).
      assertOutcome(await s.request('GET', 'Patient/p1%2FObservation'), 400);
      assertOutcome(await s.request('GET', 'Patient%2fp1'), 400);
    });

    test('a method FHIR does not use (OPTIONS, PROPFIND) is a 405 OperationOutcome with Allow, in the format asked for', async () => {
      for (const [method, path] of [['OPTIONS', 'Patient'], ['PROPFIND', 'Patient/1'], ['OPTIONS', '']]) {
        const reply = await s.request(method, path);
        assertOutcome(reply, 405);
        assert.equal(reply.headers.get('allow'), 'GET, HEAD, POST, PUT, PATCH, DELETE');
        assert.match(reply.headers.get('content-type') ?? '', /application\/fhir\+json/);
      }
      const xml = await fetch(`${s.base}/Patient`, { method: 'OPTIONS', headers: { accept: 'application/fhir+xml' } });
      assert.equal(xml.status, 405);
      assert.match(await xml.text(), /^<\?xml[^>]*><OperationOutcome xmlns="http:\/\/hl7.org\/fhir">/);
    });

    test('a FHIR method a path does not take is a 405 with Allow naming the methods it takes (RFC 9110 15.5.6)', async () => {
      const cases: Array<[string, string, string]> = [
        ['POST', 'Patient/p1', 'GET, HEAD, PUT, PATCH, DELETE'],
        ['DELETE', '_history', 'GET, HEAD'],
        ['PUT', 'Patient/p1/_history/1', 'GET, HEAD'],
        ['DELETE', 'Patient/_history', 'GET, HEAD'],
      ];
      for (const [method, path, allow] of cases) {
        const reply = await s.request(method, path, method === 'GET' ? {} : { body: { resourceType: 'Patient', id: 'p1' } });
        assertOutcome(reply, 405);
        assert.equal(reply.headers.get('allow'), allow, `${method} ${path}`);
      }
      // An operation that changes data takes POST only.
      const metaAdd = await s.request('GET', 'Patient/p1/$meta-add');
      assertOutcome(metaAdd, 405);
      assert.equal(metaAdd.headers.get('allow'), 'POST');
    });

    test('bodies over the limit, deep nesting and NUL characters', async () => {
      const big = { resourceType: 'Patient', name: [{ family: 'x'.repeat(70 * 1024) }] };
      assertOutcome(await s.request('POST', 'Patient', { body: big }), 413);
      const deep = '{"resourceType":"Patient","extension":' + '['.repeat(5000) + ']'.repeat(5000) + '}';
      assertOutcome(await s.request('POST', 'Patient', { raw: deep }), 400);
      assertOutcome(await s.request('POST', 'Patient', { raw: '{"resourceType":"Patient","gender":"ma\\u0000le"}' }), 400);
      assertOutcome(await s.request('POST', 'Patient', { raw: '{"resourceType":"Patient","name":[{"family":"\\ud800x"}]}' }), 400);
    });

    test('content negotiation: 406 for formats we do not speak, 415 for bodies we cannot read', async () => {
      assertOutcome(await s.request('GET', 'metadata', { headers: { accept: 'application/pdf' } }), 406);
      assertOutcome(await s.request('GET', 'metadata?_format=turtle'), 406);
      assert.equal((await s.request('GET', 'metadata?_format=json')).status, 200);
      assert.equal((await s.request('GET', 'metadata', { headers: { accept: 'application/json' } })).status, 200);
      assert.equal((await s.request('GET', 'metadata', { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } })).status, 200);
      assertOutcome(await s.request('POST', 'Patient', { raw: 'Patient', headers: { 'content-type': 'text/plain' } }), 415);
    });

    test('bad search syntax and unknown parameters under strict handling', async () => {
      assertOutcome(await s.request('GET', 'Patient?birthdate=notadate'), 400);
      assertOutcome(await s.request('GET', 'Observation?value-quantity=abc'), 400);
      assertOutcome(await s.request('GET', 'Patient?_count=-1'), 400);
      assertOutcome(await s.request('GET', 'Patient?_sort=nonsense', { headers: { prefer: 'handling=strict' } }), 400);
      assertOutcome(await s.request('GET', 'Patient?_include=Patient'), 400);
      assertOutcome(await s.request('GET', 'Patient?gender:contains=x'), 400);
      assertOutcome(await s.request('GET', 'Patient?unknown-param=1', { headers: { prefer: 'handling=strict' } }), 400);
      const lenient = await s.request('GET', 'Patient?unknown-param=1', { headers: { prefer: 'handling=lenient' } });
      assert.equal(lenient.status, 200);
      assert.ok(!lenient.body.link[0].url.includes('unknown-param'));
      assertOutcome(await s.request('GET', 'Patient?_has:Observation:nope:code=1'), 400);
      assertOutcome(await s.request('GET', 'Patient?name=a%00b'), 400);
      assertOutcome(await s.request('GET', 'Observation?value-quantity=1e400'), 400);
      assertOutcome(await s.request('GET', 'Patient?general-practitioner.nothing=1'), 400);
      // A result parameter that takes one value, given twice: which was meant is not guessed.
      for (const query of ['_count=1&_count=2', '_summary=true&_summary=false', '_total=none&_total=accurate', '_elements=id&_elements=name']) {
        assertOutcome(await s.request('GET', `Patient?${query}`), 400);
      }
      assert.equal((await s.request('GET', 'Patient?_sort=gender&_sort=birthdate&_include=Patient:organization&_include=Patient:general-practitioner')).status, 200, 'lists may repeat');
    });

    test('a failed transaction leaves nothing behind', async () => {
      const reply = await s.request('POST', '', {
        body: {
          resourceType: 'Bundle', type: 'transaction', entry: [
            { resource: { resourceType: 'Patient', name: [{ family: 'Rollback' }] }, request: { method: 'POST', url: 'Patient' } },
            { resource: { resourceType: 'Patient', birthDate: 'bad' }, request: { method: 'POST', url: 'Patient' } },
          ],
        },
      });
      assertOutcome(reply, 400);
      const search = await s.request('GET', 'Patient?family=Rollback');
      assert.equal(search.body.entry?.length ?? 0, 0);
    });

    test('concurrent conflicting updates: exactly one wins with If-Match, the others get 412', async () => {
      const created = await s.request('POST', 'Patient', { body: { resourceType: 'Patient', name: [{ family: 'Race' }] } });
      const id = created.body.id;
      const replies = await Promise.all([1, 2, 3, 4].map((n) =>
        s.request('PUT', `Patient/${id}`, { body: { ...created.body, name: [{ family: `Race${n}` }] }, headers: { 'if-match': 'W/"1"' } })));
      const statuses = replies.map((r) => r.status).sort();
      assert.deepEqual(statuses, [200, 412, 412, 412]);
      const history = await s.request('GET', `Patient/${id}/_history`);
      assert.equal(history.body.total, 2);
    });

    test('concurrent update-as-create of one new id: one creates, none fails with a 500', async () => {
      const replies = await Promise.all([1, 2, 3, 4].map((n) =>
        s.request('PUT', 'Patient/race-new-id', { body: { resourceType: 'Patient', id: 'race-new-id', name: [{ family: `New${n}` }] } })));
      const statuses = replies.map((r) => r.status);
      assert.ok(statuses.every((status) => status === 200 || status === 201 || status === 409), statuses.join());
      assert.equal(statuses.filter((status) => status === 201).length, 1);
      for (const reply of replies.filter((r) => r.status === 409)) assert.equal(reply.body.resourceType, 'OperationOutcome');
    });

    test('concurrent conditional creates create one resource', async () => {
      const body = { resourceType: 'Patient', identifier: [{ system: 'urn:race', value: 'one' }] };
      const replies = await Promise.all([1, 2, 3].map(() =>
        s.request('POST', 'Patient', { body, headers: { 'if-none-exist': 'identifier=urn:race|one' } })));
      assert.deepEqual(replies.map((r) => r.status).sort(), [200, 200, 201]);
      const found = await s.request('GET', 'Patient?identifier=urn:race|one');
      assert.equal((found.body.entry?.length ?? 0), 1);
    });
  });
}
