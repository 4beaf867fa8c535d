/**
 * _summary, _elements and _pretty on every interaction that answers resources, as R4 says:
 * http.html "general parameters" (_summary, _elements, _pretty apply to read, vread, history and
 * capabilities, not only search), search.html#summary and #elements (SUBSETTED tag; mandatory
 * elements kept: "Servers SHOULD return mandatory elements"; _summary=text is "the text, id, meta,
 * and top-level mandatory elements").
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { xmlToResource } from '../../src/fhir/format/xml.js';
import { testDrivers } from '../support/databases.js';
import { startFhirServer, type FhirTestServer } from './support.js';

const SUBSETTED = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' };

const observation = {
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
  text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">Heart rate 60</div>' },
  valueQuantity: { value: 60, unit: '/min' },
  note: [{ text: 'not a summary element' }],
};

const patient = {
  resourceType: 'Patient',
  text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">Ann Shape</div>' },
  name: [{ family: 'Shape', given: ['Ann'] }],
  gender: 'female',
  birthDate: '1980-05-02',
  photo: [{ contentType: 'image/png', title: 'not a summary element' }],
};

function isSubsetted(resource: { meta?: { tag?: Array<{ system?: string; code?: string }> } }): boolean {
  return (resource.meta?.tag ?? []).some((t) => t.system === SUBSETTED.system && t.code === SUBSETTED.code);
}

for (const driver of testDrivers) {
  describe(`_summary, _elements and _pretty on every interaction (${driver})`, () => {
    let s: FhirTestServer;
    let patientId: string;
    let observationId: string;
    before(async () => {
      s = await startFhirServer(driver);
      const created = await s.request('POST', 'Patient', { body: patient });
      patientId = created.body.id;
      await s.request('PUT', `Patient/${patientId}`, { body: { ...created.body, gender: 'other' } });
      observationId = (await s.request('POST', 'Observation', { body: { ...observation, subject: { reference: `Patient/${patientId}` } } })).body.id;
    });
    after(async () => {
      await s.close();
    });

    test('read honours _summary=true: summary elements only, tagged SUBSETTED', async () => {
      const read = await s.request('GET', `Patient/${patientId}?_summary=true`);
      assert.equal(read.status, 200);
      assert.deepEqual(read.body.name, patient.name);
      assert.equal(read.body.gender, 'other');
      assert.equal(read.body.photo, undefined, 'photo is not a summary element');
      assert.equal(read.body.text, undefined, 'text is not in the summary');
      assert.ok(isSubsetted(read.body));
      assert.equal(read.headers.get('etag'), 'W/"2"', 'the version headers stay');
    });

    test('read honours _summary=text, data and false', async () => {
      const text = (await s.request('GET', `Patient/${patientId}?_summary=text`)).body;
      assert.deepEqual(Object.keys(text).sort(), ['id', 'meta', 'resourceType', 'text']);
      assert.ok(isSubsetted(text));
      const data = (await s.request('GET', `Patient/${patientId}?_summary=data`)).body;
      assert.equal(data.text, undefined);
      assert.deepEqual(data.photo, patient.photo);
      assert.ok(isSubsetted(data));
      const full = (await s.request('GET', `Patient/${patientId}?_summary=false`)).body;
      assert.deepEqual(full.photo, patient.photo);
      assert.ok(full.text);
      assert.ok(!isSubsetted(full));
    });

    test('read honours _elements, and vread too', async () => {
      const read = (await s.request('GET', `Patient/${patientId}?_elements=birthDate`)).body;
      assert.deepEqual(Object.keys(read).sort(), ['birthDate', 'id', 'meta', 'resourceType']);
      assert.ok(isSubsetted(read));
      const vread = (await s.request('GET', `Patient/${patientId}/_history/1?_elements=gender`)).body;
      assert.equal(vread.gender, 'female');
      assert.equal(vread.name, undefined);
      assert.ok(isSubsetted(vread));
      // A choice by its name keeps the member present; a primitive keeps its `_name`; `Type.element` names the element.
      const observation = await s.request('POST', 'Observation', { body: { resourceType: 'Observation', status: 'final', code: { text: 'w' }, valueQuantity: { value: 70, unit: 'kg' }, effectiveDateTime: '2024-01-01',
        _effectiveDateTime: { extension: [{ url: 'http://example.org/ext', valueString: 'x' }] } } });
      const byChoice = (await s.request('GET', `Observation/${observation.body.id}?_elements=value,effective`)).body;
      assert.deepEqual(byChoice.valueQuantity, { value: 70, unit: 'kg' });
      assert.equal(byChoice.effectiveDateTime, '2024-01-01');
      assert.deepEqual(byChoice._effectiveDateTime, { extension: [{ url: 'http://example.org/ext', valueString: 'x' }] });
      const typed = (await s.request('GET', `Observation/${observation.body.id}?_elements=Observation.valueQuantity`)).body;
      assert.deepEqual(typed.valueQuantity, { value: 70, unit: 'kg' });
      assert.equal(typed.effectiveDateTime, undefined);
    });

    test('a bad _summary on a read is a 400, and _summary=count has nothing to count there', async () => {
      const bad = await s.request('GET', `Patient/${patientId}?_summary=maybe`);
      assert.equal(bad.status, 400);
      assert.equal(bad.body.resourceType, 'OperationOutcome');
      const count = await s.request('GET', `Patient/${patientId}?_summary=count`);
      assert.equal(count.status, 400);
      assert.match(count.body.issue[0].diagnostics, /_summary=count/);
    });

    test('history (instance, type, system) shapes each entry; _summary=count gives the total only', async () => {
      for (const path of [`Patient/${patientId}/_history`, 'Patient/_history', '_history']) {
        const history = (await s.request('GET', `${path}?_elements=gender`)).body;
        assert.equal(history.type, 'history');
        const resources = history.entry.map((e: { resource?: unknown }) => e.resource).filter(Boolean);
        assert.ok(resources.length >= 2, path);
        for (const resource of resources) {
          assert.ok(isSubsetted(resource), path);
          if (resource.resourceType === 'Patient') assert.equal(resource.name, undefined, path);
        }
      }
      const counted = (await s.request('GET', `Patient/${patientId}/_history?_summary=count`)).body;
      assert.equal(counted.total, 2);
      assert.equal(counted.entry, undefined);
      const text = (await s.request('GET', `Patient/${patientId}/_history?_summary=text`)).body;
      for (const e of text.entry) assert.deepEqual(Object.keys(e.resource).sort(), ['id', 'meta', 'resourceType', 'text']);
    });

    test('/metadata honours _summary and _elements', async () => {
      const summary = (await s.request('GET', 'metadata?_summary=true')).body;
      assert.equal(summary.resourceType, 'CapabilityStatement');
      assert.ok(isSubsetted(summary));
      assert.equal(summary.fhirVersion, '4.0.1');
      const text = (await s.request('GET', 'metadata?_summary=text')).body;
      assert.equal(text.rest, undefined);
      assert.ok(isSubsetted(text));
      const elements = (await s.request('GET', 'metadata?_elements=software')).body;
      assert.ok(elements.software);
      assert.equal(elements.rest, undefined);
      // Mandatory elements of CapabilityStatement (min 1) stay.
      for (const mandatory of ['status', 'date', 'kind', 'fhirVersion', 'format']) assert.ok(elements[mandatory] !== undefined, mandatory);
    });

    test('_elements and _summary=text keep the mandatory top-level elements, on read and search', async () => {
      const elements = (await s.request('GET', `Observation/${observationId}?_elements=valueQuantity`)).body;
      assert.equal(elements.status, 'final');
      assert.deepEqual(elements.code, observation.code);
      assert.deepEqual(elements.valueQuantity, observation.valueQuantity);
      assert.equal(elements.note, undefined);
      const text = (await s.request('GET', `Observation/${observationId}?_summary=text`)).body;
      assert.deepEqual(Object.keys(text).sort(), ['code', 'id', 'meta', 'resourceType', 'status', 'text']);
      const searched = (await s.request('GET', `Observation?_id=${observationId}&_elements=subject`)).body;
      const match = searched.entry[0].resource;
      assert.equal(match.status, 'final');
      assert.deepEqual(match.code, observation.code);
      assert.ok(match.subject);
      assert.equal(match.valueQuantity, undefined);
      const searchedText = (await s.request('GET', `Observation?_id=${observationId}&_summary=text`)).body;
      assert.deepEqual(Object.keys(searchedText.entry[0].resource).sort(), ['code', 'id', 'meta', 'resourceType', 'status', 'text']);
    });

    test('shaping applies in XML too', async () => {
      const response = await fetch(`${s.base}/Observation/${observationId}?_elements=valueQuantity&_format=xml`);
      assert.equal(response.status, 200);
      const parsed = xmlToResource(await response.text()) as Record<string, any>;
      assert.equal(parsed.status, 'final');
      assert.equal(parsed.note, undefined);
      assert.ok(isSubsetted(parsed));
      const history = await fetch(`${s.base}/Patient/${patientId}/_history?_summary=text&_format=xml`);
      const bundle = xmlToResource(await history.text()) as Record<string, any>;
      for (const e of bundle.entry) assert.deepEqual(Object.keys(e.resource).sort(), ['id', 'meta', 'resourceType', 'text']);
    });

    test('_pretty=true indents JSON and XML answers of every interaction; without it they stay compact', async () => {
      for (const path of [`Patient/${patientId}`, `Patient/${patientId}/_history/1`, 'Patient?_count=1', 'Patient/_history', 'metadata', 'Patient/nope-404']) {
        const compact = await (await fetch(`${s.base}/${path}`)).text();
        assert.ok(!compact.includes('\n'), path);
        const json = await (await fetch(`${s.base}/${path}${path.includes('?') ? '&' : '?'}_pretty=true`)).text();
        assert.ok(json.startsWith(`{\n  "`), `${path}: ${json.slice(0, 40)}`);
        assert.equal(JSON.parse(json).resourceType, JSON.parse(compact).resourceType);
        const xml = await (await fetch(`${s.base}/${path}${path.includes('?') ? '&' : '?'}_pretty=true&_format=xml`)).text();
        const lines = xml.split('\n');
        assert.ok(lines.length > 3, path);
        assert.ok(lines.slice(2, -1).every((line) => line.startsWith('  ')), `${path}: children indented`);
        assert.equal(xmlToResource(xml).resourceType, JSON.parse(compact).resourceType);
      }
      const search = JSON.parse(await (await fetch(`${s.base}/Patient?_pretty=true`)).text());
      assert.ok(search.link.every((l: { url: string }) => l.url.includes('_pretty=true')), 'paging links keep _pretty');
    });

    test('_pretty=true XML keeps the narrative and values exactly', async () => {
      const compact = await (await fetch(`${s.base}/Patient/${patientId}?_format=xml`)).text();
      const pretty = await (await fetch(`${s.base}/Patient/${patientId}?_format=xml&_pretty=true`)).text();
      assert.deepEqual(xmlToResource(pretty), xmlToResource(compact));
    });
  });
}
