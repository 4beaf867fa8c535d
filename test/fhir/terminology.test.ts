/**
 * The terminology seam behind token :in, :not-in, :above and :below: the core R4 provider by
 * default (value sets, and subsumption from the nesting of a code system's concepts), a provider
 * plugged into an engine, the bound on expansions, and the errors (unknown value set or code,
 * failing provider). uri :above/:below keep their string-prefix meaning.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CoreTerminologyProvider } from '../../src/fhir/terminology/core-provider.js';
import type { CodeSet, TerminologyProvider } from '../../src/fhir/terminology/provider.js';
import { testDrivers } from '../support/databases.js';
import { startFhirServer, type FhirTestServer } from './support.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const CLINICAL = 'http://terminology.hl7.org/CodeSystem/condition-clinical';
const REGIONS = 'urn:test:cs/regions';

/** A small terminology of its own, as the terminology service will plug in: one value set and a three-level hierarchy. */
class TestProvider implements TerminologyProvider {
  calls = 0;
  private readonly tree: Record<string, string[]> = { africa: ['east-africa', 'west-africa'], 'east-africa': ['kenya', 'uganda'], 'west-africa': ['ghana'] };
  async expand(url: string, { limit }: { limit: number }): Promise<CodeSet | undefined> {
    this.calls++;
    if (url === 'urn:test:vs/broken') throw new Error('connection refused');
    if (url !== 'urn:test:vs/east') return undefined;
    return [{ system: REGIONS, code: 'kenya' }, { system: REGIONS, code: 'uganda' }].slice(0, limit + 1);
  }
  async descendants(system: string, code: string, { limit }: { limit: number }): Promise<CodeSet | undefined> {
    if (system !== REGIONS) return undefined;
    const out = [code];
    for (let n = 0; n < out.length; n++) out.push(...(this.tree[out[n]!] ?? []));
    return out.slice(0, limit + 1).map((c) => ({ system, code: c }));
  }
  async ancestors(system: string, code: string): Promise<CodeSet | undefined> {
    if (system !== REGIONS) return undefined;
    const out = [code];
    for (let n = 0; n < out.length; n++) out.push(...Object.keys(this.tree).filter((k) => this.tree[k]!.includes(out[n]!)));
    return out.map((c) => ({ system, code: c }));
  }
}

describe('core terminology provider (pure)', () => {
  const core = new CoreTerminologyProvider();
  test('expands core value sets and follows nested concepts both ways', async () => {
    const codes = (set: CodeSet | undefined): string[] => (set ?? []).map((c) => c.code).sort();
    assert.deepEqual(codes(await core.expand('http://hl7.org/fhir/ValueSet/condition-clinical', { limit: 100 })),
      ['active', 'inactive', 'recurrence', 'relapse', 'remission', 'resolved']);
    assert.deepEqual(codes(await core.descendants(CLINICAL, 'active', { limit: 100 })), ['active', 'recurrence', 'relapse']);
    assert.deepEqual(codes(await core.ancestors(CLINICAL, 'relapse', { limit: 100 })), ['active', 'relapse']);
    assert.equal(await core.expand('http://example.org/no-such-vs', { limit: 100 }), undefined);
    assert.equal(await core.descendants(CLINICAL, 'no-such-code', { limit: 100 }), undefined);
    assert.equal((await core.expand('http://hl7.org/fhir/ValueSet/observation-status', { limit: 2 }))!.length, 3, 'stops at limit + 1');
  });
});

