/**
 * Findings 6 and 14: untrusted JSON and query strings must never reach Object.prototype. Keys
 * named like Object members (`constructor`, `toString`, `valueOf`) gave 500s and `__proto__` was
 * stored; now bodies using them are refused with a 400 naming the element, and names from URLs
 * (types, search parameters, operations) find nothing inherited.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { searchParameter, searchParametersOf } from '../../src/fhir/definitions.js';
import { FhirError } from '../../src/fhir/outcome.js';
import { assertResourceBody, validateAgainstDefinitions } from '../../src/fhir/validation.js';
import { testDrivers } from '../support/databases.js';
import { diagnostics, startLimitedFhirServer, type LimitedFhirServer } from './fhir-body-support.js';

// With an underscore, a primitive's companion: looked up by the name after it (`_constructor` was a 500).
const MEMBER_NAMES = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf', '__defineGetter__', '_constructor', '___proto__', '_toString', '_valueOf'];

function assertUnpolluted(): void {
  assert.equal(({} as any).polluted, undefined);
  assert.equal((Object.prototype as any).polluted, undefined);
  assert.equal(typeof ({} as any).toString, 'function');
}

describe('validation and definitions (pure)', () => {
  test('a resource with an Object member name at any level is refused naming the element', () => {
    for (const name of MEMBER_NAMES) {
      for (const [raw, path] of [
        [`{"resourceType":"Patient","${name}":{"polluted":"yes"}}`, `Patient.${name}`],
        [`{"resourceType":"Patient","name":[{"family":"Doe","${name}":"x"}]}`, `Patient.name[0].${name}`],
        [`{"resourceType":"Patient","contact":[{"name":{"${name}":["x"]}}]}`, `Patient.contact[0].name.${name}`],
      ] as const) {
        assert.throws(() => assertResourceBody(JSON.parse(raw)), (error: unknown) =>
          error instanceof FhirError && error.status === 400 && error.message.startsWith(`${path}:`), raw);
      }
    }
    assertUnpolluted();
  });

  test('the validator itself no longer crashes on such names (defence in depth)', () => {
    for (const name of ['constructor', 'toString', 'valueOf']) {
      assert.throws(() => validateAgainstDefinitions(JSON.parse(`{"resourceType":"Patient","${name}":1}`)), (error: unknown) => error instanceof FhirError && error.status === 400);
    }
  });

  test('search parameter tables have no inherited members', () => {
    for (const name of MEMBER_NAMES) {
      assert.equal(searchParameter('Patient', name), undefined, name);
      assert.equal(searchParametersOf('Patient')[name], undefined, name);
      assert.deepEqual(Object.keys(searchParametersOf(name)), [], name);
    }
    assert.equal(searchParameter('Patient', 'family')?.code, 'family');
  });
});

for (const driver of testDrivers) {
  describe(`Object member names in FHIR requests get a 4xx and pollute nothing (${driver})`, () => {
    let s: LimitedFhirServer;
    let id: string;
    before(async () => {
      s = await startLimitedFhirServer(driver);
      id = (await s.request('POST', 'Patient', { body: { resourceType: 'Patient', name: [{ family: 'Doe' }] } })).body.id;
    });
    after(async () => {
      await s.close();
      assertUnpolluted();
    });

    test('bodies with member names at top and nested levels: 400 naming the element, nothing stored', async () => {
      for (const name of MEMBER_NAMES) {
        for (const raw of [
          `{"resourceType":"Patient","${name}":{"polluted":"yes"}}`,
          `{"resourceType":"Patient","name":[{"family":"Doe","${name}":{"polluted":"yes"}}]}`,
        ]) {
          for (const [method, path] of [['POST', 'Patient'], ['PUT', `Patient/${id}`]] as const) {
            const body = method === 'PUT' ? raw.replace('{"resourceType":"Patient"', `{"resourceType":"Patient","id":"${id}"`) : raw;
            const reply = await s.request(method, path, { raw: body });
            assert.equal(reply.status, 400, `${method} ${body}: ${diagnostics(reply.body)}`);
            assert.equal(reply.body.resourceType, 'OperationOutcome');
            assert.match(diagnostics(reply.body), new RegExp(`Patient(\\.name\\[0\\])?\\.${name.replace(/\$/g, '\\$')}`));
          }
        }
      }
      const search = await s.request('GET', 'Patient');
      assert.equal(search.body.total, 1, 'only the first Patient was stored');
      assert.equal((await s.request('GET', `Patient/${id}`)).body.meta.versionId, '1');
      assertUnpolluted();
    });

    test('the same bodies inside a transaction, a batch and $validate', async () => {
      const raw = `{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"POST","url":"Patient"},"resource":{"resourceType":"Patient","constructor":{"prototype":{"polluted":"yes"}}}}]}`;
      const reply = await s.request('POST', '', { raw });
      assert.equal(reply.status, 400, diagnostics(reply.body));
      const validate = await s.request('POST', 'Patient/$validate', { raw: '{"resourceType":"Patient","__proto__":{"polluted":"yes"}}' });
      assert.equal(validate.status, 400, diagnostics(validate.body));
      for (const name of ['_constructor', '_toLocaleString']) {
        const entry = `{"request":{"method":"POST","url":"Patient"},"resource":{"resourceType":"Patient","${name}":{"id":"x"}}}`;
        assert.equal((await s.request('POST', '', { raw: `{"resourceType":"Bundle","type":"transaction","entry":[${entry}]}` })).status, 400, name);
        // Refused whole, before any entry runs, as a batch holding `constructor` is.
        assert.equal((await s.request('POST', '', { raw: `{"resourceType":"Bundle","type":"batch","entry":[${entry}]}` })).status, 400, name);
        // $validate answers what a write would, as an error issue (200: the operation itself worked).
        const validated = await s.request('POST', 'Patient/$validate', { raw: `{"resourceType":"Patient","${name}":{"id":"x"}}` });
        assert.ok(validated.status < 500 && validated.body.issue.some((i: { severity: string; diagnostics?: string }) => i.severity === 'error' && i.diagnostics?.includes(`Patient.${name}`)), `${name}: ${diagnostics(validated.body)}`);
        const patched = await s.request('PATCH', `Patient/${id}`, { raw: JSON.stringify([{ op: 'add', path: `/${name}`, value: { id: 'x' } }]), headers: { 'content-type': 'application/json-patch+json' } });
        assert.equal(patched.status, 400, `${name}: ${diagnostics(patched.body)}`);
      }
      assertUnpolluted();
    });

    test('resourceType values and URL types named like Object members', async () => {
      for (const name of MEMBER_NAMES) {
        const reply = await s.request('POST', 'Patient', { body: { resourceType: name } });
        assert.equal(reply.status, 400, `${name}: ${diagnostics(reply.body)}`);
        for (const [method, path] of [['GET', name], ['GET', `${name}/1`], ['POST', name], ['GET', `${name}/_history`]] as const) {
          const r = await s.request(method, path, method === 'POST' ? { body: { resourceType: 'Patient' } } : {});
          assert.ok(r.status >= 400 && r.status < 500, `${method} ${path}: ${r.status} ${diagnostics(r.body)}`);
        }
      }
    });

    test('search parameters, _sort, _include, _revinclude, chains and _has named like Object members', async () => {
      for (const name of MEMBER_NAMES) {
        const queries = [
          `Patient?${name}=1`, `Patient?_sort=${name}`, `Patient?_sort=-${name}`, `Patient?_include=Patient:${name}`,
          `Patient?_revinclude=Observation:${name}`, `Patient?name:${name}=x`, `Patient?general-practitioner.${name}=x`,
          `Patient?general-practitioner:${name}.name=x`, `Patient?_has:Observation:${name}:code=1`, `Patient?_has:${name}:patient:code=1`,
          `Patient?_has:Observation:patient:${name}=1`, `Patient?_elements=${name}`, `${name}?name=x`,
        ].map((q) => q.replace(/__defineGetter__/g, encodeURIComponent('__defineGetter__')));
        for (const query of queries) {
          const strict = await s.request('GET', query, { headers: { prefer: 'handling=strict' } });
          assert.ok(strict.status < 500, `${query} (strict): ${strict.status} ${diagnostics(strict.body)}`);
          const lenient = await s.request('GET', query);
          assert.ok(lenient.status < 500, `${query}: ${lenient.status} ${diagnostics(lenient.body)}`);
          // A name that is no parameter behaves as any unknown parameter: 400 when strict, ignored when lenient.
          if (strict.status === 200) assert.match(query, /_elements/, `${query} (strict) should be refused`);
        }
      }
      assertUnpolluted();
    });

    test('operations named like Object members are 404', async () => {
      for (const name of MEMBER_NAMES) {
        for (const path of [`$${name}`, `Patient/$${name}`, `Patient/${id}/$${name}`]) {
          for (const method of ['GET', 'POST']) {
            const reply = await s.request(method, path, method === 'POST' ? { body: { resourceType: 'Parameters' } } : {});
            assert.equal(reply.status, 404, `${method} ${path}: ${diagnostics(reply.body)}`);
          }
        }
      }
      assertUnpolluted();
    });
  });
}
