/**
 * FHIRPath Patch (R4 fhirpatch.html): a Parameters resource of `operation`s (add, insert, delete,
 * replace, move) whose paths are FHIRPath, sent with PATCH as application/fhir+json or xml, or as a
 * Parameters entry of a transaction. The module on its own first, then over HTTP on each driver.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Parameters, Patient } from '@medplum/fhirtypes';
import { DEFAULT_LIMITS } from '../../src/common/limits.js';
import { loadDefinitions } from '../../src/fhir/definitions.js';
import { applyFhirPathPatch } from '../../src/fhir/fhirpath-patch.js';
import { FhirError } from '../../src/fhir/outcome.js';
import { testDrivers } from '../support/databases.js';
import { startFhirServer, type FhirTestServer } from './support.js';

type Part = NonNullable<Parameters['parameter']>[number];

/** One `operation` parameter from its parts: `{ type: 'add', path: 'Patient', name: 'x', value: { valueDate: ... } }`. */
function operation(parts: { type: string; path: string; name?: string; index?: number; source?: number; destination?: number; value?: Omit<Part, 'name'> }): Part {
  const part: Part[] = [{ name: 'type', valueCode: parts.type }, { name: 'path', valueString: parts.path }];
  if (parts.name !== undefined) part.push({ name: 'name', valueString: parts.name });
  if (parts.value !== undefined) part.push({ name: 'value', ...parts.value });
  for (const key of ['index', 'source', 'destination'] as const) if (parts[key] !== undefined) part.push({ name: key, valueInteger: parts[key] });
  return { name: 'operation', part };
}

function patchOf(...operations: Part[]): Parameters {
  return { resourceType: 'Parameters', parameter: operations };
}

const base: Patient = {
  resourceType: 'Patient',
  id: 'p1',
  identifier: [{ system: 'urn:a', value: '1' }, { system: 'urn:b', value: '2' }],
  name: [{ use: 'official', family: 'Fhirpath', given: ['Ann', 'Beth'] }],
  gender: 'female',
  birthDate: '1980-05-02',
};

function rejects(patch: Parameters, status: number, message: RegExp): void {
  assert.throws(() => applyFhirPathPatch(base, patch, DEFAULT_LIMITS), (error: unknown) => {
    assert.ok(error instanceof FhirError);
    assert.equal(error.status, status);
    assert.match(error.message, message);
    return true;
  });
}

