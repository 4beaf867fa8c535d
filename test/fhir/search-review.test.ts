/**
 * R4 search.html, second review round: the precision of numbers in exponential form (#number),
 * paging links (#paging: first), the self link echoing only what was applied (#conformance),
 * _contained / _containedType, chains evaluated inside contained resources (#contained), and
 * _has in a system-level search (#has with #all), modifier extensions in _summary=true (#summary).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseNumberRange } from '../../src/fhir/search/values.js';
import { testDrivers } from '../support/databases.js';
import { namedCreator, startFhirServer, type FhirTestServer } from './support.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const STRICT = { prefer: 'handling=strict' };

test('parseNumberRange: a half unit of the last digit; in exponential form as R4\'s table reads 1e2, [95, 105)', () => {
  const range = (text: string): [number, number] => {
    const n = parseNumberRange(text);
    return [n.low, n.high];
  };
  assert.deepEqual(range('100'), [99.5, 100.5]);
  assert.deepEqual(range('100.00'), [99.995, 100.005]);
  assert.deepEqual(range('1e2'), [95, 105]);
  assert.deepEqual(range('1.5e2'), [149.5, 150.5]);
  assert.equal(parseNumberRange('1e2').half, '5e0');
  assert.equal(parseNumberRange('1e-1').half, '5e-3');
});

for (const driver of testDrivers) {
  describe(`FHIR search review (${driver})`, () => {
    let s: FhirTestServer;
    const ids: Record<string, string> = {};
    const matches = async (query: string, headers: Record<string, string> = STRICT): Promise<string[]> => {
      const reply = await s.request('GET', query, { headers });
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      return (reply.body.entry ?? []).filter((e: Json) => e.search?.mode === 'match').map((e: Json) => e.resource.id).sort();
    };
    const named = (...names: string[]): string[] => names.map((n) => ids[n]!).sort();
    const link = (body: Json, relation: string): string | undefined => body.link?.find((l: Json) => l.relation === relation)?.url;

    before(async () => {
      s = await startFhirServer(driver);
      const create = namedCreator(() => s, ids);
      const weight = (value: number): Record<string, unknown> & { resourceType: string } => ({
        resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '29463-7' }] },
        valueQuantity: { value, unit: 'kg', system: 'http://unitsofmeasure.org', code: 'kg' },
      });
      for (const value of [94, 96, 99.6, 100, 104, 110]) await create(`w${value}`, weight(value));
      for (const p of [0.094, 0.096, 0.1, 0.104, 0.11]) {
        await create(`r${p}`, { resourceType: 'RiskAssessment', status: 'final', subject: { reference: 'Patient/x' }, prediction: [{ probabilityDecimal: p }] });
      }
      for (const family of ['Ash', 'Birch', 'Cedar']) await create(family, { resourceType: 'Patient', name: [{ family }] });
    });
    after(async () => {
      await s.close();
    });

    test('#number: 100 is [99.5, 100.5), 1e2 is [95, 105) as R4\'s table says, 100.0 [99.95, 100.05)', async () => {
      assert.deepEqual(await matches('Observation?value-quantity=100'), named('w99.6', 'w100'));
      assert.deepEqual(await matches('Observation?value-quantity=1e2'), named('w96', 'w99.6', 'w100', 'w104'));
      assert.deepEqual(await matches('Observation?value-quantity=1e2|http://unitsofmeasure.org|kg'), named('w96', 'w99.6', 'w100', 'w104'));
      assert.deepEqual(await matches('Observation?value-quantity=100.0'), named('w100'));
      assert.deepEqual(await matches('Observation?value-quantity=ne1e2'), named('w94', 'w110'));
      assert.deepEqual(await matches('RiskAssessment?probability=1e-1'), named('r0.096', 'r0.1', 'r0.104'));
      assert.deepEqual(await matches('RiskAssessment?probability=0.10'), named('r0.096', 'r0.1', 'r0.104'));
      assert.deepEqual(await matches('RiskAssessment?probability=0.100'), named('r0.1'));
      assert.equal((await matches('RiskAssessment?probability=0.1')).length, 5, '[0.05, 0.15)');
    });

    test('#paging: a first link beside self, next and previous; it leads to the first page of the same result', async () => {
      const unsorted = await s.request('GET', 'Patient?_count=1');
      assert.equal(link(unsorted.body, 'first'), `${s.base}/Patient?_count=1`);
      const second = await s.request('GET', link(unsorted.body, 'next')!.slice(s.base.length + 1));
      assert.equal(link(second.body, 'first'), `${s.base}/Patient?_count=1`);
      assert.ok(link(second.body, 'previous'));
      const sorted = await s.request('GET', 'Patient?_sort=-family&_count=1');
      const sortedSecond = await s.request('GET', link(sorted.body, 'next')!.slice(s.base.length + 1));
      assert.equal(sortedSecond.body.entry[0].resource.id, ids.Birch);
      const first = await s.request('GET', link(sortedSecond.body, 'first')!.slice(s.base.length + 1));
      assert.deepEqual(first.body.entry.map((e: Json) => e.resource.id), [ids.Cedar]);
      assert.equal(link(first.body, 'previous'), undefined);
      const counted = await s.request('GET', 'Patient?_summary=count');
      assert.equal(link(counted.body, 'first'), undefined, 'a count has no pages');
    });

    test('#paging: a last link, to the last page of the same result, which has no next', async () => {
      const follow = async (url: string): Promise<Json> => (await s.request('GET', url.slice(s.base.length + 1))).body;
      const unsorted = await s.request('GET', 'Patient?_count=2');
      const last = await follow(link(unsorted.body, 'last')!);
      assert.deepEqual(last.entry.map((e: Json) => e.resource.id), [ids.Birch, ids.Cedar]);
      assert.equal(link(last, 'next'), undefined);
      assert.equal(link(last, 'self'), link(unsorted.body, 'last'), 'its self link is the same page');
      const before = await follow(link(last, 'previous')!);
      assert.deepEqual(before.entry.map((e: Json) => e.resource.id), [ids.Ash]);
      const sorted = await s.request('GET', 'Patient?_sort=family&_count=2');
      const sortedLast = await follow(link(sorted.body, 'last')!);
      assert.deepEqual(sortedLast.entry.map((e: Json) => e.resource.id), [ids.Cedar]);
      assert.equal(link(sortedLast, 'next'), undefined);
    });

    test('#conformance: the self link leaves out ignored _sort keys and empty alternatives', async () => {
      const reply = await s.request('GET', 'Patient?_sort=bogus,family&family=Ash,,Birch,&_count=5');
      assert.equal(reply.status, 200);
      assert.equal(link(reply.body, 'self'), `${s.base}/Patient?_sort=family&family=Ash%2CBirch&_count=5`);
      const none = await s.request('GET', 'Patient?_sort=bogus&_count=5');
      assert.equal(link(none.body, 'self'), `${s.base}/Patient?_count=5`, 'no key applied: no _sort');
    });

    test('#contained: "a chained condition will be evaluated inside contained resources", the one the reference points at', async () => {
      const create = namedCreator(() => s, ids);
      await create('maker', { resourceType: 'Organization', name: 'Maker' });
      await create('order', {
        resourceType: 'MedicationRequest', status: 'active', intent: 'order', subject: { reference: `Patient/${ids.Ash}` },
        contained: [
          { resourceType: 'Medication', id: 'm1', code: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '1049502' }], text: 'Oxycodone' }, manufacturer: { reference: `Organization/${ids.maker}` } },
          { resourceType: 'Medication', id: 'm2', code: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '7052' }], text: 'Morphine' } },
        ],
        medicationReference: { reference: '#m1' }, supportingInformation: [{ reference: '#m2' }],
      });
      await create('inside', {
        resourceType: 'Observation', status: 'final', code: { text: 'x' },
        contained: [{ resourceType: 'Patient', id: 'p', name: [{ family: 'Inside' }], gender: 'female' }], subject: { reference: '#p' },
      });
      await create('outside', { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: `Patient/${ids.Ash}` } });
      assert.deepEqual(await matches('MedicationRequest?medication.code=1049502'), named('order'));
      assert.deepEqual(await matches('MedicationRequest?medication:Medication.code=http://www.nlm.nih.gov/research/umls/rxnorm|1049502'), named('order'));
      assert.deepEqual(await matches('MedicationRequest?medication.code:text=oxy'), named('order'));
      assert.deepEqual(await matches('MedicationRequest?medication.code=7052'), [], 'm2 is contained, but not the medication');
      assert.deepEqual(await matches(`MedicationRequest?medication.manufacturer=Organization/${ids.maker}`), named('order'));
      assert.deepEqual(await matches('Medication?code=1049502'), [], 'a contained resource is not a match of its own type');
      assert.deepEqual(await matches('Observation?subject:Patient.name=inside'), named('inside'));
      assert.deepEqual(await matches('Observation?subject.name=inside,ash'), named('inside', 'outside'), 'contained and stored targets together');
      assert.deepEqual(await matches('Observation?patient.gender=female'), named('inside'), 'resolve() is Patient holds for a contained Patient');
      assert.deepEqual(await matches('Observation?subject:Patient.gender:not=female'), named('outside'), 'negations look at stored targets only');
      assert.deepEqual(await matches('Patient?name=inside'), []);
      const included = await s.request('GET', `MedicationRequest?_id=${ids.order}&_include=*`);
      assert.deepEqual(included.body.entry.filter((e: Json) => e.search.mode === 'include').map((e: Json) => e.resource.id), [ids.Ash],
        '_include=* follows the resource\'s own references, not its contained resources\'');
      const revincluded = await s.request('GET', `Organization?_id=${ids.maker}&_revinclude=*`);
      assert.equal(revincluded.body.entry.filter((e: Json) => e.search.mode === 'include').length, 0);
    });

    test('#has at the system level: _has selects among the types of _type (or any type without it)', async () => {
      const create = namedCreator(() => s, ids);
      await create('group', { resourceType: 'Group', type: 'person', actual: true });
      await create('flagged', { resourceType: 'Flag', status: 'active', identifier: [{ system: 'urn:flag', value: 'fall' }], code: { text: 'fall risk' }, subject: { reference: `Patient/${ids.Birch}` } });
      await create('groupFlag', { resourceType: 'Flag', status: 'active', identifier: [{ system: 'urn:flag', value: 'fall' }], code: { text: 'fall risk' }, subject: { reference: `Group/${ids.group}` } });
      assert.deepEqual(await matches('?_type=Patient&_has:Flag:subject:identifier=urn:flag|fall'), named('Birch'));
      assert.deepEqual(await matches('?_type=Patient,Group&_has:Flag:subject:identifier=urn:flag|fall'), named('Birch', 'group'));
      assert.deepEqual(await matches('?_has:Flag:subject:identifier=urn:flag|fall'), named('Birch', 'group'));
      assert.deepEqual(await matches('?_type=Patient&_has:Flag:subject:identifier=urn:flag|other'), []);
    });

    test('#summary: _summary=true keeps a modifierExtension (a modifier at the root is a summary element), not other extensions', async () => {
      const create = namedCreator(() => s, ids);
      await create('modified', {
        resourceType: 'Patient', name: [{ family: 'Modified' }], birthDate: '2000-01-01',
        modifierExtension: [{ url: 'http://example.org/not-a-real-person', valueBoolean: true }],
        extension: [{ url: 'http://example.org/colour', valueString: 'blue' }],
      });
      const reply = await s.request('GET', `Patient?_id=${ids.modified}&_summary=true`, { headers: STRICT });
      const summary = reply.body.entry[0].resource;
      assert.deepEqual(summary.modifierExtension, [{ url: 'http://example.org/not-a-real-person', valueBoolean: true }]);
      assert.equal(summary.extension, undefined);
      assert.deepEqual(summary.name, [{ family: 'Modified' }]);
      assert.ok(summary.meta.tag.some((t: Json) => t.code === 'SUBSETTED'));
      const read = await s.request('GET', `Patient/${ids.modified}?_summary=true`);
      assert.ok(read.body.modifierExtension, 'a read with _summary=true too');
    });

    test('#contained: _contained=false and _containedType are the defaults every search applies; true and both are not supported', async () => {
      const all = await matches('Patient');
      assert.deepEqual(await matches('Patient?_contained=false'), all);
      assert.deepEqual(await matches('Patient?_contained=false&_containedType=container'), all);
      const echoed = await s.request('GET', 'Patient?_contained=false&_count=5', { headers: STRICT });
      assert.equal(link(echoed.body, 'self'), `${s.base}/Patient?_contained=false&_count=5`);
      const strict = await s.request('GET', 'Patient?_contained=true', { headers: STRICT });
      assert.equal(strict.status, 400);
      assert.equal(strict.body.issue[0].details.coding[0].code, 'FHIR_UNKNOWN_PARAMETER');
      const lenient = await s.request('GET', 'Patient?_contained=both');
      assert.equal(lenient.status, 200);
      assert.match(JSON.stringify(lenient.body.entry.find((e: Json) => e.search.mode === 'outcome')), /_contained/);
      for (const query of ['_contained=maybe', '_containedType=other']) {
        const bad = await s.request('GET', `Patient?${query}`);
        assert.equal(bad.status, 400, query);
        assert.equal(bad.body.resourceType, 'OperationOutcome');
      }
    });
  });
}
