/**
 * Attack round of 2026-12-04: every service runs in one Node process, and FHIR XML and JSON were
 * written and read in one synchronous go. A search page of 40 stored Patients of 44,000 elements
 * each (within FHIR_MAX_RESOURCE_ELEMENTS and FHIR_SEARCH_MAX_PAGE_BYTES) asked with
 * `_format=xml` held the event loop 18 s (the router, the admin API and every service with it);
 * as JSON 3 s. A 16 MB FHIR XML body of 900,000 elements held it 6 s before its 413. Answers are
 * now written entry by entry and XML bodies read in slices, sharing the event loop, and an XML
 * resource past FHIR_MAX_RESOURCE_ELEMENTS is refused as soon as its element past the limit opens.
 */
import assert from 'node:assert/strict';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { after, before, describe, test } from 'node:test';
import type { Bundle } from '@medplum/fhirtypes';
import { parseJsonKeepingDecimals, stringifyJsonInTurns, stringifyJsonKeepingDecimals } from '../../src/common/json-decimals.js';
import { resourceToXml, resourceToXmlInTurns, xmlToResource, xmlToResourceInTurns } from '../../src/fhir/format/xml.js';
import { EventLoopTurns } from '../../src/fhir/event-loop-turns.js';
import type { FhirRequest } from '../../src/fhir/interaction.js';
import { checkJsonShape } from '../../src/fhir/http/fastify.js';
import { diagnostics, startLimitedFhirServer, type LimitedFhirServer } from './fhir-body-support.js';

/**
 * Work done in one go stalls the event loop for (nearly) all of the request's time; shared, for a
 * slice of it. Compared with the request's own time, so a busy machine (which stretches both)
 * does not decide; the stalls were seconds, most of the request.
 */
function assertShared(what: string, run: { stallMs: number; ms: number }): void {
  assert.ok(run.stallMs < Math.max(run.ms / 2, 250), `${what} held the event loop ${Math.round(run.stallMs)} ms of the request's ${Math.round(run.ms)} ms`);
}

const widePatient = (i: number, names: number) => ({
  resourceType: 'Patient', id: `wide${i}`, meta: { versionId: '1', lastUpdated: '2026-12-04T00:00:00.000Z' },
  name: Array.from({ length: names }, () => ({ family: 'F', given: ['g', 'g', 'g', 'g', 'g', 'g', 'g'] })),
});

const page = (resources: unknown[]): Bundle => ({
  resourceType: 'Bundle', type: 'searchset', total: resources.length,
  link: [{ relation: 'self', url: 'http://x/fhir/Patient' }],
  entry: resources.map((resource) => ({ fullUrl: 'http://x/fhir/Patient/1', resource, search: { mode: 'match' } })) as Bundle['entry'],
});

async function stallDuring<T>(work: () => Promise<T>): Promise<{ result: T; stallMs: number; ms: number }> {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const start = performance.now();
  try {
    const result = await work();
    return { result, stallMs: delay.max / 1e6, ms: performance.now() - start };
  } finally {
    delay.disable();
  }
}