describe('FHIRPath Patch, the operations (fhirpatch.html)', () => {
  before(() => loadDefinitions());

  test('add: "the content will be appended to the element identified in the path, using the name specified"', () => {
    const patched = applyFhirPathPatch({ ...base, birthDate: undefined }, patchOf(
      operation({ type: 'add', path: 'Patient', name: 'birthDate', value: { valueDate: '1990-01-01' } }),
      operation({ type: 'add', path: 'Patient', name: 'identifier', value: { valueIdentifier: { system: 'urn:c', value: '3' } } }),
      operation({ type: 'add', path: "Patient.name.where(use = 'official')", name: 'given', value: { valueString: 'Cat' } }),
      operation({ type: 'add', path: 'Patient', name: 'deceased', value: { valueBoolean: false } }),
    ), DEFAULT_LIMITS);
    assert.equal(patched.birthDate, '1990-01-01');
    assert.deepEqual(patched.identifier!.map((i) => i.value), ['1', '2', '3']);
    assert.deepEqual(patched.name![0]!.given, ['Ann', 'Beth', 'Cat']);
    assert.equal(patched.deceasedBoolean, false, 'a choice element takes the type of its value');
    assert.equal(base.identifier!.length, 2, 'the original is not changed');
  });

  test('add of an element with no data type takes its value as parts (Patient.contact)', () => {
    const patched = applyFhirPathPatch(base, patchOf(operation({
      type: 'add', path: 'Patient', name: 'contact',
      value: { part: [{ name: 'name', valueHumanName: { family: 'Next' } }, { name: 'telecom', valueContactPoint: { system: 'phone', value: '1' } }] },
    })), DEFAULT_LIMITS);
    assert.deepEqual(patched.contact, [{ name: { family: 'Next' }, telecom: [{ system: 'phone', value: '1' }] }]);
  });

  test('"add can be used for non-repeating elements as long as they do not already exist"', () => {
    rejects(patchOf(operation({ type: 'add', path: 'Patient', name: 'gender', value: { valueCode: 'male' } })), 400, /already there/);
    rejects(patchOf(operation({ type: 'add', path: 'Patient', name: 'nonsense', value: { valueString: 'x' } })), 400, /no element "nonsense"/);
  });

  test('insert: "into the nominated list at the index specified (0 based)", at most the list\'s length', () => {
    const patched = applyFhirPathPatch(base, patchOf(
      operation({ type: 'insert', path: 'Patient.identifier', index: 0, value: { valueIdentifier: { system: 'urn:z', value: '0' } } }),
      operation({ type: 'insert', path: 'Patient.name[0].given', index: 2, value: { valueString: 'Last' } }),
    ), DEFAULT_LIMITS);
    assert.deepEqual(patched.identifier!.map((i) => i.value), ['0', '1', '2']);
    assert.deepEqual(patched.name![0]!.given, ['Ann', 'Beth', 'Last']);
    rejects(patchOf(operation({ type: 'insert', path: 'Patient.identifier', index: 5, value: { valueIdentifier: { value: 'x' } } })), 400, /past the end/);
  });

  test('delete: "only a single element can be deleted"; a path that finds nothing deletes nothing', () => {
    const patched = applyFhirPathPatch(base, patchOf(
      operation({ type: 'delete', path: 'Patient.birthDate' }),
      operation({ type: 'delete', path: "Patient.identifier.where(system = 'urn:a')" }),
      operation({ type: 'delete', path: 'Patient.name[0].given[1]' }),
      operation({ type: 'delete', path: 'Patient.multipleBirth' }),
    ), DEFAULT_LIMITS);
    assert.equal(patched.birthDate, undefined);
    assert.deepEqual(patched.identifier, [{ system: 'urn:b', value: '2' }]);
    assert.deepEqual(patched.name![0]!.given, ['Ann']);
    rejects(patchOf(operation({ type: 'delete', path: 'Patient.identifier' })), 400, /finds 2 elements/);
  });

  test('replace: "path of the element to replace", with a value of its type', () => {
    const patched = applyFhirPathPatch({ ...base, deceasedBoolean: false }, patchOf(
      operation({ type: 'replace', path: 'Patient.birthDate', value: { valueDate: '1970-01-01' } }),
      operation({ type: 'replace', path: 'Patient.name[0].family', value: { valueString: 'Renamed' } }),
      operation({ type: 'replace', path: "Patient.identifier.where(value = '2')", value: { valueIdentifier: { system: 'urn:b', value: '22' } } }),
      operation({ type: 'replace', path: 'Patient.deceased', value: { valueDateTime: '2020-01-01' } }),
    ), DEFAULT_LIMITS);
    assert.equal(patched.birthDate, '1970-01-01');
    assert.equal(patched.name![0]!.family, 'Renamed');
    assert.equal(patched.identifier![1]!.value, '22');
    assert.equal(patched.deceasedBoolean, undefined);
    assert.equal(patched.deceasedDateTime, '2020-01-01');
    rejects(patchOf(operation({ type: 'replace', path: 'Patient.multipleBirth', value: { valueBoolean: true } })), 400, /finds nothing/);
    // birthDate ends in its type's name but is no choice: a value of another type stays under its
    // key (validation then names Patient.birthDate), not a made-up birthString.
    const mistyped = applyFhirPathPatch(base, patchOf(operation({ type: 'replace', path: 'Patient.birthDate', value: { valueString: 'soon' } })), DEFAULT_LIMITS);
    assert.equal(mistyped.birthDate, 'soon');
    assert.equal('birthString' in mistyped, false);
  });

  test('move: "move an element within a single list"', () => {
    const patched = applyFhirPathPatch(base, patchOf(operation({ type: 'move', path: 'Patient.identifier', source: 0, destination: 1 })), DEFAULT_LIMITS);
    assert.deepEqual(patched.identifier!.map((i) => i.value), ['2', '1']);
    rejects(patchOf(operation({ type: 'move', path: 'Patient.identifier', source: 2, destination: 0 })), 400, /below the list/);
  });

  test('insert and move in a list of primitives move their ids and extensions (`_given`) with them', () => {
    const tagged: Patient = {
      ...base, name: [{ given: ['Ann', 'Bob', 'Cat'], _given: [null, { extension: [{ url: 'urn:x', valueString: 'bob' }] }, null] } as Patient['name'] extends (infer N)[] | undefined ? N : never],
    };
    const moved = applyFhirPathPatch(tagged, patchOf(operation({ type: 'move', path: 'Patient.name[0].given', source: 1, destination: 0 })), DEFAULT_LIMITS);
    const movedName = moved.name![0] as { given: string[]; _given: Array<{ extension: Array<{ valueString: string }> } | null> };
    assert.deepEqual(movedName.given, ['Bob', 'Ann', 'Cat']);
    assert.equal(movedName._given[0]?.extension[0]?.valueString, 'bob');
    assert.equal(movedName._given[1], null);
    const inserted = applyFhirPathPatch(tagged, patchOf(operation({ type: 'insert', path: 'Patient.name[0].given', index: 0, value: { valueString: 'Zed' } })), DEFAULT_LIMITS);
    const insertedName = inserted.name![0] as { given: string[]; _given: Array<{ extension: Array<{ valueString: string }> } | null> };
    assert.deepEqual(insertedName.given, ['Zed', 'Ann', 'Bob', 'Cat']);
    assert.equal(insertedName._given.length, 4);
    assert.equal(insertedName._given[2]?.extension[0]?.valueString, 'bob');
  });

  test('add to a list of primitives keeps its ids and extensions (`_given`) item for item, as insert does', () => {
    const tagged: Patient = {
      ...base, name: [{ given: ['Ann', 'Bob'], _given: [null, { extension: [{ url: 'urn:x', valueString: 'bob' }] }] } as Patient['name'] extends (infer N)[] | undefined ? N : never],
    };
    const added = applyFhirPathPatch(tagged, patchOf(operation({ type: 'add', path: 'Patient.name[0]', name: 'given', value: { valueString: 'Cat' } })), DEFAULT_LIMITS);
    const name = added.name![0] as { given: string[]; _given: Array<{ extension: Array<{ valueString: string }> } | null> };
    assert.deepEqual(name.given, ['Ann', 'Bob', 'Cat']);
    assert.equal(name._given.length, 3, 'one companion per value (json.html), or the patched resource is invalid');
    assert.equal(name._given[1]?.extension[0]?.valueString, 'bob');
    assert.equal(name._given[2], null);
  });

  test('a primitive with extensions and no value (`given: [null]`, `_given: [{...}]`) is replaced and deleted by its path', () => {
    const tagged: Patient = {
      ...base, name: [{ given: ['Ann', null, 'Cat'], _given: [null, { extension: [{ url: 'urn:x', valueString: 'unknown' }] }, null] } as unknown as Patient['name'] extends (infer N)[] | undefined ? N : never],
    };
    const replaced = applyFhirPathPatch(tagged, patchOf(operation({ type: 'replace', path: 'Patient.name[0].given[1]', value: { valueString: 'Bob' } })), DEFAULT_LIMITS);
    assert.deepEqual(replaced.name![0]!.given, ['Ann', 'Bob', 'Cat']);
    const deleted = applyFhirPathPatch(tagged, patchOf(operation({ type: 'delete', path: 'Patient.name[0].given[1]' })), DEFAULT_LIMITS);
    const name = deleted.name![0] as { given: string[]; _given?: unknown[] };
    assert.deepEqual(name.given, ['Ann', 'Cat']);
    assert.equal(name._given, undefined, 'its extensions went with it');
  });

  test('"servers SHALL NOT allow patch operations to alter other resources": a path through resolve() finds nothing to change', () => {
    const withOrganization = { ...base, managingOrganization: { reference: 'Organization/o1' } };
    assert.throws(() => applyFhirPathPatch(withOrganization, patchOf(operation({
      type: 'replace', path: 'Patient.managingOrganization.resolve()', value: { valueString: 'x' },
    })), DEFAULT_LIMITS), (error: unknown) => error instanceof FhirError && error.status === 400);
  });

  test('paths are bounded: no % variables, no functions beyond selection, and the work of the whole patch (FHIR_FHIRPATH_PATCH_MAX_COST)', () => {
    rejects(patchOf(operation({ type: 'delete', path: "Patient.identifier.where(%resource.id = 'p1')" })), 400, /may not use %resource/);
    rejects(patchOf(operation({ type: 'delete', path: "Patient.name.where(family.matches('(a+)+$'))" })), 400, /may not call matches\(\)/);
    rejects(patchOf(operation({ type: 'delete', path: 'Patient.descendants().first()' })), 400, /may not call descendants\(\)/);
    const many = Array.from({ length: 2_000 }, (_, i) => ({ system: 'urn:many', value: String(i) }));
    const large = { ...base, identifier: many };
    const filters = patchOf(...Array.from({ length: 50 }, (_, i) => operation({ type: 'delete', path: `Patient.identifier.where(value = '${i}')` })));
    assert.throws(() => applyFhirPathPatch(large, filters, { ...DEFAULT_LIMITS, fhirPathPatchMaxCost: 100_000 }),
      (error: unknown) => error instanceof FhirError && error.status === 400 && /FHIR_FHIRPATH_PATCH_MAX_COST/.test(error.message));
    const few = patchOf(...Array.from({ length: 5 }, (_, i) => operation({ type: 'delete', path: `Patient.identifier.where(value = '${i}')` })));
    assert.equal(applyFhirPathPatch(large, few, DEFAULT_LIMITS).identifier!.length, 1_995, 'the default allows a few');
    assert.throws(() => applyFhirPathPatch(large, filters, DEFAULT_LIMITS), /FHIR_FHIRPATH_PATCH_MAX_COST/, 'but not 50 filters over 10,000 values');
  });

  test('malformed patches are 400s that say what is wrong; the operation count is bounded like JSON Patch', () => {
    rejects(patchOf({ name: 'op', part: [] }), 400, /"operation"/);
    rejects(patchOf(operation({ type: 'upsert', path: 'Patient' })), 400, /add, insert, delete, replace or move/);
    rejects(patchOf(operation({ type: 'replace', path: 'Patient.birthDate' })), 400, /needs a value/);
    rejects(patchOf(operation({ type: 'delete', path: 'Patient.name.(' })), 400, /not FHIRPath/);
    rejects(patchOf(operation({ type: 'add', path: 'Patient', name: '__proto__', value: { valueString: 'x' } })), 400, /not an element name/);
    const many = patchOf(...Array.from({ length: 3 }, () => operation({ type: 'delete', path: 'Patient.birthDate' })));
    assert.throws(() => applyFhirPathPatch(base, many, { ...DEFAULT_LIMITS, fhirPatchMaxOperations: 2 }), /FHIR_PATCH_MAX_OPERATIONS/);
    const big = patchOf(operation({ type: 'add', path: 'Patient', name: 'identifier', value: { valueIdentifier: { value: 'x'.repeat(2000) } } }));
    assert.throws(() => applyFhirPathPatch(base, big, { ...DEFAULT_LIMITS, fhirPatchMaxResultBytes: 1000 }),
      (error: unknown) => error instanceof FhirError && error.status === 422 && /FHIR_PATCH_MAX_RESULT_BYTES/.test(error.message));
  });
});

