/**
 * FHIR decimals keep the precision they were written with (R4 datatypes.html#decimal: "0.010 is
 * regarded as different to 0.01, and the original precision should be preserved"): a lab value
 * of 4.0 mmol/L comes back 4.0, not 4, on every way out (read, search, history, XML) and from
 * every way in (JSON, XML, transactions), on each driver, the PGlite worker thread included.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testDrivers, type TestDriver } from '../support/databases.js';
import { startFhirServer, type FhirTestServer } from './support.js';

const OBSERVATION = `{"resourceType":"Observation","status":"final","code":{"text":"potassium"},
  "valueQuantity":{"value":4.0,"unit":"mmol/L"},
  "referenceRange":[{"low":{"value":3.50},"high":{"value":5.10}}],
  "component":[{"code":{"text":"a"},"valueQuantity":{"value":0.0000001}},{"code":{"text":"b"},"valueQuantity":{"value":12345678901234567890.5}}],
  "note":[{"text":"\\"value\\": 1.50, stays a string"}]}`;

const drivers: TestDriver[] = [...testDrivers, 'pglite-worker'];

/** The JSON text holds `"value":<written>` as a number (jsonb may put it last in its object). */
function has(json: string, written: string, name = 'value'): boolean {
  return new RegExp(`"${name}":${written.replace(/\./g, '\\.')}[,}]`).test(json);
}

