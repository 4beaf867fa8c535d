/**
 * Search behaviours R4 search.html states in words, found missing by a REST conformance review:
 * implicit systems of code elements (#token), parameters with _type (#all), combo composites on
 * the Observation itself, _count=0 (#count), escaped bars (#escaping), :missing on contained
 * references, impossible dates, unknown _sort keys and compartment search (#compartments), in the
 * five compartments R4 defines, escaped $ in composites, and _revinclude's target type (#revinclude).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testDrivers } from '../support/databases.js';
import { namedCreator, startFhirServer, type FhirTestServer } from './support.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const STRICT = { prefer: 'handling=strict' };
const GENDER = 'http://hl7.org/fhir/administrative-gender';

for (const driver of testDrivers) {
  describe(`FHIR search conformance (${driver})`, () => {
    let s: FhirTestServer;
    const ids: Record<string, string> = {};
    const matches = async (query: string, headers?: Record<string, string>): Promise<string[]> => {
      const reply = await s.request('GET', query, { headers });
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      return (reply.body.entry ?? []).filter((e: Json) => e.search?.mode === 'match').map((e: Json) => e.resource.id).sort();
    };
    const named = (...names: string[]): string[] => names.map((n) => ids[n]!).sort();
    const outcomeOf = (body: Json): string => JSON.stringify((body.entry ?? []).filter((e: Json) => e.search?.mode === 'outcome'));

    before(async () => {
      s = await startFhirServer(driver);
      const create = namedCreator(() => s, ids);
      await create('ann', { resourceType: 'Patient', gender: 'female', name: [{ family: 'Zedd' }], birthDate: '2024-02-29' });
      await create('bob', { resourceType: 'Patient', gender: 'male', name: [{ family: 'Moyo' }], identifier: [{ system: 'urn:e', value: 'p|q' }] });
      await create('pq', { resourceType: 'Patient', identifier: [{ system: 'p', value: 'q' }] });
      await create('doc', { resourceType: 'Practitioner', gender: 'male', name: [{ family: 'Zedd' }] });
      await create('org', { resourceType: 'Organization', name: 'Zedd clinic' });
      await create('weight', {
        resourceType: 'Observation', status: 'final', subject: { reference: `Patient/${ids.bob}` },
        code: { coding: [{ system: 'http://loinc.org', code: '29463-7' }] },
        valueQuantity: { value: 80, unit: 'kg', system: 'http://unitsofmeasure.org', code: 'kg' },
      });
      await create('bp', {
        resourceType: 'Observation', status: 'preliminary', performer: [{ reference: `Patient/${ids.bob}` }],
        code: { coding: [{ system: 'http://loinc.org', code: '85354-9' }] },
        component: [{ code: { coding: [{ system: 'http://loinc.org', code: '8480-6' }] }, valueQuantity: { value: 120, unit: 'mm[Hg]' } }],
      });
      await create('contained', {
        resourceType: 'Observation', status: 'final', code: { text: 'x' },
        contained: [{ resourceType: 'Patient', id: 'p', gender: 'male' }], subject: { reference: '#p' },
      });
      await create('nosubject', {
        resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '882-1' }] },
        valueCodeableConcept: { coding: [{ system: 'http://snomed.info/sct', code: '278149003' }] },
      });
      await create('annsObs', { resourceType: 'Observation', status: 'final', code: { text: 'z' }, subject: { reference: `Patient/${ids.ann}` } });
    });
    after(async () => {
      await s.close();
    });

    test('#token: a code element matches the system its required binding implies ("the system is implicit")', async () => {
      assert.deepEqual(await matches(`Patient?gender=${GENDER}|male`, STRICT), named('bob'));
      assert.deepEqual(await matches(`Patient?gender:not=${GENDER}|male`, STRICT), named('ann', 'pq'));
      assert.deepEqual(await matches('Observation?status=http://hl7.org/fhir/observation-status|final', STRICT), named('weight', 'contained', 'nosubject', 'annsObs'));
      // Another system is not the implicit one: nothing matches.
      assert.deepEqual(await matches('Patient?gender=http://example.org/gender|male', STRICT), []);
      assert.deepEqual(await matches('Patient?gender=male', STRICT), named('bob'));
    });

    test('#all: with _type, parameters every listed type defines apply; others stay unknown', async () => {
      assert.deepEqual(await matches('?_type=Patient&gender=male', STRICT), named('bob'));
      assert.deepEqual(await matches('?gender=female&_type=Patient', STRICT), named('ann'));
      assert.deepEqual(await matches('?_type=Patient,Practitioner&name=zedd', STRICT), named('ann', 'doc'));
      assert.deepEqual(await matches(`?_type=Patient,Practitioner&gender=${GENDER}|male`, STRICT), named('bob', 'doc'));
      assert.deepEqual(await matches('?_type=Patient&_type=Practitioner&name=zedd', STRICT), named('ann', 'doc'), '_type given twice: the types of both');
      // Observation has no gender: not a parameter of every listed type.
      const strict = await s.request('GET', '?_type=Patient,Observation&gender=male', { headers: STRICT });
      assert.equal(strict.status, 400);
      assert.match(JSON.stringify(strict.body), /gender.*_type/);
      const lenient = await s.request('GET', '?_type=Patient,Observation&gender=male');
      assert.equal(lenient.status, 200);
      assert.match(outcomeOf(lenient.body), /ignored unknown search parameters: gender/);
    });

    test('#all: _type on a type-level search that leaves the type out is a 400, not ignored', async () => {
      for (const query of ['Patient?_type=Observation', 'Patient?_type=Observation&gender=male', `Patient/${ids.bob}/Observation?_type=Encounter`]) {
        const reply = await s.request('GET', query);
        assert.equal(reply.status, 400, query);
        assert.match(reply.body.issue[0].diagnostics, /_type/);
      }
      assert.deepEqual(await matches('Patient?_type=Patient&gender=male', STRICT), named('bob'));
      assert.deepEqual(await matches('Patient?_type=Patient,Observation&gender=male', STRICT), named('bob'));
    });

    test('combo-code-value-quantity and -concept match the Observation itself ("Observation | Observation.component")', async () => {
      assert.deepEqual(await matches('Observation?combo-code-value-quantity=http://loinc.org|29463-7$80', STRICT), named('weight'));
      assert.deepEqual(await matches('Observation?combo-code-value-quantity=8480-6$120', STRICT), named('bp'));
      assert.deepEqual(await matches('Observation?combo-code-value-quantity=29463-7$120', STRICT), []);
      assert.deepEqual(await matches('Observation?combo-code=29463-7,8480-6', STRICT), named('weight', 'bp'));
      assert.deepEqual(await matches('Observation?combo-code-value-concept=http://loinc.org|882-1$http://snomed.info/sct|278149003', STRICT), named('nosubject'));
      assert.deepEqual(await matches('Observation?combo-code-value-concept=29463-7$278149003', STRICT), []);
    });

    test('#count: _count=0 answers the total alone, with no entries and no next link', async () => {
      const reply = await s.request('GET', 'Patient?_count=0', { headers: STRICT });
      assert.equal(reply.status, 200);
      assert.equal(reply.body.total, 3);
      assert.equal(reply.body.entry, undefined);
      assert.equal(reply.body.link.find((l: Json) => l.relation === 'next'), undefined);
      assert.equal((await s.request('GET', 'Observation?status=final&_count=0')).body.total, 4);
    });

    test('#escaping: an escaped | is part of the code, not a system separator', async () => {
      assert.deepEqual(await matches(`Patient?identifier=${encodeURIComponent('p\\|q')}`, STRICT), named('bob'));
      assert.deepEqual(await matches('Patient?identifier=p|q', STRICT), named('pq'));
      assert.deepEqual(await matches(`Patient?identifier=${encodeURIComponent('urn:e|p\\|q')}`, STRICT), named('bob'));
    });

    test('#escaping: in a composite, \\$ is a $ inside a component, not a separator', async () => {
      await namedCreator(() => s, ids)('dollar', { resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'urn:esc', code: 'price' }] }, valueString: 'cost$5' });
      assert.deepEqual(await matches('Observation?code-value-string=urn:esc|price$cost\\$5', STRICT), named('dollar'));
      assert.deepEqual(await matches('Observation?code-value-string=urn:esc|price$cost\\$6', STRICT), []);
      const unescaped = await s.request('GET', 'Observation?code-value-string=urn:esc|price$cost$5', { headers: STRICT });
      assert.equal(unescaped.status, 400, 'three components for a composite of two');
      assert.equal((await s.request('DELETE', `Observation/${ids.dollar}`)).status, 204, 'the other tests list Observations');
    });

    test(':missing: a contained reference (#p) is a value that is present', async () => {
      assert.deepEqual(await matches('Observation?subject:missing=true', STRICT), named('bp', 'nosubject'));
      assert.deepEqual(await matches('Observation?subject:missing=false', STRICT), named('weight', 'contained', 'annsObs'));
    });

    test('a timezone\'s + written unencoded in the URL (decoded as a space) is read as +', async () => {
      const encoded = await matches('Patient?_lastUpdated=gt2000-01-01T00:00:00%2B05:00', STRICT);
      assert.ok(encoded.length > 0);
      assert.deepEqual(await matches('Patient?_lastUpdated=gt2000-01-01T00:00:00+05:00', STRICT), encoded);
      assert.deepEqual(await matches('Patient?_lastUpdated=lt2000-01-01T00:00:00+05:00', STRICT), []);
    });

    test('an impossible date (2024-02-30) is a 400 like an impossible month; 2024-02-29 is a date', async () => {
      for (const value of ['2024-02-30', '2023-02-29', '2024-04-31', '2024-13-01', '2024-00-10', '2024-01-00']) {
        const reply = await s.request('GET', `Patient?birthdate=${value}`);
        assert.equal(reply.status, 400, value);
        assert.equal(reply.body.resourceType, 'OperationOutcome');
      }
      assert.deepEqual(await matches('Patient?birthdate=2024-02-29', STRICT), named('ann'));
    });

    test('a timezone outside -14:00..+14:00 (datatypes.html#dateTime) is a 400, in a search and in _since', async () => {
      for (const path of ['Patient?_lastUpdated=gt2024-01-01T00:00:00%2B99:00', 'Patient?birthdate=2024-01-01T00:00:00-14:30', 'Patient?_lastUpdated=lt2024-01-01T00:00:00%2B05:60', 'Patient/_history?_since=2024-01-01T00:00:00%2B15:00']) {
        const reply = await s.request('GET', path);
        assert.equal(reply.status, 400, path);
        assert.equal(reply.body.resourceType, 'OperationOutcome');
      }
      assert.equal((await s.request('GET', 'Patient?_lastUpdated=gt2024-01-01T00:00:00%2B14:00')).status, 200);
      assert.equal((await s.request('GET', 'Patient?_lastUpdated=gt2024-01-01T00:00:00-12:00')).status, 200);
    });

    test('a :Type modifier or chain type the reference parameter cannot point to is a 400, not an empty result', async () => {
      for (const query of ['Patient?organization:Patient=x', 'Observation?subject:Organization=x', 'Patient?organization:Patient.name=x',
        'Observation?subject:Practitioner.name=Zedd', '?_type=Observation&subject:Organization=x']) {
        const reply = await s.request('GET', query);
        assert.equal(reply.status, 400, query);
        assert.equal(reply.body.resourceType, 'OperationOutcome');
        assert.match(reply.body.issue[0].diagnostics, /cannot refer to/);
      }
      assert.deepEqual(await matches(`Observation?subject:Patient=${ids.bob}`, STRICT), named('weight'));
      assert.deepEqual(await matches('Observation?subject:Patient.gender=female', STRICT), named('annsObs'));
      assert.deepEqual(await matches('Observation?subject:Group.code=x', STRICT), []);
      assert.deepEqual(await matches(`?_type=Observation&subject:Patient=${ids.bob}`, STRICT), named('weight'));
      // _has the same way: an Observation's subject is never an Organization.
      for (const query of ['Organization?_has:Observation:subject:code=29463-7', 'Patient?_has:Observation:subject:_has:Observation:subject:code=x']) {
        const reply = await s.request('GET', query);
        assert.equal(reply.status, 400, query);
        assert.match(reply.body.issue[0].diagnostics, /cannot refer to/);
      }
      assert.deepEqual(await matches('Patient?_has:Observation:subject:code=29463-7', STRICT), named('bob'));
    });

    test('a quantity value is number, number|system|code or number||code: number|unit is a 400, not a unit read as a system', async () => {
      for (const value of ['80|kg', 'gt79|kg', '80|http://unitsofmeasure.org|kg|x']) {
        const reply = await s.request('GET', `Observation?value-quantity=${encodeURIComponent(value)}`);
        assert.equal(reply.status, 400, value);
        assert.equal(reply.body.resourceType, 'OperationOutcome');
      }
      assert.equal((await s.request('GET', `Observation?combo-code-value-quantity=${encodeURIComponent('29463-7$80|kg')}`)).status, 400);
      assert.deepEqual(await matches('Observation?value-quantity=80||kg', STRICT), named('weight'));
      assert.deepEqual(await matches('Observation?value-quantity=80|http://unitsofmeasure.org|kg', STRICT), named('weight'));
      assert.deepEqual(await matches('Observation?value-quantity=80', STRICT), named('weight'));
    });

    test('a year before 100 is that year, not 19xx; a timezone past ±14:00 or year 0000 is a 400', async () => {
      const early = await s.request('POST', 'Patient', { body: { resourceType: 'Patient', birthDate: '0050-06-01' } });
      assert.equal(early.status, 201);
      try {
        const id = early.body.id as string;
        assert.deepEqual(await matches(`Patient?_id=${id}&birthdate=0050`, STRICT), [id]);
        assert.deepEqual(await matches(`Patient?_id=${id}&birthdate=0050-06-01`, STRICT), [id]);
        assert.deepEqual(await matches(`Patient?_id=${id}&birthdate=1950`, STRICT), []);
        assert.deepEqual(await matches(`Patient?_id=${id}&birthdate=ge0050-06-02`, STRICT), []);
        assert.deepEqual(await matches(`Patient?_id=${ids.ann}&birthdate=gt0099`, STRICT), [ids.ann!]);
        assert.deepEqual(await matches(`Patient?_id=${ids.ann}&birthdate=0024-02-29`, STRICT), [], 'not 1924-02-29');
      } finally {
        await s.request('DELETE', `Patient/${early.body.id}`);
      }
      for (const value of ['0000', '2024-01-10T09:30:00%2B99:00', '2024-01-10T09:30:00%2B05:60', '2024-01-10T09:30:00-14:01']) {
        const reply = await s.request('GET', `Patient?_lastUpdated=${value}`);
        assert.equal(reply.status, 400, value);
        assert.equal(reply.body.resourceType, 'OperationOutcome');
      }
      assert.equal((await s.request('GET', 'Patient?_lastUpdated=gt2024-01-10T09:30:00%2B14:00')).status, 200);
    });

    test('a parameter with no value is ignored, whatever its type; a conditional needs one that has a value', async () => {
      const all = await matches('Patient', STRICT);
      for (const query of ['gender=', 'name=', 'birthdate=', 'identifier=', 'general-practitioner=', '_id=', '_lastUpdated=', 'gender:missing=', '_has:Observation:subject:status=', 'organization.name=']) {
        assert.deepEqual(await matches(`Patient?${query}`, STRICT), all, query);
      }
      assert.deepEqual(await matches('Patient?name=&gender=male&birthdate=', STRICT), named('bob'));
      for (const query of ['name=,', 'gender=,', 'identifier=,%20', 'birthdate=,']) assert.deepEqual(await matches(`Patient?${query}`, STRICT), all, query);
      assert.deepEqual(await matches('Patient?family=,Moyo', STRICT), named('bob'), 'an empty alternative is left out, not "any name"');
      assert.deepEqual(await matches('Patient?gender=male,', STRICT), named('bob'));
      assert.equal((await s.request('GET', 'Patient?bogus=', { headers: STRICT })).status, 400, 'strict: an unknown name even without a value');
      assert.equal((await s.request('GET', 'Patient?name:nonsense=', { headers: STRICT })).status, 400, 'strict: an unknown modifier even without a value');
      assert.equal((await s.request('GET', 'Patient?bogus=')).status, 200);
      const noFormat = await s.request('GET', 'Patient?_format=&_id=' + ids.ann);
      assert.equal(noFormat.status, 200, '_format= asks for nothing');
      assert.equal(noFormat.body.resourceType, 'Bundle');
      const commaFormat = await s.request('GET', 'Patient?_format=,&_pretty=,&_id=' + ids.ann);
      assert.equal(commaFormat.status, 200);
      assert.doesNotMatch(commaFormat.body.link[0].url, /_format|_pretty/);
      assert.equal((await s.request('GET', `Patient/${ids.ann}/_history?_count=&_since=`)).status, 200, 'history too');
      const emptyReference = await s.request('POST', '', {
        body: { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient?' } }, request: { method: 'POST', url: 'Observation' } }] },
      });
      assert.equal(emptyReference.status, 400, 'a conditional reference with no criteria selects nothing');
      const reply = await s.request('GET', 'Patient?gender=&_count=&_sort=&_total=&family=Moyo');
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assert.match(reply.body.link.find((l: Json) => l.relation === 'self').url, /\/Patient\?family=Moyo&_count=20$/, 'the self link shows only what was applied');
      assert.deepEqual(await matches('?_type=&_id=' + ids.ann, STRICT), named('ann'));
      // A conditional whose only parameter is empty selects nothing: refused, never "the only Patient".
      const lone = await s.request('POST', 'Location', { body: { resourceType: 'Location', name: 'only one' } });
      assert.equal((await s.request('DELETE', 'Location?name=')).status, 400);
      assert.equal((await s.request('DELETE', 'Location?name=,')).status, 400, 'only empty alternatives');
      assert.equal((await s.request('PUT', 'Location?name=,', { body: { resourceType: 'Location', name: 'overwritten' } })).status, 400);
      assert.equal((await s.request('GET', `Location/${lone.body.id}`)).status, 200, 'not deleted');
      const create = await s.request('POST', 'Location', { body: { resourceType: 'Location', name: 'second' }, headers: { 'if-none-exist': 'name=' } });
      assert.equal(create.status, 400, JSON.stringify(create.body));
    });

    test('an unknown _sort key is reported as a sort parameter: 400 under strict, a warning otherwise', async () => {
      const strict = await s.request('GET', 'Patient?_sort=bogus', { headers: STRICT });
      assert.equal(strict.status, 400);
      assert.match(JSON.stringify(strict.body), /unknown sort parameter \\?"bogus\\?"/);
      const lenient = await s.request('GET', 'Patient?_sort=bogus,-birthdate');
      assert.equal(lenient.status, 200);
      assert.match(outcomeOf(lenient.body), /ignored unknown sort parameters in _sort: bogus/);
      assert.doesNotMatch(outcomeOf(lenient.body), /search parameters/);
      assert.equal(lenient.body.entry[0].resource.id, ids.ann); // -birthdate still applies
    });

    test('#compartments: Patient/[id]/Observation searches the Observations in the patient compartment', async () => {
      assert.deepEqual(await matches(`Patient/${ids.bob}/Observation`, STRICT), named('weight', 'bp'));
      assert.deepEqual(await matches(`Patient/${ids.bob}/Observation?status=final`, STRICT), named('weight'));
      assert.deepEqual(await matches(`Patient/${ids.ann}/Observation`, STRICT), named('annsObs'));
      assert.deepEqual(await matches(`Patient/${ids.bob}/*`, STRICT), named('weight', 'bp'));
      assert.deepEqual(await matches(`Patient/${ids.bob}/*?_type=Observation&status=preliminary`, STRICT), named('bp'));
      const form = await s.request('POST', `Patient/${ids.bob}/Observation/_search`, {
        raw: 'status=preliminary', headers: { 'content-type': 'application/x-www-form-urlencoded', ...STRICT },
      });
      assert.equal(form.status, 200, JSON.stringify(form.body));
      assert.deepEqual((form.body.entry ?? []).map((e: Json) => e.resource.id), named('bp'));
      const reply = await s.request('GET', `Patient/${ids.bob}/Observation?_count=1`);
      assert.match(reply.body.link.find((l: Json) => l.relation === 'next').url, new RegExp(`/Patient/${ids.bob}/Observation\\?`));
      assert.equal((await s.request('GET', `Patient/${ids.bob}/Organization`)).status, 400);
      assert.equal((await s.request('GET', `Patient/${ids.bob}/*?_type=Organization`)).status, 400, 'a _type outside the compartment, as the type in the path');
      assert.equal((await s.request('GET', `Patient/${ids.bob}/Nonsense`)).status, 400);
      assert.equal((await s.request('GET', `Organization/${ids.org}/Observation`)).status, 404, 'R4 defines no Organization compartment');
      assert.equal((await s.request('GET', `Patient/${ids.bob}/Observation?bogus=1`, { headers: STRICT })).status, 400);
    });

    test('#compartments: the Encounter, Practitioner, RelatedPerson and Device compartments of R4, {def} being the owner itself', async () => {
      const create = namedCreator(() => s, ids);
      await create('visit', { resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, subject: { reference: `Patient/${ids.ann}` }, participant: [{ individual: { reference: `Practitioner/${ids.doc}` } }] });
      await create('visitObs', { resourceType: 'Observation', status: 'final', code: { text: 'v' }, encounter: { reference: `Encounter/${ids.visit}` }, performer: [{ reference: `Practitioner/${ids.doc}` }] });
      await create('visitCondition', { resourceType: 'Condition', subject: { reference: `Patient/${ids.ann}` }, encounter: { reference: `Encounter/${ids.visit}` } });
      assert.deepEqual(await matches(`Encounter/${ids.visit}/Observation`, STRICT), named('visitObs'));
      assert.deepEqual(await matches(`Encounter/${ids.visit}/*`, STRICT), named('visit', 'visitCondition', 'visitObs'));
      assert.deepEqual(await matches(`Encounter/${ids.visit}/Encounter`, STRICT), named('visit'), 'the Encounter itself ({def})');
      assert.deepEqual(await matches(`Practitioner/${ids.doc}/Observation`, STRICT), named('visitObs'));
      assert.deepEqual(await matches(`Practitioner/${ids.doc}/Encounter`, STRICT), named('visit'));
      assert.deepEqual(await matches(`Practitioner/${ids.doc}/*?_type=Practitioner`, STRICT), named('doc'));
      assert.deepEqual(await matches(`RelatedPerson/nobody/*`, STRICT), []);
      assert.deepEqual(await matches(`Device/nothing/Observation`, STRICT), []);
      assert.equal((await s.request('GET', `Encounter/${ids.visit}/Organization`)).status, 400, 'not in the Encounter compartment');
    });

    test('#revinclude: a target type (Source:param:Target) includes only the sources that refer to matches of that type', async () => {
      const included = async (query: string): Promise<string[]> => {
        const reply = await s.request('GET', query);
        assert.equal(reply.status, 200, JSON.stringify(reply.body));
        return (reply.body.entry ?? []).filter((e: Json) => e.search?.mode === 'include').map((e: Json) => e.resource.id).sort();
      };
      assert.deepEqual(await included(`Patient?_id=${ids.bob}&_revinclude=Observation:performer:Patient`), named('bp'));
      assert.deepEqual(await included(`Patient?_id=${ids.bob}&_revinclude=Observation:performer:Practitioner`), []);
      assert.deepEqual(await included(`Patient?_id=${ids.bob}&_revinclude=Observation:subject:Group`), []);
      assert.deepEqual(await included(`Patient?_id=${ids.bob}&_revinclude=Observation:subject`), named('weight'));
    });
  });
}