for (const driver of testDrivers) {
  describe(`FHIRPath Patch over HTTP (${driver})`, () => {
    let s: FhirTestServer;
    before(async () => {
      s = await startFhirServer(driver);
    });
    after(async () => {
      await s.close();
    });

    async function created(): Promise<Patient> {
      const { id: _id, ...body } = base;
      return (await s.request('POST', 'Patient', { body })).body;
    }

    test('PATCH with a Parameters body (application/fhir+json) applies it as a new version', async () => {
      const patient = await created();
      const patched = await s.request('PATCH', `Patient/${patient.id}`, {
        body: patchOf(operation({ type: 'replace', path: 'Patient.gender', value: { valueCode: 'other' } })),
        headers: { 'if-match': 'W/"1"' },
      });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      assert.equal(patched.body.gender, 'other');
      assert.equal(patched.body.meta.versionId, '2');
      assert.equal((await s.request('GET', `Patient/${patient.id}`)).body.gender, 'other');
      const history = (await s.request('GET', `Patient/${patient.id}/_history`)).body;
      assert.equal(history.entry[0].request.method, 'PATCH');
      const stale = await s.request('PATCH', `Patient/${patient.id}`, {
        body: patchOf(operation({ type: 'replace', path: 'Patient.gender', value: { valueCode: 'male' } })),
        headers: { 'if-match': 'W/"1"' },
      });
      assert.equal(stale.status, 412);
    });

    test('PATCH with a Parameters body in XML (application/fhir+xml)', async () => {
      const patient = await created();
      const xml = `<Parameters xmlns="http://hl7.org/fhir"><parameter><name value="operation"/>
        <part><name value="type"/><valueCode value="delete"/></part>
        <part><name value="path"/><valueString value="Patient.birthDate"/></part></parameter></Parameters>`;
      const response = await fetch(`${s.base}/Patient/${patient.id}`, { method: 'PATCH', headers: { 'content-type': 'application/fhir+xml', accept: 'application/fhir+json' }, body: xml });
      assert.equal(response.status, 200);
      assert.equal(((await response.json()) as Patient).birthDate, undefined);
    });

    test('"Servers SHALL return an error if the outcome of the patch operation is not a valid resource"; nothing changes', async () => {
      const patient = await created();
      const invalid = await s.request('PATCH', `Patient/${patient.id}`, {
        body: patchOf(operation({ type: 'replace', path: 'Patient.gender', value: { valueCode: 'not-a-gender' } })),
      });
      assert.equal(invalid.status, 400);
      assert.equal(invalid.body.resourceType, 'OperationOutcome');
      const wrongType = await s.request('PATCH', `Patient/${patient.id}`, {
        body: patchOf(operation({ type: 'replace', path: 'Patient.birthDate', value: { valueBoolean: true } })),
      });
      assert.equal(wrongType.status, 400);
      const current = (await s.request('GET', `Patient/${patient.id}`)).body;
      assert.equal(current.meta.versionId, '1');
      assert.equal(current.gender, 'female');
    });

    test('a body that is neither format names both; the CapabilityStatement lists both', async () => {
      const patient = await created();
      const neither = await s.request('PATCH', `Patient/${patient.id}`, { body: { resourceType: 'Patient', gender: 'male' } });
      assert.equal(neither.status, 400);
      assert.match(neither.body.issue[0].diagnostics, /JSON Patch.*FHIRPath Patch/);
      const formats = (await s.request('GET', 'metadata')).body.patchFormat;
      assert.deepEqual([...formats].sort(), ['application/fhir+json', 'application/fhir+xml', 'application/json-patch+json']);
    });

    test('a transaction PATCH entry may be a Parameters resource (FHIRPath Patch)', async () => {
      const patient = await created();
      const response = await s.request('POST', '', {
        body: {
          resourceType: 'Bundle', type: 'transaction',
          entry: [{
            resource: patchOf(operation({ type: 'add', path: 'Patient', name: 'identifier', value: { valueIdentifier: { system: 'urn:t', value: 'tx' } } })),
            request: { method: 'PATCH', url: `Patient/${patient.id}` },
          }],
        },
      });
      assert.equal(response.status, 200, JSON.stringify(response.body));
      assert.match(response.body.entry[0].response.status, /^200/);
      const current = (await s.request('GET', `Patient/${patient.id}`)).body;
      assert.deepEqual(current.identifier.map((i: { value: string }) => i.value), ['1', '2', 'tx']);
    });
  });
}
