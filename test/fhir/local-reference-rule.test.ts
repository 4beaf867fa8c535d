/**
 * R4 ref-1: "SHALL have a contained resource if a local reference is provided". A reviewer renamed
 * contained[0].id by a patch and left managingOrganization pointing at nothing; plain writes took
 * the same. Every official R4 example keeps the rule (checked when this test was written).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startFhirServer, type FhirTestServer } from './support.js';

describe('local references name a contained resource (ref-1)', () => {
  let s: FhirTestServer;
  before(async () => {
    s = await startFhirServer('pglite');
  });
  after(async () => {
    await s.close();
  });

  const patient = (reference: string) => ({
    resourceType: 'Patient', contained: [{ resourceType: 'Organization', id: 'o1', name: 'Clinic' }], managingOrganization: { reference },
  });

  test('a write whose #reference names no contained resource is a 400 naming the element; a resolving one is stored', async () => {
    const refused = await s.request('POST', 'Patient', { body: patient('#o2') });
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.match(JSON.stringify(refused.body), /#o2 names no contained resource/);
    assert.match(JSON.stringify(refused.body), /Patient\.managingOrganization\.reference/);
    assert.equal((await s.request('POST', 'Patient', { body: patient('#o1') })).status, 201);
  });

  test('dom-3: a contained resource nothing refers to, and that refers to nothing of its container, is refused; one naming the container is kept', async () => {
    const orphan = await s.request('POST', 'Patient', { body: { resourceType: 'Patient', contained: [{ resourceType: 'Organization', id: 'lost', name: 'Nobody\'s' }] } });
    assert.equal(orphan.status, 400, JSON.stringify(orphan.body));
    assert.match(JSON.stringify(orphan.body), /Organization\/lost is referred to from nowhere in the resource.*dom-3/);
    assert.match(JSON.stringify(orphan.body), /Patient\.contained\[0\]/);
    // Only references, canonicals, uris and urls name it: a plain string or code reading "#lost" does not (a reviewer's bypass).
    for (const naming of [{ name: [{ text: '#lost' }] }, { extension: [{ url: 'http://example.org/x', valueString: '#lost' }] }, { extension: [{ url: 'http://example.org/x', valueCode: '#lost' }] }]) {
      const bypass = await s.request('POST', 'Patient', { body: { resourceType: 'Patient', contained: [{ resourceType: 'Organization', id: 'lost', name: 'x' }], ...naming } });
      assert.equal(bypass.status, 400, `${JSON.stringify(naming)}: ${JSON.stringify(bypass.body)}`);
    }
    const byUri = await s.request('POST', 'Patient', { body: { resourceType: 'Patient', contained: [{ resourceType: 'Organization', id: 'kept', name: 'x' }], extension: [{ url: 'http://example.org/x', valueUri: '#kept' }] } });
    assert.equal(byUri.status, 201, JSON.stringify(byUri.body));
    // Referred to from another contained resource, or referring to the container ("#"): both allowed.
    const chained = await s.request('POST', 'Patient', { body: {
      resourceType: 'Patient', managingOrganization: { reference: '#o1' },
      contained: [{ resourceType: 'Organization', id: 'o1', name: 'Clinic', partOf: { reference: '#o2' } }, { resourceType: 'Organization', id: 'o2', name: 'Group' }],
    } });
    assert.equal(chained.status, 201, JSON.stringify(chained.body));
    const backwards = await s.request('POST', 'Observation', { body: {
      resourceType: 'Observation', status: 'final', code: { text: 'x' },
      contained: [{ resourceType: 'Provenance', id: 'prov', target: [{ reference: '#' }], recorded: '2024-01-01T00:00:00Z', agent: [{ who: { display: 'lab' } }] }],
    } });
    assert.equal(backwards.status, 201, JSON.stringify(backwards.body));
    // Elements of type uri or canonical name it whatever they are called: a value set on a contained
    // code system (compose.include.system), a concept map's group source and target (SVCM's usual shapes).
    const codeSystem = { resourceType: 'CodeSystem', id: 'cs1', status: 'draft', content: 'complete', concept: [{ code: 'a' }] };
    const valueSet = await s.request('POST', 'ValueSet', { body: { resourceType: 'ValueSet', status: 'draft', contained: [codeSystem], compose: { include: [{ system: '#cs1' }] } } });
    assert.equal(valueSet.status, 201, JSON.stringify(valueSet.body));
    const conceptMap = await s.request('POST', 'ConceptMap', { body: { resourceType: 'ConceptMap', status: 'draft', contained: [codeSystem], group: [{ source: '#cs1', target: 'http://example.org/cs', element: [{ code: 'a', target: [{ code: 'b', equivalence: 'equivalent' }] }] }] } });
    assert.equal(conceptMap.status, 201, JSON.stringify(conceptMap.body));
    // $validate says the same as an issue.
    const validated = await s.request('POST', 'Patient/$validate', { body: { resourceType: 'Patient', contained: [{ resourceType: 'Organization', id: 'lost' }] } });
    assert.ok(validated.body.issue.some((i: { severity: string; details?: { text?: string } }) => i.severity === 'error' && /dom-3/.test(i.details?.text ?? '')), JSON.stringify(validated.body));
  });

  test('a patch that renames the contained resource away from its reference is refused; nothing changes', async () => {
    const created = await s.request('POST', 'Patient', { body: patient('#o1') });
    const renamed = await s.request('PATCH', `Patient/${created.body.id}`, {
      raw: JSON.stringify([{ op: 'replace', path: '/contained/0/id', value: 'o9' }]), headers: { 'content-type': 'application/json-patch+json' },
    });
    assert.equal(renamed.status, 400, JSON.stringify(renamed.body));
    assert.equal((await s.request('GET', `Patient/${created.body.id}`)).body.meta.versionId, '1');
  });

  test('in a collection Bundle each entry resource is its own container', async () => {
    const bundle = {
      resourceType: 'Bundle', type: 'collection',
      entry: [{ fullUrl: 'urn:uuid:7c7d5e1a-0000-4000-8000-000000000001', resource: patient('#o1') }, { fullUrl: 'urn:uuid:7c7d5e1a-0000-4000-8000-000000000002', resource: patient('#o3') }],
    };
    const refused = await s.request('POST', 'Bundle', { body: bundle });
    assert.equal(refused.status, 400);
    assert.match(JSON.stringify(refused.body), /#o3/);
  });
});