for (const driver of testDrivers) {
  describe(`terminology modifiers (${driver})`, () => {
    let s: FhirTestServer;
    let plugged: FhirTestServer;
    const provider = new TestProvider();
    const ids: Record<string, string> = {};
    const named = (...names: string[]): string[] => names.map((n) => ids[n]!).sort();
    const search = async (server: FhirTestServer, query: string): Promise<string[]> => {
      const reply = await server.request('GET', query, { headers: { prefer: 'handling=strict' } });
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      return (reply.body.entry ?? []).filter((e: Json) => e.search?.mode === 'match').map((e: Json) => e.resource.id).sort();
    };
    const create = async (server: FhirTestServer, name: string, resource: Json): Promise<void> => {
      const reply = await server.request('POST', resource.resourceType, { body: resource });
      assert.equal(reply.status, 201, JSON.stringify(reply.body));
      ids[name] = reply.body.id;
    };

    before(async () => {
      [s, plugged] = await Promise.all([
        startFhirServer(driver, { limits: { fhirSearchMaxTerminologyCodes: 7 } }),
        startFhirServer(driver, { schema: 'fhir_plugged', terminology: provider }),
      ]);
      for (const status of ['final', 'amended', 'corrected', 'preliminary']) {
        await create(s, `obs-${status}`, { resourceType: 'Observation', status, code: { text: status } });
      }
      for (const status of ['active', 'recurrence', 'relapse', 'inactive', 'resolved']) {
        await create(s, `cond-${status}`, {
          resourceType: 'Condition', subject: { reference: 'Patient/p' }, clinicalStatus: { coding: [{ system: CLINICAL, code: status }] },
        });
      }
      await create(s, 'cond-none', { resourceType: 'Condition', subject: { reference: 'Patient/p' } });
      await create(s, 'vs', { resourceType: 'ValueSet', status: 'active', url: 'http://example.org/fhir/ValueSet/a' });
      for (const region of ['kenya', 'uganda', 'ghana', 'africa']) {
        await create(plugged, `loc-${region}`, { resourceType: 'Location', name: region, type: [{ coding: [{ system: REGIONS, code: region }] }] });
      }
    });
    after(async () => {
      await Promise.all([s?.close(), plugged?.close()]);
    });

    test(':in and :not-in a core value set (code and CodeableConcept elements)', async () => {
      assert.deepEqual(await search(s, 'Condition?clinical-status:in=http://hl7.org/fhir/ValueSet/condition-clinical'),
        named('cond-active', 'cond-recurrence', 'cond-relapse', 'cond-inactive', 'cond-resolved'));
      assert.deepEqual(await search(s, 'Condition?clinical-status:not-in=http://hl7.org/fhir/ValueSet/condition-clinical'), named('cond-none'));
      // observation-status has 8 codes, one more than this server's limit of 7 (refused below); the plugged engine has no limit of 7.
      const obsIds = named('obs-final', 'obs-amended', 'obs-corrected', 'obs-preliminary');
      assert.deepEqual(await search(s, 'Observation?status:in=http://hl7.org/fhir/ValueSet/administrative-gender'), []);
      assert.deepEqual(await search(s, 'Observation?status:not-in=http://hl7.org/fhir/ValueSet/administrative-gender'), obsIds);
    });

    test(':below and :above follow the code system hierarchy; uri matches by path segments', async () => {
      assert.deepEqual(await search(s, `Condition?clinical-status:below=${CLINICAL}|active`), named('cond-active', 'cond-recurrence', 'cond-relapse'));
      assert.deepEqual(await search(s, `Condition?clinical-status:above=${CLINICAL}|relapse`), named('cond-active', 'cond-relapse'));
      assert.deepEqual(await search(s, 'Observation?status:below=http://hl7.org/fhir/observation-status|amended'), named('obs-amended', 'obs-corrected'));
      assert.deepEqual(await search(s, 'ValueSet?url:below=http://example.org/fhir'), named('vs'));
      assert.deepEqual(await search(s, 'ValueSet?url:above=http://example.org/fhir/ValueSet/a/b'), named('vs'));
      // By path segments, not characters (R4 search, uri :above/:below).
      assert.deepEqual(await search(s, 'ValueSet?url:below=http://example.org/fhir/'), named('vs'));
      assert.deepEqual(await search(s, 'ValueSet?url:below=http://example.org/fhir/ValueSet/a'), named('vs'), 'the URI itself is below itself');
      assert.deepEqual(await search(s, 'ValueSet?url:below=http://example.org/fh'), []);
      assert.deepEqual(await search(s, 'ValueSet?url:above=http://example.org/fhir/ValueSet/ab'), []);
      assert.deepEqual(await search(s, 'ValueSet?url:above=http://example.org/fhir/ValueSet/a'), named('vs'));
    });

    test('a plugged-in provider answers :in, :not-in, :below and :above', async () => {
      assert.deepEqual(await search(plugged, 'Location?type:in=urn:test:vs/east'), named('loc-kenya', 'loc-uganda'));
      assert.deepEqual(await search(plugged, 'Location?type:not-in=urn:test:vs/east'), named('loc-ghana', 'loc-africa'));
      assert.deepEqual(await search(plugged, `Location?type:below=${REGIONS}|east-africa`), named('loc-kenya', 'loc-uganda'));
      assert.deepEqual(await search(plugged, `Location?type:below=${REGIONS}|africa`), named('loc-kenya', 'loc-uganda', 'loc-ghana', 'loc-africa'));
      assert.deepEqual(await search(plugged, `Location?type:above=${REGIONS}|ghana`), named('loc-ghana', 'loc-africa'));
      assert.deepEqual(await search(plugged, `Location?type:in=urn:test:vs/east&name=kenya`), named('loc-kenya'));
      // The core value sets are the default provider's, not this engine's.
      const core = await plugged.request('GET', 'Condition?clinical-status:in=http://hl7.org/fhir/ValueSet/condition-clinical');
      assert.equal(core.status, 400);
    });

    test('unknown value sets and codes, and bad values, are 400 OperationOutcomes saying so', async () => {
      const unknownSet = await s.request('GET', 'Condition?clinical-status:in=http://example.org/ValueSet/nope');
      assert.equal(unknownSet.status, 400);
      assert.equal(unknownSet.body.issue[0].details.coding[0].code, 'FHIR_UNKNOWN_TERMINOLOGY');
      assert.match(unknownSet.body.issue[0].diagnostics, /value set http:\/\/example.org\/ValueSet\/nope is unknown/);
      const unknownCode = await s.request('GET', `Condition?clinical-status:below=${CLINICAL}|nope`);
      assert.equal(unknownCode.status, 400);
      assert.match(unknownCode.body.issue[0].diagnostics, /code nope of .* is unknown/);
      const noSystem = await s.request('GET', 'Condition?clinical-status:below=active');
      assert.equal(noSystem.status, 400);
      assert.match(noSystem.body.issue[0].diagnostics, /needs system\|code/);
      const bundle = await s.request('POST', '', { body: { resourceType: 'Bundle', type: 'batch', entry: [
        { request: { method: 'GET', url: 'Condition?clinical-status:in=http://example.org/ValueSet/nope' } },
      ] } });
      assert.equal(bundle.status, 200);
      assert.match(bundle.body.entry[0].response.status, /^400/);
    });

    test('expansions past FHIR_SEARCH_MAX_TERMINOLOGY_CODES are refused as too costly', async () => {
      const refused = await s.request('GET', 'Observation?status:in=http://hl7.org/fhir/ValueSet/observation-status');
      assert.equal(refused.status, 400);
      assert.equal(refused.body.issue[0].code, 'too-costly');
      assert.match(refused.body.issue[0].diagnostics, /FHIR_SEARCH_MAX_TERMINOLOGY_CODES/);
      // The bound is per search: two value sets of 6 codes each are 12 together.
      const together = await s.request('GET', 'Condition?clinical-status:in=http://hl7.org/fhir/ValueSet/condition-clinical&verification-status:in=http://hl7.org/fhir/ValueSet/condition-ver-status');
      assert.equal(together.status, 400);
      assert.equal(together.body.issue[0].code, 'too-costly');
    });

    test('a failing provider is a 503, not a 500', async () => {
      const failed = await plugged.request('GET', 'Location?type:in=urn:test:vs/broken');
      assert.equal(failed.status, 503);
      assert.equal(failed.body.issue[0].code, 'transient');
    });
  });
}
