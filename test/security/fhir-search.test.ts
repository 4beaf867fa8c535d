/**
 * Findings 5 and 15 (issue 7): a search is bounded before it reaches the database (chain and _has
 * depth, parameters, OR values, list items, includes, query length, _count), nested _has runs as
 * semi-joins, and operation parameters are validated: each refusal is a 400 OperationOutcome.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_LIMITS } from '../../src/common/limits.js';
import { FhirEngine } from '../../src/fhir/engine.js';
import { patientEverything } from '../../src/services/shared-health-record/patient-operations.js';
import { startFhirServer, type FhirTestServer } from '../fhir/support.js';
import { testDrivers } from '../support/databases.js';

const hasChain = (depth: number): string =>
  `${Array.from({ length: depth }, (_, i) => (i === 0 ? '_has:Observation:subject' : '_has:Observation:has-member')).join(':')}:code`;

function tooCostly(reply: { status: number; body: { issue: Array<{ code: string; diagnostics: string }> } }, setting: string): void {
  assert.equal(reply.status, 400, JSON.stringify(reply.body));
  assert.equal(reply.body.issue[0]!.code, 'too-costly');
  assert.match(reply.body.issue[0]!.diagnostics, new RegExp(setting));
}

for (const driver of testDrivers) {
  describe(`bounded FHIR searches on ${driver}`, () => {
    let server: FhirTestServer;
    let patientId: string;
    before(async () => {
      server = await startFhirServer(driver);
      server.engine.registerOperation(patientEverything);
      const patient = await server.request('POST', 'Patient', { body: { resourceType: 'Patient', name: [{ family: 'Kamau' }] } });
      patientId = patient.body.id;
      const observation = await server.request('POST', 'Observation', {
        body: { resourceType: 'Observation', status: 'final', code: { coding: [{ code: 'member' }] }, subject: { reference: `Patient/${patientId}` } },
      });
      await server.request('POST', 'Observation', {
        body: { resourceType: 'Observation', status: 'final', code: { coding: [{ code: 'panel' }] }, hasMember: [{ reference: `Observation/${observation.body.id}` }] },
      });
    });
    after(async () => {
      await server.close();
    });

    test('nested _has within the depth limit still finds its matches (semi-joins)', async () => {
      const one = await server.request('GET', `Patient?${hasChain(1)}=member`);
      assert.equal(one.status, 200);
      assert.deepEqual((one.body.entry ?? []).map((e: { resource: { id: string } }) => e.resource.id), [patientId]);
      const two = await server.request('GET', `Patient?${hasChain(2)}=panel`);
      assert.deepEqual((two.body.entry ?? []).map((e: { resource: { id: string } }) => e.resource.id), [patientId]);
      const none = await server.request('GET', `Patient?${hasChain(2)}=member`);
      assert.equal(none.body.entry?.length ?? 0, 0);
    });

    test('three and 300 nested _has, and a three-link chain, are 400 before any query', async () => {
      tooCostly(await server.request('GET', `Patient?${hasChain(3)}=panel`), 'FHIR_SEARCH_MAX_CHAIN_DEPTH');
      tooCostly(await server.request('GET', `Patient?${hasChain(300)}=panel`), 'FHIR_SEARCH_MAX_CHAIN_DEPTH');
      tooCostly(await server.request('GET', 'Observation?subject:Patient.organization.partof.name=x'), 'FHIR_SEARCH_MAX_CHAIN_DEPTH');
      const chain = await server.request('GET', 'Observation?subject:Patient.organization.name=x');
      assert.equal(chain.status, 200);
    });

    test('too many parameters, values, list items, includes or characters are 400', async () => {
      tooCostly(await server.request('GET', `Patient?${Array.from({ length: 65 }, (_, i) => `family=f${i}`).join('&')}`), 'FHIR_SEARCH_MAX_PARAMETERS');
      tooCostly(await server.request('GET', `Patient?family=${Array.from({ length: 101 }, (_, i) => `f${i}`).join(',')}`), 'FHIR_SEARCH_MAX_VALUES');
      tooCostly(await server.request('GET', `Patient?_elements=${Array.from({ length: 101 }, (_, i) => `e${i}`).join(',')}`), 'FHIR_SEARCH_MAX_VALUES');
      tooCostly(await server.request('GET', `Patient?_sort=${Array.from({ length: 101 }, () => 'family').join(',')}`), 'FHIR_SEARCH_MAX_VALUES');
      const includes = Array.from({ length: 8 }, () => '_revinclude=Observation:*').join('&');
      tooCostly(await server.request('GET', `Patient?${includes}`), 'FHIR_SEARCH_MAX_PARAMETERS');
      const form = new URLSearchParams({ family: 'x'.repeat(17 * 1024) }).toString();
      tooCostly(await server.request('POST', 'Patient/_search', { raw: form, headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
        'FHIR_SEARCH_MAX_QUERY_BYTES');
    });

    test('_count is lowered to the cap, on searches and history', async () => {
      const search = await server.request('GET', 'Patient?_count=100000');
      assert.equal(search.status, 200);
      assert.match(search.body.link[0].url, /_count=1000(&|$)/);
      const history = await server.request('GET', 'Patient/_history?_count=999999999');
      assert.equal(history.status, 200);
    });

    test('$everything checks _since, _type and _count (400, not 500)', async () => {
      for (const query of ['_since=garbage', '_since=2024-13-45T00:00:00Z', '_type=NotAType', '_type=Observation,,Nope', '_count=-1', '_count=abc']) {
        const reply = await server.request('GET', `Patient/${patientId}/$everything?${query}`);
        assert.equal(reply.status, 400, `${query}: ${JSON.stringify(reply.body)}`);
        assert.equal(reply.body.resourceType, 'OperationOutcome');
      }
      const good = await server.request('GET', `Patient/${patientId}/$everything?_since=2000-01-01T00:00:00Z&_type=Observation&_count=1`);
      assert.equal(good.status, 200);
      assert.equal((good.body.entry?.length ?? 0), 1, '_count is the page size, the patient included');
      assert.ok(good.body.link.some((l: { relation: string }) => l.relation === 'self'));
      const validate = await server.request('POST', 'Patient/$validate', { body: { resourceType: 'Parameters', parameter: [{ name: 'resource', valueString: 'x' }] } });
      assert.ok(validate.status < 500, `$validate: ${validate.status}`);
    });
  });
}

test('the limits come from the engine options (a deployment sets them)', async () => {
  const { openTestDatabase } = await import('../support/databases.js');
  const database = await openTestDatabase('pglite');
  try {
    const engine = new FhirEngine({ db: database.db, schema: 'limits_test', limits: { ...DEFAULT_LIMITS, fhirSearchMaxChainDepth: 1, fhirSearchMaxCount: 5 } });
    await engine.migrate();
    const deep = await engine.handle({ method: 'GET', path: 'Observation', query: [['subject:Patient.organization.name', 'x']], headers: {} });
    assert.equal(deep.status, 400);
    const shallow = await engine.handle({ method: 'GET', path: 'Observation', query: [['subject:Patient', 'x'], ['_count', '50']], headers: {} });
    assert.equal(shallow.status, 200);
    assert.match(JSON.stringify(shallow.resource), /_count=5\b/);
    await engine.settle();
  } finally {
    await database.dispose();
  }
});
