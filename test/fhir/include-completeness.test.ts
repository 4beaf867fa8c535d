/**
 * _include/_revinclude cannot be paged (R4 search.html#include), so a page that leaves included
 * resources out says so: more sources than one _revinclude reads (FHIR_SEARCH_MAX_COUNT), and
 * :iterate stopped at its last level with more to follow. A reviewer found 1,200 PractitionerRoles
 * at one Location answered as 1,000 with no sign that 200 were missing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testDrivers } from '../support/databases.js';
import { startFhirServer, type FhirTestServer } from './support.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
const MAX = 5;

const outcomes = (bundle: Json): string[] =>
  (bundle.entry ?? []).filter((e: Json) => e.search?.mode === 'outcome').map((e: Json) => e.resource.issue[0].details.text);

for (const driver of testDrivers) {
  describe(`included resources left out are reported (${driver})`, () => {
    let s: FhirTestServer;
    before(async () => {
      s = await startFhirServer(driver, { limits: { fhirSearchMaxCount: MAX } });
      await s.request('PUT', 'Location/hospital', { body: { resourceType: 'Location', id: 'hospital', name: 'Big hospital' } });
      await s.request('PUT', 'Location/clinic', { body: { resourceType: 'Location', id: 'clinic', name: 'Small clinic' } });
      for (let i = 0; i < MAX + 2; i++) {
        await s.request('POST', 'PractitionerRole', { body: { resourceType: 'PractitionerRole', location: [{ reference: 'Location/hospital' }] } });
      }
      await s.request('POST', 'PractitionerRole', { body: { resourceType: 'PractitionerRole', location: [{ reference: 'Location/clinic' }] } });
      // A chain of six Locations, each part of the one before.
      for (let i = 0; i < 6; i++) {
        await s.request('PUT', `Location/level${i}`, { body: { resourceType: 'Location', id: `level${i}`, ...(i ? { partOf: { reference: `Location/level${i - 1}` } } : {}) } });
      }
    });
    after(async () => {
      await s.close();
    });

    test('a _revinclude past FHIR_SEARCH_MAX_COUNT says resources were left out', async () => {
      const reply = await s.request('GET', 'Location?_id=hospital&_revinclude=PractitionerRole:location');
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assert.equal((reply.body.entry ?? []).filter((e: Json) => e.search?.mode === 'include').length, MAX);
      const [warning] = outcomes(reply.body);
      assert.match(warning ?? '', /left out: more than 5 resources refer to this page's matches \(setting FHIR_SEARCH_MAX_COUNT\)/);
    });

    test('a complete _revinclude has no warning', async () => {
      const reply = await s.request('GET', 'Location?_id=clinic&_revinclude=PractitionerRole:location');
      assert.equal((reply.body.entry ?? []).filter((e: Json) => e.search?.mode === 'include').length, 1);
      assert.deepEqual(outcomes(reply.body), []);
    });

    test(':iterate stopped at its last level with more found says so; a shorter walk does not', async () => {
      const deep = await s.request('GET', 'Location?_id=level0&_revinclude:iterate=Location:partof');
      assert.equal((deep.body.entry ?? []).filter((e: Json) => e.search?.mode === 'include').length, 4, 'four levels');
      assert.match(outcomes(deep.body)[0] ?? '', /:iterate follows at most 4 levels/);
      const shallow = await s.request('GET', 'Location?_id=level3&_revinclude:iterate=Location:partof');
      assert.equal((shallow.body.entry ?? []).filter((e: Json) => e.search?.mode === 'include').length, 2);
      assert.deepEqual(outcomes(shallow.body), []);
    });

    test('canonical references are followed by url (and version): _include, _revinclude and chains, as HAPI does', async () => {
      const url = 'http://example.org/Questionnaire/intake';
      for (const [id, version] of [['q-intake-1', '1.0'], ['q-intake-2', '2.0']]) {
        await s.request('PUT', `Questionnaire/${id}`, { body: { resourceType: 'Questionnaire', id, url, version, status: 'active' } });
      }
      await s.request('PUT', 'QuestionnaireResponse/qr-v2', { body: { resourceType: 'QuestionnaireResponse', id: 'qr-v2', status: 'completed', questionnaire: `${url}|2.0` } });
      await s.request('PUT', 'QuestionnaireResponse/qr-any', { body: { resourceType: 'QuestionnaireResponse', id: 'qr-any', status: 'completed', questionnaire: url } });
      const included = (bundle: Json): string[] => (bundle.entry ?? []).filter((e: Json) => e.search?.mode === 'include').map((e: Json) => `${e.resource.resourceType}/${e.resource.id}`).sort();

      const versioned = await s.request('GET', 'QuestionnaireResponse?_id=qr-v2&_include=QuestionnaireResponse:questionnaire');
      assert.equal(versioned.status, 200, JSON.stringify(versioned.body));
      assert.deepEqual(included(versioned.body), ['Questionnaire/q-intake-2'], 'url|version: that version');
      const any = await s.request('GET', 'QuestionnaireResponse?_id=qr-any&_include=QuestionnaireResponse:questionnaire');
      assert.deepEqual(included(any.body), ['Questionnaire/q-intake-1', 'Questionnaire/q-intake-2'], 'a url alone: its versions');
      const rev = await s.request('GET', 'Questionnaire?_id=q-intake-2&_revinclude=QuestionnaireResponse:questionnaire');
      assert.deepEqual(included(rev.body), ['QuestionnaireResponse/qr-any', 'QuestionnaireResponse/qr-v2']);
      const revOld = await s.request('GET', 'Questionnaire?_id=q-intake-1&_revinclude=QuestionnaireResponse:questionnaire');
      assert.deepEqual(included(revOld.body), ['QuestionnaireResponse/qr-any']);
      // Chains the same way: through the url (and version) the reference gives.
      const ids = (bundle: Json): string[] => (bundle.entry ?? []).filter((e: Json) => e.search?.mode === 'match').map((e: Json) => e.resource.id).sort();
      assert.deepEqual(ids((await s.request('GET', 'QuestionnaireResponse?questionnaire.version=2.0&_id=qr-v2,qr-any')).body), ['qr-any', 'qr-v2']);
      assert.deepEqual(ids((await s.request('GET', 'QuestionnaireResponse?questionnaire.version=1.0&_id=qr-v2,qr-any')).body), ['qr-any']);
      assert.deepEqual(ids((await s.request('GET', `QuestionnaireResponse?questionnaire:Questionnaire.url=${encodeURIComponent(url)}&_id=qr-v2`)).body), ['qr-v2']);
    });

    test('the bare wildcard: _revinclude=* adds whatever refers to a match, _include=* whatever a match refers to', async () => {
      await s.request('PUT', 'Patient/wild', { body: { resourceType: 'Patient', id: 'wild', managingOrganization: { reference: 'Organization/wild-org' } } });
      await s.request('PUT', 'Organization/wild-org', { body: { resourceType: 'Organization', id: 'wild-org', name: 'Wild' } });
      await s.request('PUT', 'Observation/wild-obs', { body: { resourceType: 'Observation', id: 'wild-obs', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/wild' } } });
      await s.request('PUT', 'Encounter/wild-enc', { body: { resourceType: 'Encounter', id: 'wild-enc', status: 'finished', class: { code: 'AMB' }, subject: { reference: 'Patient/wild' } } });
      await s.request('PUT', 'Observation/other-obs', { body: { resourceType: 'Observation', id: 'other-obs', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/someone-else' } } });
      const included = (bundle: Json): string[] => (bundle.entry ?? []).filter((e: Json) => e.search?.mode === 'include').map((e: Json) => `${e.resource.resourceType}/${e.resource.id}`).sort();

      const rev = await s.request('GET', 'Patient?_id=wild&_revinclude=*');
      assert.equal(rev.status, 200, JSON.stringify(rev.body));
      assert.deepEqual(included(rev.body), ['Encounter/wild-enc', 'Observation/wild-obs']);
      const forward = await s.request('GET', 'Observation?_id=wild-obs&_include=*');
      assert.deepEqual(included(forward.body), ['Patient/wild']);
      // :iterate goes on from what was added: the observation's patient, then the patient's organization.
      const iterated = await s.request('GET', 'Observation?_id=wild-obs&_include:iterate=*');
      assert.deepEqual(included(iterated.body), ['Organization/wild-org', 'Patient/wild']);
      const both = await s.request('GET', 'Organization?_id=wild-org&_revinclude:iterate=*');
      assert.deepEqual(included(both.body), ['Encounter/wild-enc', 'Observation/wild-obs', 'Patient/wild']);
      assert.equal((await s.request('GET', 'Patient?_id=wild&_revinclude=*:subject')).status, 400);
    });
  });
}
