import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testDrivers } from '../support/databases.js';
import { namedCreator, startFhirServer, type FhirTestServer } from './support.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

for (const driver of testDrivers) {
  describe(`FHIR search (${driver})`, () => {
    let s: FhirTestServer;
    const ids: Record<string, string> = {};
    const ofSearch = async (query: string, headers?: Record<string, string>): Promise<string[]> => {
      const reply = await s.request('GET', query, { headers });
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      return (reply.body.entry ?? []).filter((e: Json) => e.search?.mode === 'match').map((e: Json) => e.resource.id).sort();
    };
    const named = (...names: string[]): string[] => names.map((n) => ids[n]!).sort();

    before(async () => {
      s = await startFhirServer(driver);
      const create = namedCreator(() => s, ids);
      await create('org', { resourceType: 'Organization', name: 'Kenyatta Hospital', identifier: [{ system: 'urn:org', value: 'KH' }] });
      await create('gp', { resourceType: 'Practitioner', name: [{ family: 'Otieno', given: ['Grace'] }] });
      await create('ann', {
        resourceType: 'Patient', name: [{ family: 'Çelik', given: ['Ann', 'Marie'] }], gender: 'female', birthDate: '1980-05-02',
        identifier: [{ system: 'urn:mrn', value: 'A1', type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] } }],
        managingOrganization: { reference: `Organization/${ids.org}` }, generalPractitioner: [{ reference: `Practitioner/${ids.gp}` }],
        telecom: [{ system: 'email', value: 'ann@example.org' }], meta: { tag: [{ system: 'urn:tags', code: 'vip' }], profile: ['http://example.org/p'] },
        address: [{ city: 'Nairobi', country: 'KE' }],
      });
      await create('bob', {
        resourceType: 'Patient', name: [{ family: 'Celikson', given: ['Bob'] }], gender: 'male', birthDate: '1975-11-20',
        identifier: [{ system: 'urn:mrn', value: 'B2' }], address: [{ city: 'Mombasa', country: 'KE' }],
      });
      await create('cy', { resourceType: 'Patient', name: [{ family: 'Young', given: ['Cy'] }], birthDate: '2001', active: true });
      const obs = (name: string, patient: string, code: string, value: number, date: string, category = 'laboratory'): Promise<void> => create(name, {
        resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code, display: `Test ${code}` }], text: `Lab ${code}` },
        category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: category }] }],
        subject: { reference: `Patient/${ids[patient]}` }, effectiveDateTime: date,
        valueQuantity: { value, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' },
      });
      await obs('o1', 'ann', '2345-7', 5.4, '2024-01-15T10:00:00Z');
      await obs('o2', 'ann', '2345-7', 7.9, '2024-03-01T10:00:00Z');
      await obs('o3', 'bob', '718-7', 13, '2023-12-31T23:00:00Z');
      await create('bp', {
        resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '85354-9' }] },
        subject: { reference: `Patient/${ids.bob}` },
        component: [
          { code: { coding: [{ system: 'http://loinc.org', code: '8480-6' }] }, valueQuantity: { value: 120, unit: 'mm[Hg]' } },
          { code: { coding: [{ system: 'http://loinc.org', code: '8462-4' }] }, valueQuantity: { value: 80, unit: 'mm[Hg]' } },
        ],
      });
      await create('risk', { resourceType: 'RiskAssessment', status: 'final', subject: { reference: `Patient/${ids.bob}` }, prediction: [{ probabilityDecimal: 0.25 }] });
    });
    after(async () => {
      await s.close();
    });

    test('string: default prefix match ignoring case and accents, :exact and :contains', async () => {
      assert.deepEqual(await ofSearch('Patient?family=celik'), named('ann', 'bob'));
      assert.deepEqual(await ofSearch('Patient?family:exact=Çelik'), named('ann'));
      assert.deepEqual(await ofSearch('Patient?family:exact=celik'), []);
      assert.deepEqual(await ofSearch('Patient?name:contains=ikso'), named('bob'));
      assert.deepEqual(await ofSearch('Patient?name=marie'), named('ann'));
      assert.deepEqual(await ofSearch('Patient?address-city=nair'), named('ann'));
      assert.deepEqual(await ofSearch('Patient?family=young,otieno'), named('cy'));
    });

    test('token: system|code, |code, code, :not, :text, :of-type, booleans, _tag', async () => {
      assert.deepEqual(await ofSearch('Patient?identifier=urn:mrn|A1'), named('ann'));
      assert.deepEqual(await ofSearch('Patient?identifier=A1'), named('ann'));
      assert.deepEqual(await ofSearch('Patient?identifier=urn:other|A1'), []);
      assert.deepEqual(await ofSearch('Patient?gender=female'), named('ann'));
      assert.deepEqual(await ofSearch('Patient?gender:not=female'), named('bob', 'cy'));
      assert.deepEqual(await ofSearch('Observation?code=http://loinc.org|2345-7'), named('o1', 'o2'));
      assert.deepEqual(await ofSearch('Observation?code:text=lab 718'), named('o3'));
      assert.deepEqual(await ofSearch('Patient?identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|A1'), named('ann'));
      // :of-type is for identifiers only: on another token it is a 400, not an empty page.
      const notIdentifier = await s.request('GET', 'Patient?gender:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|A1');
      assert.equal(notIdentifier.status, 400);
      assert.match(JSON.stringify(notIdentifier.body), /of-type is for parameters on identifiers/);
      // R4: "All 3 parts must be present": an empty type code or value matched nothing, silently.
      for (const value of ['http://terminology.hl7.org/CodeSystem/v2-0203|MR|', 'http://terminology.hl7.org/CodeSystem/v2-0203||A1']) {
        const partial = await s.request('GET', `Patient?identifier:of-type=${encodeURIComponent(value)}`);
        assert.equal(partial.status, 400, value);
        assert.match(JSON.stringify(partial.body), /of-type expects/);
      }
      assert.deepEqual(await ofSearch('Patient?active=true'), named('cy'));
      assert.deepEqual(await ofSearch('Patient?_tag=urn:tags|vip'), named('ann'));
      assert.deepEqual(await ofSearch('Patient?email=ann@example.org'), named('ann'));
      // Contact points are matched without regard to case, on both sides (a stored or searched capital was a miss).
      assert.deepEqual(await ofSearch('Patient?email=Ann@Example.ORG'), named('ann'));
      assert.deepEqual(await ofSearch('Patient?telecom=email|ANN@example.org'), named('ann'));
      assert.deepEqual(await ofSearch('Patient?email:not=ANN@example.org'), named('bob', 'cy'));
      assert.deepEqual(await ofSearch(`Patient?_id=${ids.bob},${ids.cy}`), named('bob', 'cy'));
    });

    test('token :in and :not-in a core value set, and _list', async () => {
      assert.deepEqual(await ofSearch('Patient?gender:in=http://hl7.org/fhir/ValueSet/administrative-gender'), named('ann', 'bob'));
      assert.deepEqual(await ofSearch('Patient?gender:not-in=http://hl7.org/fhir/ValueSet/administrative-gender'), named('cy'));
      assert.deepEqual(await ofSearch('Observation?category:in=http://hl7.org/fhir/ValueSet/observation-category'), named('o1', 'o2', 'o3'));
      assert.equal((await s.request('GET', 'Patient?gender:in=http://example.org/nope')).status, 400);
      const list = await s.request('POST', 'List', {
        body: { resourceType: 'List', status: 'current', mode: 'working', entry: [{ item: { reference: `Patient/${ids.bob}` } }, { item: { reference: `Observation/${ids.o1}` } }] },
      });
      assert.deepEqual(await ofSearch(`Patient?_list=${list.body.id}`), named('bob'));
      assert.deepEqual(await ofSearch(`Observation?_list=${list.body.id}`), named('o1'));
    });

    test('uri: _profile, and :missing', async () => {
      assert.deepEqual(await ofSearch('Patient?_profile=http://example.org/p'), named('ann'));
      assert.deepEqual(await ofSearch('Patient?gender:missing=true'), named('cy'));
      assert.deepEqual(await ofSearch('Patient?gender:missing=false'), named('ann', 'bob'));
    });

    test('date prefixes on dates of different precision', async () => {
      assert.deepEqual(await ofSearch('Patient?birthdate=1980'), named('ann'));
      assert.deepEqual(await ofSearch('Patient?birthdate=1980-05-02'), named('ann'));
      assert.deepEqual(await ofSearch('Patient?birthdate=lt1980'), named('bob'));
      assert.deepEqual(await ofSearch('Patient?birthdate=ge1980-05-02'), named('ann', 'cy'));
      assert.deepEqual(await ofSearch('Patient?birthdate=gt2001-06'), named('cy'), 'the year 2001 reaches past June');
      assert.deepEqual(await ofSearch('Patient?birthdate=gt2001-12-31'), []);
      assert.deepEqual(await ofSearch('Patient?birthdate=sa1980-12-31'), named('cy'));
      assert.deepEqual(await ofSearch('Patient?birthdate=eb1980-01-01'), named('bob'));
      assert.deepEqual(await ofSearch('Patient?birthdate=ne1980'), named('bob', 'cy'));
      assert.deepEqual(await ofSearch('Patient?birthdate=ap1980-05-01'), named('ann', 'bob'), 'ap widens by 10% of the distance from now');
      assert.deepEqual(await ofSearch('Patient?birthdate=ap2001-06-01'), named('cy'));
      assert.deepEqual(await ofSearch('Observation?date=ge2024-01-01&date=lt2024-02'), named('o1'));
      assert.deepEqual(await ofSearch('Observation?date=2024-01-01T01:00:00%2B02:00'), named('o3'));
      assert.deepEqual(await ofSearch('Patient?_lastUpdated=gt2000-01-01&family=young'), named('cy'));
    });

    test('quantity and number', async () => {
      assert.deepEqual(await ofSearch('Observation?value-quantity=gt6'), named('o2', 'o3'));
      assert.deepEqual(await ofSearch('Observation?value-quantity=5.4|http://unitsofmeasure.org|mmol/L'), named('o1'));
      assert.deepEqual(await ofSearch('Observation?value-quantity=5|http://unitsofmeasure.org|mmol/L'), named('o1'));
      assert.deepEqual(await ofSearch('Observation?value-quantity=le7.9'), named('o1', 'o2'));
      assert.deepEqual(await ofSearch('Observation?value-quantity=13||mg'), []);
      assert.deepEqual(await ofSearch('RiskAssessment?probability=0.25'), named('risk'));
      assert.deepEqual(await ofSearch('RiskAssessment?probability=gt0.3'), []);
    });

    test('composite parameters match components of the same element', async () => {
      assert.deepEqual(await ofSearch('Observation?code-value-quantity=http://loinc.org|2345-7$gt7'), named('o2'));
      assert.deepEqual(await ofSearch('Observation?code-value-quantity=2345-7$gt7,718-7$13'), named('o2', 'o3'));
      assert.deepEqual(await ofSearch('Observation?component-code-value-quantity=http://loinc.org|8480-6$gt100'), named('bp'));
      assert.deepEqual(await ofSearch('Observation?component-code-value-quantity=http://loinc.org|8462-4$gt100'), [],
        'diastolic is 80: the systolic 120 belongs to another component');
      assert.deepEqual(await ofSearch('Observation?combo-code-value-quantity=8462-4$lt90'), named('bp'));
      assert.equal((await s.request('GET', 'Observation?code-value-quantity=2345-7')).status, 400);
    });

    test('reference: id, Type/id, absolute URL, :Type, :missing', async () => {
      assert.deepEqual(await ofSearch(`Observation?subject=Patient/${ids.ann}`), named('o1', 'o2'));
      assert.deepEqual(await ofSearch(`Observation?subject=${ids.bob}`), named('o3', 'bp'));
      assert.deepEqual(await ofSearch(`Observation?subject=${encodeURIComponent(`${s.base}/Patient/${ids.bob}`)}`), named('o3', 'bp'));
      assert.deepEqual(await ofSearch(`Observation?subject:Patient=${ids.bob}`), named('o3', 'bp'));
      assert.deepEqual(await ofSearch(`Observation?subject:Group=${ids.bob}`), []);
      assert.deepEqual(await ofSearch(`Patient?organization:missing=false`), named('ann'));
    });

    test('chained parameters and _has', async () => {
      assert.deepEqual(await ofSearch('Observation?subject:Patient.name=celik'), named('o1', 'o2', 'o3', 'bp'));
      assert.deepEqual(await ofSearch('Observation?subject.birthdate=lt1980'), named('o3', 'bp'));
      assert.deepEqual(await ofSearch('Observation?patient.organization.name=kenyatta'), named('o1', 'o2'));
      assert.deepEqual(await ofSearch('Patient?_has:Observation:subject:code=718-7'), named('bob'));
      assert.deepEqual(await ofSearch('Patient?_has:Observation:subject:value-quantity=gt7'), named('ann', 'bob'));
    });

    test('_include, _include:iterate and _revinclude', async () => {
      const reply = await s.request('GET', `Observation?code=2345-7&_include=Observation:subject&_include:iterate=Patient:organization`);
      const included = (reply.body.entry ?? []).filter((e: Json) => e.search.mode === 'include').map((e: Json) => `${e.resource.resourceType}/${e.resource.id}`).sort();
      assert.deepEqual(included, [`Organization/${ids.org}`, `Patient/${ids.ann}`].sort());
      const rev = await s.request('GET', `Patient?_id=${ids.ann}&_revinclude=Observation:subject`);
      assert.deepEqual((rev.body.entry ?? []).filter((e: Json) => e.search.mode === 'include').map((e: Json) => e.resource.id).sort(), named('o1', 'o2'));
      const typed = await s.request('GET', `Patient?_id=${ids.ann}&_include=Patient:general-practitioner:Practitioner`);
      assert.equal((typed.body.entry?.length ?? 0), 2);
      const star = await s.request('GET', `Patient?_id=${ids.ann}&_include=Patient:*`);
      assert.deepEqual((star.body.entry ?? []).filter((e: Json) => e.search.mode === 'include').map((e: Json) => e.resource.id).sort(), named('org', 'gp'));
    });

    test('_sort on several keys, _count paging with next/previous links, _total', async () => {
      assert.deepEqual(
        ((await s.request('GET', 'Patient?_sort=-birthdate')).body.entry ?? []).map((e: Json) => e.resource.id),
        [ids.cy, ids.ann, ids.bob],
      );
      assert.deepEqual(
        ((await s.request('GET', 'Observation?_sort=code,-date')).body.entry ?? []).map((e: Json) => e.resource.id),
        [ids.o2, ids.o1, ids.o3, ids.bp],
      );
      const first = await s.request('GET', 'Patient?_sort=family&_count=2&_total=accurate');
      assert.equal(first.body.total, 3);
      assert.equal((first.body.entry?.length ?? 0), 2);
      const next = first.body.link.find((l: Json) => l.relation === 'next').url as string;
      const second = await fetch(next).then((r) => r.json()) as Json;
      assert.equal(second.entry.length, 1);
      assert.equal(second.entry[0].resource.id, ids.cy);
      assert.ok(second.link.some((l: Json) => l.relation === 'previous'));
      assert.ok(!second.link.some((l: Json) => l.relation === 'next'));
      const count = await s.request('GET', 'Patient?_summary=count');
      assert.equal(count.body.total, 3);
      assert.equal('entry' in count.body, false, 'no empty entry array (FHIR JSON has no empty arrays)');
    });

    test('next and previous links stay correct while data changes', async () => {
      const made: string[] = [];
      for (let i = 0; i < 5; i++) {
        const reply = await s.request('POST', 'Basic', { body: { resourceType: 'Basic', code: { coding: [{ system: 'urn:paging', code: 'p' }] } } });
        made.push(reply.body.id);
      }
      const page1 = await s.request('GET', 'Basic?code=urn:paging|p&_count=2');
      assert.deepEqual((page1.body.entry ?? []).map((e: Json) => e.resource.id), made.slice(0, 2));
      // Change the data under the client: delete a resource it has seen, add a new one.
      await s.request('DELETE', `Basic/${made[0]}`);
      const added = await s.request('POST', 'Basic', { body: { resourceType: 'Basic', code: { coding: [{ system: 'urn:paging', code: 'p' }] } } });
      const nextUrl = page1.body.link.find((l: Json) => l.relation === 'next').url as string;
      const page2 = (await fetch(nextUrl).then((r) => r.json())) as Json;
      assert.deepEqual(page2.entry.map((e: Json) => e.resource.id), made.slice(2, 4), 'no resource skipped or repeated');
      const page3 = (await fetch(page2.link.find((l: Json) => l.relation === 'next').url).then((r) => r.json())) as Json;
      assert.deepEqual(page3.entry.map((e: Json) => e.resource.id), [made[4], added.body.id]);
      assert.ok(!page3.link.some((l: Json) => l.relation === 'next'));
      const back = (await fetch(page2.link.find((l: Json) => l.relation === 'previous').url).then((r) => r.json())) as Json;
      assert.deepEqual(back.entry.map((e: Json) => e.resource.id), [made[1]]);
      assert.ok(!back.link.some((l: Json) => l.relation === 'previous'));
      assert.equal((await s.request('GET', 'Basic?_cursor=zzz')).status, 400);
    });

    test('_summary and _elements shape the returned resources', async () => {
      const summary = await s.request('GET', `Patient?_id=${ids.ann}&_summary=true`);
      const resource = summary.body.entry[0].resource;
      assert.ok(resource.name);
      assert.equal(resource.telecom[0].value, 'ann@example.org');
      assert.ok(resource.meta.tag.some((t: Json) => t.code === 'SUBSETTED'));
      const elements = await s.request('GET', `Patient?_id=${ids.ann}&_elements=birthDate`);
      const slim = elements.body.entry[0].resource;
      assert.equal(slim.birthDate, '1980-05-02');
      assert.equal(slim.name, undefined);
    });

    test('POST _search with form parameters and system-level search with _type', async () => {
      const reply = await s.request('POST', 'Patient/_search', { raw: 'family=celik&gender=male', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      assert.equal(reply.status, 200);
      assert.deepEqual((reply.body.entry ?? []).map((e: Json) => e.resource.id), [ids.bob]);
      const system = await s.request('GET', `?_type=Patient,Organization&_id=${ids.org},${ids.ann}`);
      assert.deepEqual((system.body.entry ?? []).map((e: Json) => e.resource.id).sort(), named('org', 'ann'));
    });

    test('writes update the index: an updated value is found, the old one is not', async () => {
      const before = await s.request('GET', `Patient/${ids.cy}`);
      await s.request('PUT', `Patient/${ids.cy}`, { body: { ...before.body, name: [{ family: 'Older' }] } });
      assert.deepEqual(await ofSearch('Patient?family=young'), []);
      assert.deepEqual(await ofSearch('Patient?family=older'), named('cy'));
      await s.request('PUT', `Patient/${ids.cy}`, { body: { ...before.body } });
    });
  });
}
