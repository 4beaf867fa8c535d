/**
 * FHIR R4 rules the engine once let pass: resource identities in a transaction (http.html#trules),
 * unique fullUrls (Bundle invariant bdl-7), unresolvable urn:uuid placeholders, placeholders and
 * conditional references in PATCH entries, relative references under an http fullUrl
 * (bundle.html#references), the response entries of writes under Prefer: return, the status of a
 * create in _history, the 32-bit range of integer types (datatypes.html#primitive), and conditional
 * references outside a transaction.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testDrivers } from '../support/databases.js';
import { startFhirServer, type FhirTestServer } from './support.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const transaction = (entry: Json[]): Json => ({ resourceType: 'Bundle', type: 'transaction', entry });
const batch = (entry: Json[]): Json => ({ resourceType: 'Bundle', type: 'batch', entry });
const put = (resource: Json, fullUrl?: string): Json => ({
  ...(fullUrl ? { fullUrl } : {}), resource, request: { method: 'PUT', url: `${resource.resourceType}/${resource.id}` },
});
const outcomeText = (body: Json): string => body.issue.map((i: Json) => `${i.details?.text ?? ''} ${i.diagnostics ?? ''}`).join(' ');

for (const driver of testDrivers) {
  describe(`FHIR R4 rules for transactions, history and integers (${driver})`, () => {
    let s: FhirTestServer;
    before(async () => {
      s = await startFhirServer(driver);
    });
    after(async () => {
      await s.close();
    });

    test('http.html#trules: two PUTs of one resource in a transaction fail the transaction, naming both entries', async () => {
      const reply = await s.request('POST', '', {
        body: transaction([put({ resourceType: 'Patient', id: 'dupput', gender: 'male' }), put({ resourceType: 'Patient', id: 'dupput', gender: 'female' })]),
      });
      assert.equal(reply.status, 400, JSON.stringify(reply.body));
      assert.equal(reply.body.resourceType, 'OperationOutcome');
      assert.match(outcomeText(reply.body), /entries 0 and 1 .*Patient\/dupput/);
      assert.equal((await s.request('GET', 'Patient/dupput')).status, 404, 'nothing was saved');
    });

    test('http.html#trules: identities resolved from conditional update and delete overlap too; reads and matched conditional creates do not', async () => {
      const existing = await s.request('PUT', 'Patient/clash1', {
        body: { resourceType: 'Patient', id: 'clash1', identifier: [{ system: 'urn:clash', value: '1' }] },
      });
      assert.equal(existing.status, 201);
      const conditionalPut = { resource: { resourceType: 'Patient', gender: 'male' }, request: { method: 'PUT', url: 'Patient?identifier=urn:clash|1' } };
      const plainPut = put({ resourceType: 'Patient', id: 'clash1', gender: 'female' });
      const reply = await s.request('POST', '', { body: transaction([plainPut, conditionalPut]) });
      assert.equal(reply.status, 400, JSON.stringify(reply.body));
      assert.match(outcomeText(reply.body), /entries 0 and 1 .*Patient\/clash1/);

      const conditionalDelete = { request: { method: 'DELETE', url: 'Patient?identifier=urn:clash|1' } };
      const deleteAndPut = await s.request('POST', '', { body: transaction([conditionalDelete, plainPut]) });
      assert.equal(deleteAndPut.status, 400, JSON.stringify(deleteAndPut.body));

      const patchEntry = {
        resource: { resourceType: 'Binary', contentType: 'application/json-patch+json', data: Buffer.from(JSON.stringify([{ op: 'add', path: '/active', value: true }])).toString('base64') },
        request: { method: 'PATCH', url: 'Patient/clash1' },
      };
      const patchAndPut = await s.request('POST', '', { body: transaction([patchEntry, plainPut]) });
      assert.equal(patchAndPut.status, 400, JSON.stringify(patchAndPut.body));
      assert.equal((await s.request('GET', 'Patient/clash1')).body.meta.versionId, '1', 'nothing was saved');

      // Reads may name a resource that an entry writes, and a create whose If-None-Exist matches
      // changes nothing: only the changes of steps 1-3 must not overlap.
      const conditionalCreate = { resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient', ifNoneExist: 'identifier=urn:clash|1' } };
      const readAndPut = await s.request('POST', '', {
        body: transaction([plainPut, { request: { method: 'GET', url: 'Patient/clash1' } }, conditionalCreate]),
      });
      assert.equal(readAndPut.status, 200, JSON.stringify(readAndPut.body));
    });

    test('bdl-7: a duplicate fullUrl refuses the bundle, a transaction or a batch; different meta.versionId is allowed', async () => {
      const u = 'urn:uuid:0b5c3c3e-8f3a-4a59-9d7e-3c1f1b0a9e11';
      const entries = [
        { fullUrl: u, resource: { resourceType: 'Patient', gender: 'male' }, request: { method: 'POST', url: 'Patient' } },
        { fullUrl: u, resource: { resourceType: 'Patient', gender: 'female' }, request: { method: 'POST', url: 'Patient' } },
        { resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: u } }, request: { method: 'POST', url: 'Observation' } },
      ];
      for (const body of [transaction(entries), batch(entries)]) {
        const reply = await s.request('POST', '', { body });
        assert.equal(reply.status, 400, JSON.stringify(reply.body));
        assert.match(outcomeText(reply.body), /bdl-7.*entries 0 and 1/);
      }
      const versioned = (versionId: string): Json => ({
        fullUrl: `${s.base}/Patient/bdl7`, resource: { resourceType: 'Patient', id: 'bdl7', meta: { versionId } }, request: { method: 'GET', url: 'Patient/bdl7' },
      });
      assert.equal((await s.request('POST', '', { body: batch([versioned('1'), versioned('2')]) })).status, 200);
      // Writes under one fullUrl are ambiguous whatever their versionId, and urn: is case-insensitive.
      const creates = [
        { fullUrl: u, resource: { resourceType: 'Patient', meta: { versionId: '1' } }, request: { method: 'POST', url: 'Patient' } },
        { fullUrl: u.toUpperCase(), resource: { resourceType: 'Patient', meta: { versionId: '2' } }, request: { method: 'POST', url: 'Patient' } },
      ];
      assert.equal((await s.request('POST', '', { body: transaction(creates) })).status, 400);
    });

    test('a PUT entry whose http fullUrl names another resource than it writes refuses the bundle (Bundle.entry.fullUrl: "SHALL NOT disagree with the id")', async () => {
      await s.request('PUT', 'Patient/fu-real', { body: { resourceType: 'Patient', id: 'fu-real', gender: 'male' } });
      // Observation's Patient/fu-real (this server's) was read as the first entry and stored as Patient/fu-other.
      const entries = [
        { fullUrl: `${s.base}/Patient/fu-real`, resource: { resourceType: 'Patient', id: 'fu-other' }, request: { method: 'PUT', url: 'Patient/fu-other' } },
        { fullUrl: `${s.base}/Observation/fu-obs`, resource: { resourceType: 'Observation', id: 'fu-obs', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/fu-real' } }, request: { method: 'PUT', url: 'Observation/fu-obs' } },
      ];
      for (const body of [transaction(entries), batch(entries.slice(0, 1))]) {
        const reply = await s.request('POST', '', { body });
        assert.equal(reply.status, 400, JSON.stringify(reply.body));
        assert.match(outcomeText(reply.body), /entry 0.*fullUrl/);
      }
      const typeDiffers = { ...entries[0], fullUrl: `${s.base}/Practitioner/fu-other` };
      assert.equal((await s.request('POST', '', { body: transaction([typeDiffers]) })).status, 400);
      const versioned = { ...entries[0], fullUrl: `${s.base}/Patient/fu-other/_history/1` };
      assert.equal((await s.request('POST', '', { body: transaction([versioned]) })).status, 400, 'a fullUrl is version-independent');
      assert.equal((await s.request('GET', 'Patient/fu-other')).status, 404, 'nothing was saved');
      assert.equal((await s.request('GET', 'Observation/fu-obs')).status, 404);
      // Agreeing, on any base (another server's entry keeps its own base), a PUT runs.
      const agreeing = { ...entries[0], fullUrl: 'https://elsewhere.example/fhir/Patient/fu-other' };
      assert.equal((await s.request('POST', '', { body: transaction([agreeing]) })).status, 200);
    });

    test('an entry URL with empty segments names the same resource: two PUTs of Patient/a and Patient/a/ overlap', async () => {
      const twice = transaction([put({ resourceType: 'Patient', id: 'slash1', gender: 'male' }), { ...put({ resourceType: 'Patient', id: 'slash1', gender: 'female' }), request: { method: 'PUT', url: 'Patient/slash1/' } }]);
      const reply = await s.request('POST', '', { body: twice });
      assert.equal(reply.status, 400, JSON.stringify(reply.body));
      assert.equal((await s.request('GET', 'Patient/slash1')).status, 404, 'nothing was saved');
    });

    test('a urn:uuid reference that names no entry of the transaction fails it; in a batch, a reference to another entry fails that entry', async () => {
      const dangling = 'urn:uuid:7f000000-0000-4000-8000-00000000dead';
      const reply = await s.request('POST', '', {
        body: transaction([{ resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: dangling } }, request: { method: 'POST', url: 'Observation' } }]),
      });
      assert.equal(reply.status, 400, JSON.stringify(reply.body));
      assert.match(outcomeText(reply.body), new RegExp(`${dangling}.*no entry`));

      // http.html#transaction: batch entries may not depend on each other; the others still run.
      const patientUrl = 'urn:uuid:7f000000-0000-4000-8000-000000000001';
      const batchReply = await s.request('POST', '', {
        body: batch([
          { fullUrl: patientUrl, resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient' } },
          { resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: patientUrl } }, request: { method: 'POST', url: 'Observation' } },
        ]),
      });
      assert.equal(batchReply.status, 200, JSON.stringify(batchReply.body));
      assert.match(batchReply.body.entry[0].response.status, /^201/);
      assert.match(batchReply.body.entry[1].response.status, /^400/);
      assert.match(outcomeText(batchReply.body.entry[1].response.outcome), /batch/);
    });

    test('a urn:uuid placeholder written in another case than its fullUrl names that entry (RFC 8141, RFC 4122)', async () => {
      const upper = 'urn:uuid:7F000000-0000-4000-8000-0000000000B1';
      const reply = await s.request('POST', '', {
        body: transaction([
          { fullUrl: upper, resource: { resourceType: 'Patient', gender: 'other' }, request: { method: 'POST', url: 'Patient' } },
          { resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: upper.toLowerCase() } }, request: { method: 'POST', url: 'Observation' } },
        ]),
      });
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      const patientId = reply.body.entry[0].response.location.split('/').slice(-3)[0];
      const observation = (await s.request('GET', `Observation/${reply.body.entry[1].response.location.split('/').slice(-3)[0]}`)).body;
      assert.equal(observation.subject.reference, `Patient/${patientId}`);
    });

    test('http.html#trules: a PATCH entry\'s urn:uuid placeholders and conditional references are resolved like a POST\'s or PUT\'s', async () => {
      const target = await s.request('POST', 'Patient', { body: { resourceType: 'Patient', identifier: [{ system: 'urn:trules', value: 'patched' }] } });
      const org = 'urn:uuid:7f000000-0000-4000-8000-0000000000a1';
      const practitioner = 'urn:uuid:7f000000-0000-4000-8000-0000000000a2';
      const add = (name: string, value: Json): Json => ({ name: 'operation', part: [
        { name: 'type', valueCode: 'add' }, { name: 'path', valueString: 'Patient' }, { name: 'name', valueString: name }, { name: 'value', ...value },
      ] });
      const jsonPatch = [
        { op: 'add', path: '/generalPractitioner', value: [{ reference: practitioner }] },
        { op: 'replace', path: '/generalPractitioner/0/reference', value: practitioner },
      ];
      const reply = await s.request('POST', '', {
        body: transaction([
          { fullUrl: org, resource: { resourceType: 'Organization', name: 'patched org' }, request: { method: 'POST', url: 'Organization' } },
          { fullUrl: practitioner, resource: { resourceType: 'Practitioner' }, request: { method: 'POST', url: 'Practitioner' } },
          { resource: { resourceType: 'Parameters', parameter: [
            add('managingOrganization', { valueReference: { reference: org } }),
            add('link', { part: [{ name: 'other', valueReference: { reference: 'Patient?identifier=urn:trules|patched' } }, { name: 'type', valueCode: 'seealso' }] }),
          ] }, request: { method: 'PATCH', url: `Patient/${target.body.id}` } },
        ]),
      });
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      const orgId = reply.body.entry[0].response.location.split('/').slice(-3)[0];
      const patched = (await s.request('GET', `Patient/${target.body.id}`)).body;
      assert.equal(patched.managingOrganization.reference, `Organization/${orgId}`);
      assert.equal(patched.link[0].other.reference, `Patient/${target.body.id}`);

      const second = await s.request('POST', '', {
        body: transaction([
          { fullUrl: practitioner, resource: { resourceType: 'Practitioner' }, request: { method: 'POST', url: 'Practitioner' } },
          { resource: { resourceType: 'Binary', contentType: 'application/json-patch+json', data: Buffer.from(JSON.stringify(jsonPatch)).toString('base64') },
            request: { method: 'PATCH', url: `Patient/${target.body.id}` } },
        ]),
      });
      assert.equal(second.status, 200, JSON.stringify(second.body));
      const practitionerId = second.body.entry[0].response.location.split('/').slice(-3)[0];
      assert.equal((await s.request('GET', `Patient/${target.body.id}`)).body.generalPractitioner[0].reference, `Practitioner/${practitionerId}`);

      // In a batch a PATCH may not depend on another entry either (http.html#transaction).
      const independent = await s.request('POST', '', {
        body: batch([
          { fullUrl: org, resource: { resourceType: 'Organization', name: 'batch org' }, request: { method: 'POST', url: 'Organization' } },
          { resource: { resourceType: 'Parameters', parameter: [add('managingOrganization', { valueReference: { reference: org } })] },
            request: { method: 'PATCH', url: `Patient/${target.body.id}` } },
        ]),
      });
      assert.match(independent.body.entry[0].response.status, /^201/);
      assert.match(independent.body.entry[1].response.status, /^400/, JSON.stringify(independent.body.entry[1]));

      // A placeholder no entry creates fails the transaction, as in a POST or PUT.
      const dangling = await s.request('POST', '', {
        body: transaction([{ resource: { resourceType: 'Parameters', parameter: [add('managingOrganization', { valueReference: { reference: 'urn:uuid:7f000000-0000-4000-8000-00000000dead' } })] },
          request: { method: 'PATCH', url: `Patient/${target.body.id}` } }]),
      });
      assert.equal(dangling.status, 400, JSON.stringify(dangling.body));
    });

    test('bundle.html#references: a relative reference in an entry whose fullUrl is an http URL names the entry with that base', async () => {
      const source = 'http://source.example.org/fhir';
      const reply = await s.request('POST', '', {
        body: transaction([
          { fullUrl: `${source}/Patient/p1`, resource: { resourceType: 'Patient', id: 'p1' }, request: { method: 'POST', url: 'Patient' } },
          { fullUrl: `${source}/Observation/o1`, resource: { resourceType: 'Observation', id: 'o1', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/p1' } },
            request: { method: 'POST', url: 'Observation' } },
          { fullUrl: 'urn:uuid:7f000000-0000-4000-8000-0000000000b1', resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/p1' } },
            request: { method: 'POST', url: 'Observation' } },
        ]),
      });
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      const patientId = reply.body.entry[0].resource.id;
      assert.notEqual(patientId, 'p1', 'a POST gets a server id');
      assert.equal(reply.body.entry[1].resource.subject.reference, `Patient/${patientId}`, 'resolved against its own fullUrl\'s base');
      assert.equal(reply.body.entry[2].resource.subject.reference, 'Patient/p1', 'an entry with a urn fullUrl refers to this server');
    });

    test('http.html#transaction-response: each write entry has status, location, etag and lastModified whatever Prefer: return asks; OperationOutcome goes in response.outcome', async () => {
      await s.request('PUT', 'Patient/prefer1', { body: { resourceType: 'Patient', id: 'prefer1', identifier: [{ system: 'urn:prefer', value: '1' }] } });
      const entries = (): Json[] => [
        { resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient' } },
        { resource: { resourceType: 'Patient', id: 'prefer1', identifier: [{ system: 'urn:prefer', value: '1' }], active: true }, request: { method: 'PUT', url: 'Patient/prefer1' } },
        { resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient', ifNoneExist: 'identifier=urn:prefer|1' } },
      ];
      for (const type of ['transaction', 'batch']) {
        for (const prefer of ['return=minimal', 'return=OperationOutcome', 'return=representation']) {
          const reply = await s.request('POST', '', { headers: { prefer }, body: { resourceType: 'Bundle', type, entry: entries() } });
          assert.equal(reply.status, 200, JSON.stringify(reply.body));
          const [created, updated, matched] = reply.body.entry;
          const what = `${type} ${prefer}`;
          assert.match(created.response.status, /^201/, what);
          assert.match(updated.response.status, /^200/, what);
          assert.match(matched.response.status, /^200/, what);
          for (const entry of reply.body.entry) {
            assert.match(entry.response.location, /\/_history\/\d+$/, what);
            assert.match(entry.response.etag, /^W\/"\d+"$/, what);
            assert.ok(entry.response.lastModified, `${what}: lastModified ${JSON.stringify(entry.response)}`);
            // The version's own instant (meta.lastUpdated), to the millisecond, whatever Prefer asks.
            const version = await s.request('GET', entry.response.location.slice(s.base.length + 1));
            assert.equal(entry.response.lastModified, version.body.meta.lastUpdated, `${what}: ${JSON.stringify(entry.response)}`);
            if (prefer === 'return=minimal') assert.equal(entry.resource, undefined, what);
            if (prefer === 'return=representation') assert.equal(entry.resource?.resourceType, 'Patient', what);
            if (prefer === 'return=OperationOutcome') {
              assert.equal(entry.resource, undefined, `${what}: ${JSON.stringify(entry)}`);
              assert.equal(entry.response.outcome?.resourceType, 'OperationOutcome', `${what}: ${JSON.stringify(entry)}`);
            }
          }
        }
      }
      // Reads: a 304 keeps its etag and lastModified; a HEAD entry has no resource.
      const reads = await s.request('POST', '', {
        body: batch([{ request: { method: 'GET', url: 'Patient/prefer1', ifNoneMatch: '*' } }, { request: { method: 'HEAD', url: 'Patient/prefer1' } }]),
      });
      assert.equal(reads.body.entry[0].response.status, '304 Not Modified');
      assert.ok(reads.body.entry[0].response.etag && reads.body.entry[0].response.lastModified, JSON.stringify(reads.body.entry[0]));
      assert.equal(reads.body.entry[0].response.lastModified, (await s.request('GET', 'Patient/prefer1')).body.meta.lastUpdated, 'a 304 entry too');
      assert.match(reads.body.entry[1].response.status, /^200/);
      assert.equal(reads.body.entry[1].resource, undefined, 'HEAD answers headers only');
    });

    test('_history shows 201 for a version created by PUT (update as create), 200 for an update', async () => {
      assert.equal((await s.request('PUT', 'Patient/putcreate', { body: { resourceType: 'Patient', id: 'putcreate' } })).status, 201);
      assert.equal((await s.request('PUT', 'Patient/putcreate', { body: { resourceType: 'Patient', id: 'putcreate', active: true } })).status, 200);
      assert.equal((await s.request('DELETE', 'Patient/putcreate')).status, 204);
      assert.equal((await s.request('PUT', 'Patient/putcreate', { body: { resourceType: 'Patient', id: 'putcreate' } })).status, 201);
      const history = await s.request('GET', 'Patient/putcreate/_history');
      const rows = (history.body.entry ?? []).map((e: Json) => `${e.request.method} ${e.response.status} ${e.response.etag}`);
      assert.deepEqual(rows, ['PUT 201 W/"4"', 'DELETE 204 W/"3"', 'PUT 200 W/"2"', 'PUT 201 W/"1"']);
    });

    test('integer, positiveInt and unsignedInt values outside 32 bits are refused; decimals are not', async () => {
      const tooBig = await s.request('POST', 'Patient', { body: { resourceType: 'Patient', multipleBirthInteger: 2147483648 } });
      assert.equal(tooBig.status, 400, JSON.stringify(tooBig.body));
      assert.match(outcomeText(tooBig.body), /2147483648 is outside the range of a FHIR integer/);
      const tooSmall = await s.request('POST', 'Patient', { body: { resourceType: 'Patient', multipleBirthInteger: -2147483649 } });
      assert.equal(tooSmall.status, 400);
      const extension = await s.request('POST', 'Patient', { body: { resourceType: 'Patient', extension: [{ url: 'urn:x', valueUnsignedInt: 4294967295 }] } });
      assert.equal(extension.status, 400);
      const nested = await s.request('POST', 'Questionnaire', {
        body: { resourceType: 'Questionnaire', status: 'draft', item: [{ linkId: 'a', type: 'group', item: [{ linkId: 'b', type: 'string', maxLength: 2147483648 }] }] },
      });
      assert.equal(nested.status, 400, JSON.stringify(nested.body));
      const unknownInside = await s.request('POST', 'Patient', { body: { resourceType: 'Patient', contained: [{ resourceType: 'Nope', x: 3000000000 }] } });
      assert.equal(unknownInside.status, 400, 'an unknown type inside is the validation\'s 400, not a 500');
      assert.equal((await s.request('POST', 'Patient', { body: { resourceType: 'Patient', multipleBirthInteger: 2147483647 } })).status, 201);
      assert.equal((await s.request('POST', 'Patient', { body: { resourceType: 'Patient', multipleBirthInteger: -2147483648 } })).status, 201);
      const decimal = await s.request('POST', 'Observation', {
        body: { resourceType: 'Observation', status: 'final', code: { text: 'big' }, valueQuantity: { value: 3000000000 } },
      });
      assert.equal(decimal.status, 201, JSON.stringify(decimal.body));
    });

    test('http.html#trules: a conditional reference is resolved only in a transaction; in a create, an update or a batch entry it is a 400, not stored', async () => {
      const patient = await s.request('POST', 'Patient', { body: { resourceType: 'Patient', identifier: [{ system: 'urn:condref', value: '1' }] } });
      assert.equal(patient.status, 201);
      const observation = (extra: Json = {}): Json => ({ resourceType: 'Observation', status: 'final', code: { text: 'condref' }, subject: { reference: 'Patient?identifier=urn:condref|1' }, ...extra });
      const create = await s.request('POST', 'Observation', { body: observation() });
      assert.equal(create.status, 400, JSON.stringify(create.body));
      assert.match(outcomeText(create.body), /conditional reference/);
      assert.equal(create.body.issue.find((i: Json) => i.expression && /conditional reference/.test(i.details?.text ?? '')).expression[0], 'Observation.subject.reference');
      assert.equal((await s.request('PUT', 'Observation/condref1', { body: observation({ id: 'condref1' }) })).status, 400);
      const inBatch = await s.request('POST', '', { body: batch([{ resource: observation(), request: { method: 'POST', url: 'Observation' } }]) });
      assert.equal(inBatch.status, 200);
      assert.match(inBatch.body.entry[0].response.status, /^400/);
      assert.equal((await s.request('GET', 'Observation?code:text=condref&_summary=count')).body.total, 0, 'nothing stored as a search');
      const inTransaction = await s.request('POST', '', { body: transaction([{ resource: observation(), request: { method: 'POST', url: 'Observation' } }]) });
      assert.equal(inTransaction.status, 200, JSON.stringify(inTransaction.body));
      const stored = await s.request('GET', 'Observation?code:text=condref');
      assert.equal(stored.body.entry[0].resource.subject.reference, `Patient/${patient.body.id}`);
    });
    test('http.html#patch: application/json-patch+json is the body of a PATCH only, and such a body is an array of operations', async () => {
      const patch = { 'content-type': 'application/json-patch+json' };
      const created = await s.request('POST', 'Patient', { body: { resourceType: 'Patient', active: true } });
      assert.equal(created.status, 201);
      const post = await s.request('POST', 'Patient', { raw: JSON.stringify({ resourceType: 'Patient' }), headers: patch });
      assert.equal(post.status, 415, JSON.stringify(post.body));
      assert.equal(post.body.resourceType, 'OperationOutcome');
      assert.equal((await s.request('PUT', `Patient/${created.body.id}`, { raw: JSON.stringify({ ...created.body, active: false }), headers: patch })).status, 415);
      const parametersAsJsonPatch = await s.request('PATCH', `Patient/${created.body.id}`, {
        raw: JSON.stringify({ resourceType: 'Parameters', parameter: [{ name: 'operation', part: [{ name: 'type', valueCode: 'replace' }, { name: 'path', valueString: 'Patient.active' }, { name: 'value', valueBoolean: false }] }] }),
        headers: patch,
      });
      assert.equal(parametersAsJsonPatch.status, 400, JSON.stringify(parametersAsJsonPatch.body));
      assert.match(outcomeText(parametersAsJsonPatch.body), /array of operations/);
      const patched = await s.request('PATCH', `Patient/${created.body.id}`, { raw: JSON.stringify([{ op: 'replace', path: '/active', value: false }]), headers: patch });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      assert.equal(patched.body.active, false);
    });
  });
}
