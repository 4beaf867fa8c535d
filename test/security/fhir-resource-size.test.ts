/**
 * Review of the FHIR engine (2026-12-01), each finding reproduced first:
 * - a 600 KB Patient with 150,000 `given` names was a 500 (RangeError: Maximum call stack size
 *   exceeded, in @medplum/core's name formatting called by the indexer), in JSON, XML, inside a
 *   transaction and as a batch entry;
 * - one large body held the whole process while it was validated (150,000 `component`s: 12 s);
 * - an invalid body's OperationOutcome had one issue per problem, unbounded (50,000 unknown
 *   members: 6.5 MB);
 * - POST _search with a JSON array body was a 500, other non-form bodies were silently ignored;
 * - a gzip-encoded body was a 400 "not valid UTF-8" instead of 415.
 * Sizes are scaled down where the point is the limit, not the size.
 */
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_LIMITS } from '../../src/common/limits.js';
import { MAX_OUTCOME_ISSUES, asFhirError } from '../../src/fhir/outcome.js';
import { testDrivers } from '../support/databases.js';
import { diagnostics, startLimitedFhirServer, type LimitedFhirServer } from './fhir-body-support.js';

const MAX_ELEMENTS = DEFAULT_LIMITS.fhirMaxResourceElements;

const manyGiven = (count: number): Record<string, unknown> => ({ resourceType: 'Patient', name: [{ family: 'Givens', given: Array(count).fill('a') }] });

function xmlPatientWithGiven(count: number): string {
  return `<Patient xmlns="http://hl7.org/fhir"><name><family value="Givens"/>${'<given value="a"/>'.repeat(count)}</name></Patient>`;
}

