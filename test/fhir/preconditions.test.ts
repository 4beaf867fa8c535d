/**
 * Conditional interactions and preconditions, from the words of FHIR R4 http.html and RFC 9110:
 * result parameters in conditional criteria select nothing; If-Match / If-None-Match (with `*` and
 * lists of entity tags) on reads and every write, in bundles too; conditional and no-op PATCH.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { randomUUID } from 'node:crypto';
import { testDrivers } from '../support/databases.js';
import { selectingCriteria } from '../../src/fhir/conditional-criteria.js';
import { checkIfMatch, checkIfNoneMatch, parseEntityTags } from '../../src/fhir/preconditions.js';
import { startFhirServer, type FhirTestServer } from './support.js';

const PATCH_JSON = { 'content-type': 'application/json-patch+json' };
const uniq = (): string => randomUUID().slice(0, 8);
const withIdentifier = (value: string, extra: Record<string, unknown> = {}) =>
  ({ resourceType: 'Patient', identifier: [{ system: 'urn:precond', value }], ...extra });

describe('entity tags and conditional criteria (pure)', () => {
  test('If-Match / If-None-Match values: *, a list of weak or strong tags, a bare version', () => {
    assert.equal(parseEntityTags(' * ', 'If-Match'), '*');
    assert.deepEqual(parseEntityTags('W/"1", "4",7', 'If-Match'), ['1', '4', '7']);
    assert.throws(() => parseEntityTags('W/"1" garbage', 'If-Match'), /entity tags/);
    assert.throws(() => parseEntityTags(',', 'If-Match'), /entity tags/);
    const current = { version: 4, deleted: false };
    assert.doesNotThrow(() => checkIfMatch('W/"1", W/"4"', current, 'Patient/x'));
    assert.throws(() => checkIfMatch('W/"1"', current, 'Patient/x'), (e: { status?: number }) => e.status === 412);
    assert.throws(() => checkIfMatch('*', { version: 2, deleted: true }, 'Patient/x'), (e: { status?: number }) => e.status === 412);
    assert.throws(() => checkIfNoneMatch('*', current, 'Patient/x'), (e: { status?: number }) => e.status === 412);
    assert.doesNotThrow(() => checkIfNoneMatch('*', undefined, 'Patient/x'));
    assert.doesNotThrow(() => checkIfNoneMatch('W/"3"', current, 'Patient/x'));
  });

  test('conditional criteria keep the selecting parameters and drop result parameters', () => {
    assert.deepEqual(selectingCriteria([['identifier', 'a|1'], ['_summary', 'count'], ['_include:iterate', 'Patient:link'], ['_id', 'x'], ['_has:Observation:subject:code', '1'], ['_count', '0']]),
      [['identifier', 'a|1'], ['_id', 'x'], ['_has:Observation:subject:code', '1']]);
  });
});

for (const driver of testDrivers) {
  describe(`FHIR conditional interactions and preconditions (${driver})`, () => {
    let s: FhirTestServer;
    before(async () => {
      s = await startFhirServer(driver);
    });
    after(async () => {
      await s.close();
    });

    const countOf = async (value: string): Promise<number> =>
      (await s.request('GET', `Patient?identifier=urn:precond|${value}&_summary=count`)).body.total;
    const binary = (ops: unknown) => ({ resourceType: 'Binary', contentType: 'application/json-patch+json', data: Buffer.from(JSON.stringify(ops)).toString('base64') });

    // search.html: _summary, _count, _sort, _include, _elements... are "result parameters"; they
    // shape the answer, so in a conditional's criteria they select nothing.
    test('result parameters in conditional criteria do not change which resources match', async () => {
      const v = uniq();
      const first = await s.request('POST', 'Patient', { body: withIdentifier(v) });
      assert.equal(first.status, 201);
      for (const extra of ['_summary=count', '_count=0', '_cursor=a999999', '_offset=5', '_sort=-_lastUpdated', '_elements=id', '_total=none', '_include=Patient:organization', '_contained=true']) {
        const again = await s.request('POST', 'Patient', { body: withIdentifier(v), headers: { 'if-none-exist': `identifier=urn:precond|${v}&${extra}` } });
        assert.equal(again.status, 200, `If-None-Exist with ${extra} created a duplicate`);
        assert.equal(again.body.id, first.body.id);
      }
      const update = await s.request('PUT', `Patient?identifier=urn:precond|${v}&_summary=count`, { body: withIdentifier(v, { active: true }) });
      assert.equal(update.status, 200, 'the conditional update matched its resource');
      assert.equal(update.body.id, first.body.id);
      // A transaction's ifNoneExist and conditional references go through the same criteria.
      const tx = await s.request('POST', '', {
        body: {
          resourceType: 'Bundle', type: 'transaction', entry: [
            { fullUrl: 'urn:uuid:0d1c5f4e-8a43-4c0e-9d55-4d3c1f6a0b01', resource: withIdentifier(v), request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=urn:precond|${v}&_count=0` } },
            { resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: `Patient?identifier=urn:precond|${v}&_summary=count` } }, request: { method: 'POST', url: 'Observation' } },
          ],
        },
      });
      assert.equal(tx.status, 200, JSON.stringify(tx.body));
      assert.equal(tx.body.entry[0].response.status, '200 OK');
      assert.equal(tx.body.entry[1].resource.subject.reference, `Patient/${first.body.id}`);
      assert.equal(await countOf(v), 1);
      assert.equal((await s.request('DELETE', `Patient?identifier=urn:precond|${v}&_summary=count`)).status, 204);
      assert.equal((await s.request('GET', `Patient/${first.body.id}`)).status, 410, 'the conditional delete deleted its match');
      // Criteria of nothing but result parameters select nothing: refused, not "every Patient".
      const bare = await s.request('POST', 'Patient', { body: withIdentifier(v), headers: { 'if-none-exist': '_summary=count' } });
      assert.equal(bare.status, 400);
    });

    // http.html#ccreate gives the query part; clients copy it from a search URL too (HAPI takes those forms).
    test('If-None-Exist as a query, with its ?, after the type or as a whole search URL; another type is a 400', async () => {
      const v = uniq();
      const first = await s.request('POST', 'Patient', { body: withIdentifier(v) });
      assert.equal(first.status, 201);
      for (const header of [`identifier=urn:precond|${v}`, `?identifier=urn:precond|${v}`, `Patient?identifier=urn:precond|${v}`, `/Patient?identifier=urn:precond|${v}`,
        `http://example.org/fhir/Patient?identifier=urn:precond|${v}`]) {
        const again = await s.request('POST', 'Patient', { body: withIdentifier(v), headers: { 'if-none-exist': header } });
        assert.equal(again.status, 200, `If-None-Exist: ${header} -> ${again.status} ${JSON.stringify(again.body).slice(0, 200)}`);
        assert.equal(again.body.id, first.body.id);
      }
      for (const header of [`Observation?identifier=urn:precond|${v}`, `http://example.org/fhir/Observation?identifier=urn:precond|${v}`]) {
        const other = await s.request('POST', 'Patient', { body: withIdentifier(v), headers: { 'if-none-exist': header } });
        assert.equal(other.status, 400, header);
        assert.equal(other.body.resourceType, 'OperationOutcome');
      }
      assert.equal(await countOf(v), 1);
    });

    // RFC 9110 13.1.1: "the condition is false ... the server MUST NOT perform the requested method" (412).
    test('If-Match on DELETE: a stale version is 412 and nothing is deleted; the current one deletes', async () => {
      const id = `del-${uniq()}`;
      await s.request('PUT', `Patient/${id}`, { body: { resourceType: 'Patient', id } });
      await s.request('PUT', `Patient/${id}`, { body: { resourceType: 'Patient', id, active: true } });
      const stale = await s.request('DELETE', `Patient/${id}`, { headers: { 'if-match': 'W/"1"' } });
      assert.equal(stale.status, 412);
      assert.equal(stale.body.resourceType, 'OperationOutcome');
      assert.equal((await s.request('GET', `Patient/${id}`)).status, 200);
      assert.equal((await s.request('DELETE', `Patient/${id}`, { headers: { 'if-match': 'W/"2"' } })).status, 204);
      assert.equal((await s.request('DELETE', `Patient/never-${uniq()}`, { headers: { 'if-match': '*' } })).status, 412, 'If-Match: * on nothing');
    });

    test('If-Match on conditional update and conditional delete', async () => {
      const v = uniq();
      const created = await s.request('POST', 'Patient', { body: withIdentifier(v) });
      await s.request('PUT', `Patient/${created.body.id}`, { body: withIdentifier(v, { id: created.body.id, active: true }) });
      const stale = await s.request('PUT', `Patient?identifier=urn:precond|${v}`, { body: withIdentifier(v, { active: false }), headers: { 'if-match': 'W/"1"' } });
      assert.equal(stale.status, 412);
      assert.equal((await s.request('GET', `Patient/${created.body.id}`)).body.active, true, 'not overwritten');
      const current = await s.request('PUT', `Patient?identifier=urn:precond|${v}`, { body: withIdentifier(v, { active: false }), headers: { 'if-match': 'W/"2"' } });
      assert.equal(current.status, 200);
      assert.equal(current.body.meta.versionId, '3');
      const nothing = await s.request('PUT', `Patient?identifier=urn:precond|none-${v}`, { body: withIdentifier(`none-${v}`), headers: { 'if-match': 'W/"1"' } });
      assert.equal(nothing.status, 412, 'no match: no current version for If-Match to name');
      assert.equal(await countOf(`none-${v}`), 0);
      assert.equal((await s.request('DELETE', `Patient?identifier=urn:precond|${v}`, { headers: { 'if-match': 'W/"2"' } })).status, 412);
      assert.equal((await s.request('GET', `Patient/${created.body.id}`)).status, 200);
      assert.equal((await s.request('DELETE', `Patient?identifier=urn:precond|${v}`, { headers: { 'if-match': 'W/"3"' } })).status, 204);
      assert.equal((await s.request('GET', `Patient/${created.body.id}`)).status, 410);
    });

    test('batch and transaction entries honour request.ifMatch on DELETE, PUT and PATCH', async () => {
      const id = `tx-${uniq()}`;
      await s.request('PUT', `Patient/${id}`, { body: { resourceType: 'Patient', id } });
      await s.request('PUT', `Patient/${id}`, { body: { resourceType: 'Patient', id, active: true } });
      const batch = await s.request('POST', '', {
        body: {
          resourceType: 'Bundle', type: 'batch', entry: [
            { request: { method: 'DELETE', url: `Patient/${id}`, ifMatch: 'W/"1"' } },
            { resource: { resourceType: 'Patient', id, active: false }, request: { method: 'PUT', url: `Patient/${id}`, ifMatch: 'W/"1"' } },
            { resource: binary([{ op: 'replace', path: '/active', value: false }]), request: { method: 'PATCH', url: `Patient/${id}`, ifMatch: 'W/"1"' } },
          ],
        },
      });
      assert.equal(batch.status, 200);
      assert.deepEqual((batch.body.entry ?? []).map((e: { response: { status: string } }) => e.response.status.slice(0, 3)), ['412', '412', '412']);
      const kept = await s.request('GET', `Patient/${id}`);
      assert.equal(kept.status, 200);
      assert.equal(kept.body.meta.versionId, '2');
      const tx = await s.request('POST', '', {
        body: { resourceType: 'Bundle', type: 'transaction', entry: [{ request: { method: 'DELETE', url: `Patient/${id}`, ifMatch: 'W/"1"' } }] },
      });
      assert.equal(tx.status, 412);
      assert.equal((await s.request('GET', `Patient/${id}`)).status, 200);
      const txOk = await s.request('POST', '', {
        body: { resourceType: 'Bundle', type: 'transaction', entry: [{ request: { method: 'DELETE', url: `Patient/${id}`, ifMatch: 'W/"2"' } }] },
      });
      assert.equal(txOk.status, 200);
      assert.equal((await s.request('GET', `Patient/${id}`)).status, 410);
    });

    // RFC 9110 13.1.1: If-Match is "*" or a list of entity tags; true when any matches.
    test('If-Match with a list of entity tags matches when any does; If-Match: * when the resource exists', async () => {
      const id = `list-${uniq()}`;
      await s.request('PUT', `Patient/${id}`, { body: { resourceType: 'Patient', id } });
      const listed = await s.request('PUT', `Patient/${id}`, { body: { resourceType: 'Patient', id, active: true }, headers: { 'if-match': 'W/"7", W/"1"' } });
      assert.equal(listed.status, 200);
      assert.equal((await s.request('PUT', `Patient/${id}`, { body: { resourceType: 'Patient', id }, headers: { 'if-match': 'W/"7", W/"1"' } })).status, 412);
      assert.equal((await s.request('PUT', `Patient/${id}`, { body: { resourceType: 'Patient', id }, headers: { 'if-match': '*' } })).status, 200);
      const absent = `absent-${uniq()}`;
      assert.equal((await s.request('PUT', `Patient/${absent}`, { body: { resourceType: 'Patient', id: absent }, headers: { 'if-match': '*' } })).status, 412);
      assert.equal((await s.request('GET', `Patient/${absent}`)).status, 404);
      assert.equal((await s.request('PUT', `Patient/${id}`, { body: { resourceType: 'Patient', id }, headers: { 'if-match': 'not a tag' } })).status, 400);
    });

    // RFC 9110 13.1.2: If-None-Match: * is false when a current representation exists (412 on a PUT: create only).
    test('PUT with If-None-Match: * creates a new resource and never overwrites an existing one', async () => {
      const id = `inm-${uniq()}`;
      const created = await s.request('PUT', `Patient/${id}`, { body: { resourceType: 'Patient', id }, headers: { 'if-none-match': '*' } });
      assert.equal(created.status, 201);
      const again = await s.request('PUT', `Patient/${id}`, { body: { resourceType: 'Patient', id, active: true }, headers: { 'if-none-match': '*' } });
      assert.equal(again.status, 412);
      const read = await s.request('GET', `Patient/${id}`);
      assert.equal(read.body.meta.versionId, '1');
      assert.equal(read.body.active, undefined);
    });

    // RFC 9110 13.1.2: for GET, a false If-None-Match is 304 Not Modified; "*" is false when the resource exists.
    test('a read with If-None-Match: * or a list naming the current version is 304', async () => {
      const id = `read-${uniq()}`;
      await s.request('PUT', `Patient/${id}`, { body: { resourceType: 'Patient', id } });
      assert.equal((await s.request('GET', `Patient/${id}`, { headers: { 'if-none-match': '*' } })).status, 304);
      assert.equal((await s.request('GET', `Patient/${id}`, { headers: { 'if-none-match': 'W/"5", W/"1"' } })).status, 304);
      assert.equal((await s.request('GET', `Patient/${id}`, { headers: { 'if-none-match': 'W/"5"' } })).status, 200);
    });

    test('If-None-Match on PATCH and DELETE (RFC 9110 13.1.2: false for an unsafe method is 412); on vread a current copy is 304', async () => {
      const id = `inm-${uniq()}`;
      assert.equal((await s.request('PUT', `Patient/${id}`, { body: { resourceType: 'Patient', id } })).status, 201);
      const jsonPatch = { 'content-type': 'application/json-patch+json' };
      const patched = await s.request('PATCH', `Patient/${id}`, { raw: JSON.stringify([{ op: 'add', path: '/active', value: true }]), headers: { ...jsonPatch, 'if-none-match': '*' } });
      assert.equal(patched.status, 412, 'If-None-Match: * on a PATCH of an existing resource');
      const listed = await s.request('PATCH', `Patient/${id}`, { raw: JSON.stringify([{ op: 'add', path: '/active', value: true }]), headers: { ...jsonPatch, 'if-none-match': 'W/"1"' } });
      assert.equal(listed.status, 412, 'If-None-Match naming the current version');
      assert.equal((await s.request('DELETE', `Patient/${id}`, { headers: { 'if-none-match': '*' } })).status, 412);
      assert.equal((await s.request('GET', `Patient/${id}`)).body.meta.versionId, '1', 'nothing was changed');
      assert.equal((await s.request('GET', `Patient/${id}/_history/1`, { headers: { 'if-none-match': 'W/"1"' } })).status, 304);
      assert.equal((await s.request('GET', `Patient/${id}/_history/1`, { headers: { 'if-none-match': 'W/"2"' } })).status, 200);
      assert.equal((await s.request('DELETE', `Patient/${id}`, { headers: { 'if-none-match': 'W/"7"' } })).status, 204, 'a tag naming another version does not stop it');
    });

    test('a JSON Patch that changes nothing creates no version: 200 with the current one', async () => {
      const created = await s.request('POST', 'Patient', { body: withIdentifier(uniq(), { active: true }) });
      const id = created.body.id;
      for (const ops of [[], [{ op: 'test', path: '/active', value: true }], [{ op: 'replace', path: '/active', value: true }]]) {
        const patched = await s.request('PATCH', `Patient/${id}`, { raw: JSON.stringify(ops), headers: PATCH_JSON });
        assert.equal(patched.status, 200, JSON.stringify(patched.body));
        assert.equal(patched.body.meta.versionId, '1');
        assert.equal(patched.headers.get('etag'), 'W/"1"');
      }
      assert.equal((await s.request('GET', `Patient/${id}/_history`)).body.total, 1);
      const changed = await s.request('PATCH', `Patient/${id}`, { raw: JSON.stringify([{ op: 'replace', path: '/active', value: false }]), headers: PATCH_JSON });
      assert.equal(changed.body.meta.versionId, '2');
    });

    // http.html#patch: conditional patch as conditional update: no match 404, one patched, several 412.
    test('conditional PATCH Type?criteria: 0 matches 404, 1 match patched, several 412', async () => {
      const v = uniq();
      const ops = JSON.stringify([{ op: 'add', path: '/active', value: true }]);
      assert.equal((await s.request('PATCH', `Patient?identifier=urn:precond|${v}`, { raw: ops, headers: PATCH_JSON })).status, 404);
      const one = await s.request('POST', 'Patient', { body: withIdentifier(v) });
      const patched = await s.request('PATCH', `Patient?identifier=urn:precond|${v}&_summary=count`, { raw: ops, headers: PATCH_JSON });
      assert.equal(patched.status, 200);
      assert.equal(patched.body.id, one.body.id);
      assert.equal(patched.body.active, true);
      const stale = await s.request('PATCH', `Patient?identifier=urn:precond|${v}`, { raw: ops, headers: { ...PATCH_JSON, 'if-match': 'W/"1"' } });
      assert.equal(stale.status, 412);
      await s.request('POST', 'Patient', { body: withIdentifier(v) });
      assert.equal((await s.request('PATCH', `Patient?identifier=urn:precond|${v}`, { raw: ops, headers: PATCH_JSON })).status, 412);
      const tx = await s.request('POST', '', {
        body: { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: binary([{ op: 'add', path: '/gender', value: 'other' }]), request: { method: 'PATCH', url: `Patient?_id=${one.body.id}` } }] },
      });
      assert.equal(tx.status, 200, JSON.stringify(tx.body));
      assert.equal((await s.request('GET', `Patient/${one.body.id}`)).body.gender, 'other');
    });
  });
}