describe('FHIR formats share the event loop', () => {
  test('written and read in turns, a body is the same text and resource as written and read in one go', async () => {
    const turns = new EventLoopTurns(0);
    // A decimal whose text JavaScript would change, and astral characters across read slices.
    const bundle = parseJsonKeepingDecimals(JSON.stringify(page([
      { resourceType: 'Observation', status: 'final', code: { text: '😀'.repeat(40_000) }, valueQuantity: { value: 1 } },
      widePatient(1, 3),
      { resourceType: 'Observation', status: 'final', code: { text: 'x' } },
    ])).replace('"value":1}', '"value":1.50}')) as Record<string, unknown>;
    assert.equal(String(await stringifyJsonInTurns(bundle, () => turns.share())), stringifyJsonKeepingDecimals(bundle));
    assert.equal(String(await stringifyJsonInTurns(bundle, () => turns.share(), 2)), stringifyJsonKeepingDecimals(bundle, 2));
    assert.match(String(await stringifyJsonInTurns(bundle, () => turns.share())), /"value":1\.50/);
    for (const pretty of [false, true]) {
      const xml = String(await resourceToXmlInTurns(bundle, turns, { pretty }));
      assert.equal(xml, resourceToXml(bundle, { pretty }));
      assert.deepEqual(await xmlToResourceInTurns(xml, turns), xmlToResource(xml));
    }
    const signed = { ...bundle, signature: { type: [{ system: 'urn:iso-astm:E1762-95:2013', code: '1.2.840.10065.1.12.1.1' }], when: '2026-12-04T00:00:00Z', who: { display: 'x' } } };
    assert.equal(String(await resourceToXmlInTurns(signed, turns)), resourceToXml(signed));
  });

  describe('over HTTP (pglite: the storage is not the point)', () => {
    let s: LimitedFhirServer;
    before(async () => {
      s = await startLimitedFhirServer('pglite');
      // A search page as large as the limits let one be, without storing it first (writing 30 such
      // resources costs minutes of validation): the engine answers it for `Patient?_tag=wide`.
      const wide = page(Array.from({ length: 30 }, (_, i) => widePatient(i, 5_500)));
      const handle = s.engine.handle.bind(s.engine);
      s.engine.handle = async (request: FhirRequest, context?: Parameters<typeof handle>[1]) =>
        request.method === 'GET' && request.path === 'Patient' && request.query.some(([key, value]) => key === '_tag' && value === 'wide')
          ? { status: 200, resource: wide }
          : handle(request, context);
    });
    after(async () => {
      await s.close();
    });

    test('a large search page is answered in XML and in JSON without holding the event loop', async () => {
      for (const format of ['xml', 'json']) {
        const run = await stallDuring(async () => {
          const response = await fetch(`${s.base}/Patient?_tag=wide&_format=${format}`);
          return { status: response.status, text: await response.text() };
        });
        assert.equal(run.result.status, 200);
        assert.ok(run.result.text.length > 8_000_000, `a ${run.result.text.length}-character page`);
        assertShared(`writing the page as ${format}`, run);
      }
    });

    test('a 10 MB XML resource of 600,000 elements is 413 at FHIR_MAX_RESOURCE_ELEMENTS without holding the event loop', async () => {
      const xml = `<Patient xmlns="http://hl7.org/fhir"><name><family value="G"/>${'<given value="a"/>'.repeat(600_000)}</name></Patient>`;
      const run = await stallDuring(() => s.request('POST', 'Patient', { raw: xml, headers: { 'content-type': 'application/fhir+xml', accept: 'application/fhir+json' } }));
      assert.equal(run.result.status, 413, diagnostics(run.result.body));
      assert.match(diagnostics(run.result.body), /FHIR_MAX_RESOURCE_ELEMENTS/);
      assertShared('reading the body', run);
    });

    test('an XML Bundle whose entries are each within the limit is read in slices, then counted as a whole', async () => {
      // A collection is one resource with its entries (fastify.ts checkJsonShape): 20 x 30,000 elements are refused after reading.
      const entry = `<entry><resource><Patient><name><family value="G"/>${'<given value="a"/>'.repeat(30_000)}</name></Patient></resource></entry>`;
      const xml = `<Bundle xmlns="http://hl7.org/fhir"><type value="collection"/>${entry.repeat(20)}</Bundle>`;
      const run = await stallDuring(() => s.request('POST', 'Bundle', { raw: xml, headers: { 'content-type': 'application/fhir+xml', accept: 'application/fhir+json' } }));
      assert.equal(run.result.status, 413, diagnostics(run.result.body));
      assertShared('reading the body', run);
    });
  });
});

describe('the element count stops at the limit', () => {
  // checkJsonShape pushed every child of a node before counting any: a list of 3,000,000 values
  // (a 15 MB body) cost 3-5 s of walking after its parse, before the 413 it was always going to get.
  test('a list or an object far past FHIR_MAX_RESOURCE_ELEMENTS is refused before its members are walked', () => {
    // Members read are counted (a proxy), not timed: a busy machine decides no result. Walking
    // before counting read all 3,000,000 (3-5 s).
    let reads = 0;
    const counted = <T extends object>(target: T): T => new Proxy(target, { get: (t, key, receiver) => { reads++; return Reflect.get(t, key, receiver); } });
    const list = { resourceType: 'Basic', code: { text: 'x' }, extension: counted(new Array(3_000_000).fill({})) };
    const members = counted({ resourceType: 'Basic', code: { text: 'x' }, ...Object.fromEntries(Array.from({ length: 300_000 }, (_, i) => [`m${i}`, 1])) });
    for (const body of [list, members]) {
      reads = 0;
      assert.throws(() => checkJsonShape(body, 100, 50_000), (error: unknown) => (error as { status?: number }).status === 413);
      assert.ok(reads <= 50_000, `${reads} members read before the refusal`);
    }
    // A batch's entries count one by one: 3 entries of 40,000 values each pass.
    const entry = { resource: { resourceType: 'Basic', code: { text: 'x' }, extension: new Array(40_000).fill('a') }, request: { method: 'POST', url: 'Basic' } };
    checkJsonShape({ resourceType: 'Bundle', type: 'batch', entry: [entry, entry, entry] }, 100, 50_000);
  });
});