for (const driver of testDrivers) {
  describe(`FHIR resources are bounded in elements, answers in size (${driver})`, () => {
    let s: LimitedFhirServer;
    before(async () => {
      s = await startLimitedFhirServer(driver);
    });
    after(async () => {
      await s.close();
    });

    test('150,000 given names are stored when no body limit stops them first (the indexer no longer overflows the stack)', async () => {
      // In process, past the HTTP layer's element count: what the indexer itself does with them.
      const response = await s.engine.handle({ method: 'POST', path: 'Patient', query: [], headers: {}, body: manyGiven(150_000) });
      assert.equal(response.status, 201, JSON.stringify(response.resource).slice(0, 300));
      const id = (response.resource as { id: string }).id;
      const found = await s.request('GET', `Patient?given=a&_id=${id}&_elements=id`);
      assert.equal(found.body.total ?? found.body.entry?.length, 1, diagnostics(found.body));
    });

    test('a resource of more elements than FHIR_MAX_RESOURCE_ELEMENTS is 413 too-costly, in JSON and XML, before validation', async () => {
      const json = await s.request('POST', 'Patient', { body: manyGiven(150_000) });
      assert.equal(json.status, 413, diagnostics(json.body));
      assert.equal(json.body.resourceType, 'OperationOutcome');
      assert.equal(json.body.issue[0].code, 'too-costly');
      assert.match(diagnostics(json.body), /FHIR_MAX_RESOURCE_ELEMENTS/);
      assert.match(diagnostics(json.body), /split it/);

      const xml = await s.request('POST', 'Patient', { raw: xmlPatientWithGiven(150_000), headers: { 'content-type': 'application/fhir+xml', accept: 'application/fhir+json' } });
      assert.equal(xml.status, 413, diagnostics(xml.body));
      assert.match(diagnostics(xml.body), /FHIR_MAX_RESOURCE_ELEMENTS/);

      // The validation-amplification shape: many components, refused before any is validated.
      const components = Array.from({ length: Math.ceil(MAX_ELEMENTS / 4) }, () => ({ code: { text: 'c' }, valueQuantity: { value: 1, unit: 'mmHg' } }));
      const observation = await s.request('POST', 'Observation', { body: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, component: components } });
      assert.equal(observation.status, 413, diagnostics(observation.body));
      assert.equal((await s.request('GET', 'Observation?_summary=count')).body.total, 0);

      // A large code system is told of the terminology service's bulk path.
      const codeSystem = { resourceType: 'CodeSystem', status: 'active', content: 'complete', concept: Array(Math.ceil(MAX_ELEMENTS / 3)).fill({ code: 'a', display: 'b' }) };
      const cs = await s.request('POST', 'CodeSystem', { body: codeSystem });
      assert.equal(cs.status, 413, diagnostics(cs.body));
      assert.match(diagnostics(cs.body), /\$import/);
    });

    test('in a bundle each entry resource is counted on its own: a transaction or batch with a too large one is 413, nothing stored', async () => {
      const half = Math.floor(MAX_ELEMENTS * 0.6);
      const entry = (given: number, fullUrl: string): Record<string, unknown> => ({ fullUrl, resource: manyGiven(given), request: { method: 'POST', url: 'Patient' } });
      // Together past the limit, each below it: accepted.
      const fits = await s.request('POST', '', { body: { resourceType: 'Bundle', type: 'transaction', entry: [entry(half, 'urn:uuid:1'), entry(half, 'urn:uuid:2')] } });
      assert.equal(fits.status, 200, diagnostics(fits.body));
      const before = (await s.request('GET', 'Patient?_summary=count')).body.total;
      for (const type of ['transaction', 'batch']) {
        const big = await s.request('POST', '', { body: { resourceType: 'Bundle', type, entry: [entry(1, 'urn:uuid:3'), entry(150_000, 'urn:uuid:4')] } });
        assert.equal(big.status, 413, diagnostics(big.body));
        assert.match(diagnostics(big.body), /Bundle\.entry\[1\]\.resource/);
      }
      assert.equal((await s.request('GET', 'Patient?_summary=count')).body.total, before);
      // A Bundle stored as a resource, or one inside Parameters, is one resource: its entries count together.
      const collection = { resourceType: 'Bundle', type: 'collection', entry: [{ resource: manyGiven(half) }, { resource: manyGiven(half) }] };
      const stored = await s.request('POST', 'Bundle', { body: collection });
      assert.equal(stored.status, 413, diagnostics(stored.body));
      const validated = await s.request('POST', 'Bundle/$validate', { body: { resourceType: 'Parameters', parameter: [{ name: 'resource', resource: collection }] } });
      assert.equal(validated.status, 413, diagnostics(validated.body));
    });

    test('a JSON Patch may not grow a resource past FHIR_MAX_RESOURCE_ELEMENTS', async () => {
      const created = await s.request('POST', 'Patient', { body: { resourceType: 'Patient', name: [{ family: 'Patched' }] } });
      assert.equal(created.status, 201, diagnostics(created.body));
      const patch = (raw: unknown): Promise<{ status: number; body: any }> => // eslint-disable-line @typescript-eslint/no-explicit-any
        s.request('PATCH', `Patient/${created.body.id}`, { raw: JSON.stringify(raw), headers: { 'content-type': 'application/json-patch+json' } });
      const part = Math.floor(MAX_ELEMENTS * 0.6);
      const first = await patch([{ op: 'add', path: '/name/-', value: { given: Array(part).fill('a') } }]);
      assert.equal(first.status, 200, diagnostics(first.body));
      const second = await patch([{ op: 'add', path: '/name/-', value: { given: Array(part).fill('b') } }]);
      assert.equal(second.status, 413, diagnostics(second.body));
      assert.match(diagnostics(second.body), /FHIR_MAX_RESOURCE_ELEMENTS/);
      const shrink = await patch([{ op: 'remove', path: '/name/1' }]);
      assert.equal(shrink.status, 200, diagnostics(shrink.body));
    });

    test('an invalid body gets at most MAX_OUTCOME_ISSUES issues and a bounded text', async () => {
      const unknown: Record<string, unknown> = { resourceType: 'Patient' };
      for (let i = 0; i < 5_000; i++) unknown[`k${i}_${'x'.repeat(40)}`] = 1;
      const many = await s.request('POST', 'Patient', { body: unknown });
      assert.equal(many.status, 400, diagnostics(many.body));
      assert.ok(many.body.issue.length <= MAX_OUTCOME_ISSUES + 2, `${many.body.issue.length} issues`);
      assert.match(many.body.issue.at(-1).diagnostics, /more issues are not listed/);
      assert.ok(JSON.stringify(many.body).length < 64 * 1024, `${JSON.stringify(many.body).length} bytes`);

      const badUse = await s.request('POST', 'Patient', { body: { resourceType: 'Patient', name: Array.from({ length: 2_000 }, () => ({ use: 'nope' })) } });
      assert.equal(badUse.status, 400, diagnostics(badUse.body));
      assert.ok(badUse.body.issue.length <= MAX_OUTCOME_ISSUES + 2, `${badUse.body.issue.length} issues`);

      const longKey = await s.request('POST', 'Patient', { body: { resourceType: 'Patient', [`k${'y'.repeat(100_000)}`]: 1 } });
      assert.equal(longKey.status, 400, diagnostics(longKey.body));
      assert.ok(JSON.stringify(longKey.body).length < 16 * 1024, `${JSON.stringify(longKey.body).length} bytes`);
    });

    test('POST _search takes a form only: JSON, Parameters and XML bodies are 415, never a 500 nor an unfiltered search', async () => {
      await s.request('POST', 'Patient', { body: { resourceType: 'Patient', name: [{ family: 'Searched' }] } });
      const bodies: Array<[string, string]> = [
        ['application/fhir+json', '[1,2,3]'],
        ['application/fhir+json', '[["family","Nope"]]'],
        ['application/fhir+json', '{"family":"Nope"}'],
        ['application/fhir+json', JSON.stringify({ resourceType: 'Parameters', parameter: [{ name: 'family', valueString: 'Nope' }] })],
        ['application/fhir+xml', '<Parameters xmlns="http://hl7.org/fhir"><parameter><name value="family"/><valueString value="Nope"/></parameter></Parameters>'],
      ];
      for (const [type, raw] of bodies) {
        for (const path of ['Patient/_search', '_search']) {
          const r = await s.request('POST', path, { raw, headers: { 'content-type': type, accept: 'application/fhir+json' } });
          assert.equal(r.status, 415, `${path} ${raw}: ${r.status} ${diagnostics(r.body)}`);
          assert.equal(r.body.resourceType, 'OperationOutcome');
          assert.match(diagnostics(r.body), /x-www-form-urlencoded/);
        }
      }
      const form = await s.request('POST', 'Patient/_search', { raw: 'family=Searched', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      assert.equal(form.status, 200, diagnostics(form.body));
      assert.equal((form.body.entry?.length ?? 0), 1);
      const empty = await s.request('POST', 'Patient/_search?family=Searched', { headers: { 'content-type': 'application/fhir+json' } });
      assert.equal(empty.status, 200, diagnostics(empty.body));
      // And a form is no resource: a create, an update or a bundle sent as one is a 415 (it was a 400).
      for (const [method, path] of [['POST', 'Patient'], ['PUT', 'Patient/form-1'], ['POST', '']] as const) {
        const r = await s.request(method, path, { raw: 'resourceType=Patient&family=Form', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/fhir+json' } });
        assert.equal(r.status, 415, `${method} /${path}: ${r.status} ${diagnostics(r.body)}`);
        assert.equal(r.body.resourceType, 'OperationOutcome');
      }
    });

    test('a compressed body (Content-Encoding: gzip) is 415 with an OperationOutcome', async () => {
      const r = await s.request('POST', 'Patient', {
        raw: gzipSync(JSON.stringify({ resourceType: 'Patient' })),
        headers: { 'content-type': 'application/fhir+json', 'content-encoding': 'gzip' },
      });
      assert.equal(r.status, 415, diagnostics(r.body));
      assert.equal(r.body.resourceType, 'OperationOutcome');
      assert.match(diagnostics(r.body), /Content-Encoding "gzip"/);
      const identity = await s.request('POST', 'Patient', { body: { resourceType: 'Patient' }, headers: { 'content-encoding': 'identity' } });
      assert.equal(identity.status, 201, diagnostics(identity.body));
    });
  });
}

test('a RangeError from a library on a large input is a 4xx too-costly, never a 500', () => {
  let overflow: unknown;
  const recurse = (n: number): number => recurse(n + 1) + 1;
  try {
    recurse(0);
  } catch (error) {
    overflow = error;
  }
  assert.ok(overflow instanceof RangeError);
  const mapped = asFhirError(overflow);
  assert.equal(mapped.status, 422);
  assert.equal(mapped.toOutcome().issue[0]!.code, 'too-costly');
  assert.equal(asFhirError(new RangeError('Invalid string length')).status, 422);
  assert.equal(asFhirError(new TypeError('x is not iterable')).status, 500);
});