for (const driver of drivers) {
  describe(`FHIR decimal precision (${driver})`, () => {
    let s: FhirTestServer;
    before(async () => {
      s = await startFhirServer(driver);
    });
    after(async () => {
      await s.close();
    });

    const text = async (method: string, path: string, body?: string, contentType = 'application/fhir+json', accept?: string): Promise<{ status: number; text: string }> => {
      const response = await fetch(path.startsWith('http') ? path : `${s.base}/${path}`, {
        method, body, headers: { ...(body ? { 'content-type': contentType } : {}), ...(accept ? { accept } : {}) },
      });
      return { status: response.status, text: await response.text() };
    };
    const assertKept = (answer: string, where: string): void => {
      for (const written of ['4.0', '3.50', '5.10', '0.0000001', '12345678901234567890.5']) {
        assert.ok(has(answer, written), `${where}: "value":${written} in ${answer}`);
      }
      assert.ok(answer.includes('"text":"\\"value\\": 1.50, stays a string"'), `${where}: the string is unchanged`);
    };

    test('JSON in, and every way out: create, read, search, history, vread, XML', async () => {
      const created = await text('POST', 'Observation', OBSERVATION);
      assert.equal(created.status, 201, created.text);
      assertKept(created.text, 'create');
      const id = JSON.parse(created.text).id as string;
      assertKept((await text('GET', `Observation/${id}`)).text, 'read');
      assertKept((await text('GET', `Observation?_id=${id}`)).text, 'search');
      assertKept((await text('GET', `Observation/${id}/_history`)).text, 'history');
      assertKept((await text('GET', `Observation/${id}/_history/1`)).text, 'vread');
      const xml = (await text('GET', `Observation/${id}?_format=xml`)).text;
      for (const written of ['<value value="4.0"/>', '<value value="3.50"/>', '<value value="5.10"/>', '<value value="0.0000001"/>']) {
        assert.ok(xml.includes(written), `${written} in ${xml}`);
      }
      // The numbers are numbers still: a quantity search finds the value.
      const found = JSON.parse((await text('GET', 'Observation?value-quantity=4.0')).text);
      assert.deepEqual((found.entry ?? []).map((e: { resource: { id: string } }) => e.resource.id), [id]);
    });

    test('an update that changes only the precision is a new version with the new precision', async () => {
      const created = JSON.parse((await text('POST', 'Observation', OBSERVATION)).text);
      const more = OBSERVATION.replace('"value":4.0,', '"value":4.00,').replace('{"resourceType":"Observation",', `{"resourceType":"Observation","id":"${created.id}",`);
      const updated = await text('PUT', `Observation/${created.id}`, more);
      assert.equal(updated.status, 200, updated.text);
      assert.ok(has(updated.text, '4.00'), updated.text);
      assert.equal(JSON.parse(updated.text).meta.versionId, '2');
      const plain = more.replace('"value":4.00,', '"value":4,');
      const third = await text('PUT', `Observation/${created.id}`, plain);
      assert.ok(has(third.text, '4') && !has(third.text, '4.00'), third.text);
      assert.ok(has((await text('GET', `Observation/${created.id}/_history/2`)).text, '4.00'));
    });

    test('patches keep the decimals they do not touch, and a JSON Patch value keeps its own; _elements and _summary keep them', async () => {
      const id = JSON.parse((await text('POST', 'Observation', OBSERVATION)).text).id as string;
      const jsonPatch = await text('PATCH', `Observation/${id}`, '[{"op":"replace","path":"/status","value":"amended"},{"op":"add","path":"/valueQuantity/value","value":4.20}]', 'application/json-patch+json');
      assert.equal(jsonPatch.status, 200, jsonPatch.text);
      assert.ok(has(jsonPatch.text, '4.20') && has(jsonPatch.text, '3.50') && has(jsonPatch.text, '5.10'), jsonPatch.text);
      const fhirPathPatch = JSON.stringify({
        resourceType: 'Parameters',
        parameter: [{ name: 'operation', part: [{ name: 'type', valueCode: 'replace' }, { name: 'path', valueString: 'Observation.status' }, { name: 'value', valueCode: 'final' }] }],
      });
      const patched = await text('PATCH', `Observation/${id}`, fhirPathPatch);
      assert.equal(patched.status, 200, patched.text);
      assert.ok(has(patched.text, '4.20') && has(patched.text, '3.50'), patched.text);
      assert.ok(has((await text('GET', `Observation/${id}?_elements=valueQuantity`)).text, '4.20'));
      assert.ok(has((await text('GET', `Observation?_id=${id}&_summary=data`)).text, '4.20'));
    });

    test('patches in lists of decimals: the texts move with their items; a replace by a number a double cannot tell apart is applied', async () => {
      const sequence = (roc: string): string => `{"resourceType":"MolecularSequence","coordinateSystem":0,"quality":[{"type":"snp","roc":${roc}}]}`;
      const rocOf = (answer: string): string | undefined => /"roc":(\{[^}]*\})/.exec(answer)?.[1];
      const first = JSON.parse((await text('POST', 'MolecularSequence', sequence('{"precision":[1.0,1,1.00],"sensitivity":[0.10,0.20,0.30]}'))).text).id as string;
      const removed = await text('PATCH', `MolecularSequence/${first}`,
        '[{"op":"remove","path":"/quality/0/roc/precision/0"},{"op":"add","path":"/quality/0/roc/sensitivity/0","value":0.5000},{"op":"remove","path":"/quality/0/roc/sensitivity/1"}]',
        'application/json-patch+json');
      assert.equal(removed.status, 200, removed.text);
      assert.equal(rocOf(removed.text), '{"precision":[1,1.00],"sensitivity":[0.5000,0.20,0.30]}');
      const moved = await text('PATCH', `MolecularSequence/${first}`, '[{"op":"move","from":"/quality/0/roc/sensitivity/0","path":"/quality/0/roc/sensitivity/2"}]', 'application/json-patch+json');
      assert.equal(rocOf(moved.text), '{"precision":[1,1.00],"sensitivity":[0.20,0.30,0.5000]}');
      const operation = (parts: object[]): string => JSON.stringify({ resourceType: 'Parameters', parameter: [{ name: 'operation', part: parts }] });
      const deleted = await text('PATCH', `MolecularSequence/${first}`, operation([{ name: 'type', valueCode: 'delete' }, { name: 'path', valueString: 'MolecularSequence.quality[0].roc.sensitivity[0]' }]));
      assert.equal(rocOf(deleted.text), '{"precision":[1,1.00],"sensitivity":[0.30,0.5000]}');
      const inserted = await text('PATCH', `MolecularSequence/${first}`,
        '{"resourceType":"Parameters","parameter":[{"name":"operation","part":[{"name":"type","valueCode":"insert"},{"name":"path","valueString":"MolecularSequence.quality[0].roc.sensitivity"},{"name":"index","valueInteger":0},{"name":"value","valueDecimal":0.700}]}]}');
      assert.equal(rocOf(inserted.text), '{"precision":[1,1.00],"sensitivity":[0.700,0.30,0.5000]}');
      const big = JSON.parse((await text('POST', 'Observation', '{"resourceType":"Observation","status":"final","code":{"text":"p"},"valueQuantity":{"value":12345678901234567890.5}}')).text).id as string;
      const replaced = await text('PATCH', `Observation/${big}`,
        '{"resourceType":"Parameters","parameter":[{"name":"operation","part":[{"name":"type","valueCode":"replace"},{"name":"path","valueString":"Observation.valueQuantity.value"},{"name":"value","valueDecimal":12345678901234567891}]}]}');
      assert.ok(has(replaced.text, '12345678901234567891'), replaced.text);
      assert.equal(JSON.parse(replaced.text).meta.versionId, '2');
    });

    test('integers written 5.0 are the integer 5; exponents are not written out; negative zero is 0.0 on every way out', async () => {
      const created = await text('POST', 'Observation', '{"resourceType":"Observation","status":"final","code":{"text":"int"},"valueInteger":5.0,"component":[{"code":{"text":"c"},"valueInteger":1E2}]}');
      assert.equal(created.status, 201, created.text);
      assert.ok(has(created.text, '5', 'valueInteger') && has(created.text, '100', 'valueInteger'), created.text);
      const id = JSON.parse(created.text).id as string;
      const xml = (await text('GET', `Observation/${id}?_format=xml`)).text;
      assert.ok(xml.includes('<valueInteger value="5"/>'), xml);
      const again = await text('POST', 'Observation', xml.replace(/<id value="[^"]*"\/>/, ''), 'application/fhir+xml');
      assert.equal(again.status, 201, 'the server reads its own XML back');
      const extended = await text('POST', 'Patient', '{"resourceType":"Patient","birthDate":"2000-01-01","_birthDate":{"extension":[{"url":"urn:x","valueInteger":7.0}]},"name":[{"given":["A"],"_given":[{"extension":[{"url":"urn:y","valueDecimal":7.0}]}]}]}');
      assert.equal(extended.status, 201, extended.text);
      assert.ok(has(extended.text, '7', 'valueInteger') && has(extended.text, '7.0', 'valueDecimal'), 'a primitive\'s extensions: integers plain, decimals kept');
      const tiny = await text('POST', 'Observation', '{"resourceType":"Observation","status":"final","code":{"text":"amp"},"valueQuantity":{"value":1e-16000}}');
      assert.equal(tiny.status, 201, tiny.text);
      const tinyRead = (await text('GET', `Observation/${JSON.parse(tiny.text).id}`)).text;
      assert.ok(tinyRead.length < 1000 && has(tinyRead, '0'), tinyRead.slice(0, 200));
      const zero = await text('POST', 'Observation', '{"resourceType":"Observation","status":"final","code":{"text":"z"},"valueQuantity":{"value":-0.0}}');
      assert.ok(has(zero.text, '0.0'), zero.text);
      assert.ok(has((await text('GET', `Observation/${JSON.parse(zero.text).id}`)).text, '0.0'));
    });

    test('a transaction PATCH entry (a Binary JSON Patch) keeps its decimals', async () => {
      const id = JSON.parse((await text('POST', 'Observation', OBSERVATION)).text).id as string;
      const patch = Buffer.from('[{"op":"replace","path":"/valueQuantity/value","value":4.20}]').toString('base64');
      const bundle = JSON.stringify({
        resourceType: 'Bundle', type: 'transaction',
        entry: [{ resource: { resourceType: 'Binary', contentType: 'application/json-patch+json', data: patch }, request: { method: 'PATCH', url: `Observation/${id}` } }],
      });
      const answer = await text('POST', '', bundle);
      assert.equal(answer.status, 200, answer.text);
      assert.ok(has((await text('GET', `Observation/${id}`)).text, '4.20'));
    });

    test('FHIR XML in: the value attribute as written, in XML and JSON', async () => {
      const xml = '<Observation xmlns="http://hl7.org/fhir"><status value="final"/><code><text value="x"/></code>'
        + '<valueQuantity><value value="6.30"/><unit value="mmol/L"/></valueQuantity></Observation>';
      const created = await text('POST', 'Observation', xml, 'application/fhir+xml', 'application/fhir+json');
      assert.equal(created.status, 201, created.text);
      assert.ok(has(created.text, '6.30'), created.text);
      const id = JSON.parse(created.text).id as string;
      assert.ok((await text('GET', `Observation/${id}`, undefined, undefined, 'application/fhir+xml')).text.includes('<value value="6.30"/>'));
      assert.ok(has((await text('GET', `Observation/${id}`)).text, '6.30'));
    });

    test('a transaction: entries keep their decimals, and a decimal at the resource root too', async () => {
      const bundle = `{"resourceType":"Bundle","type":"transaction","entry":[
        {"fullUrl":"urn:uuid:0b8e3d4c-2f5e-4d7a-9b1c-7a1e2f3d4c5b","resource":${OBSERVATION},"request":{"method":"POST","url":"Observation"}},
        {"fullUrl":"urn:uuid:1c9f4e5d-3a6f-4e8b-8c2d-8b2f3a4e5d6c","resource":{"resourceType":"Patient","name":[{"family":"Moyo"}]},"request":{"method":"POST","url":"Patient"}},
        {"resource":{"resourceType":"ChargeItem","status":"billable","code":{"text":"visit"},"subject":{"reference":"urn:uuid:1c9f4e5d-3a6f-4e8b-8c2d-8b2f3a4e5d6c"},"factorOverride":0.50},
         "request":{"method":"POST","url":"ChargeItem"}}]}`;
      const answer = await text('POST', '', bundle);
      assert.equal(answer.status, 200, answer.text);
      const [observation, , charge] = JSON.parse(answer.text).entry.map((e: { response: { location: string } }) => e.response.location.split('/_history')[0]);
      assertKept((await text('GET', observation)).text, 'transaction entry');
      assert.ok(has((await text('GET', charge)).text, '0.50', 'factorOverride'), 'root-level decimal');
    });
  });
}
