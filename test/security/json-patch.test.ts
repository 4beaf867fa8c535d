/**
 * Finding 2: a 2.9 KB JSON Patch (an array added, then 40 copies of it into itself) doubled the
 * document until V8 ran out of heap. Patches are now bounded by operation count and by the size
 * of the document as they leave it, checked while they are applied. Finding 6: a patch path
 * through `/__proto__` polluted Object.prototype.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { applyJsonPatch } from '../../src/fhir/json-patch.js';
import { FhirError } from '../../src/fhir/outcome.js';
import { testDrivers } from '../support/databases.js';
import { diagnostics, startLimitedFhirServer, type LimitedFhirServer } from './fhir-body-support.js';

const PATCH = { 'content-type': 'application/json-patch+json' };

/** The 2.9 KB attack: an array, then 40 copies of it into itself (2^40 elements if unbounded). */
function doublingPatch(): unknown[] {
  const ops: unknown[] = [{ op: 'add', path: '/identifier', value: Array.from({ length: 8 }, (_, i) => ({ system: 'urn:x', value: `v${i}` })) }];
  for (let i = 0; i < 40; i++) ops.push({ op: 'copy', from: '/identifier', path: '/identifier/-' });
  return ops;
}

function rejects(fn: () => unknown, status: number, pattern: RegExp): void {
  assert.throws(fn, (error: unknown) => error instanceof FhirError && error.status === status && pattern.test(error.message));
}

describe('applyJsonPatch (pure)', () => {
  const patient = { resourceType: 'Patient', id: 'p', name: [{ family: 'Doe' }] };
  const limits = { fhirPatchMaxOperations: 50, fhirPatchMaxResultBytes: 64 * 1024 };

  test('copies of an array into itself stop at the size limit after a few operations, leaving the input untouched', () => {
    const ops: unknown[] = [{ op: 'add', path: '/list', value: ['x'.repeat(100)] }];
    for (let i = 0; i < 40; i++) ops.push({ op: 'copy', from: '/list', path: '/list/-' });
    rejects(() => applyJsonPatch(patient, ops, limits), 422, /larger than 65536 bytes/);
    assert.deepEqual(patient, { resourceType: 'Patient', id: 'p', name: [{ family: 'Doe' }] });
  });

  test('the issue\'s patch is refused with the default limits, quickly and without growing the heap', () => {
    const before = process.memoryUsage().heapUsed;
    rejects(() => applyJsonPatch(patient, doublingPatch()), 422, /FHIR_PATCH_MAX_RESULT_BYTES/);
    assert.ok(process.memoryUsage().heapUsed - before < 200 * 1024 * 1024, 'the heap stayed small');
  });

  test('too many operations is a 400 before any is applied', () => {
    const ops = Array.from({ length: 51 }, () => ({ op: 'test', path: '/id', value: 'p' }));
    rejects(() => applyJsonPatch(patient, ops, limits), 400, /at most 50 operations/);
    assert.equal(applyJsonPatch(patient, ops.slice(1), limits).id, 'p');
  });

  test('growth is counted through add, replace, move and remove', () => {
    const big = 'y'.repeat(40 * 1024);
    const grown = applyJsonPatch(patient, [{ op: 'add', path: '/name/0/given', value: [big] }], limits);
    assert.equal((grown as any).name[0].given[0], big);
    rejects(() => applyJsonPatch(grown, [{ op: 'add', path: '/name/-', value: { family: big } }], limits), 422, /larger/);
    // replacing or moving the big value does not count it twice
    const replaced = applyJsonPatch(grown, [{ op: 'replace', path: '/name/0/given/0', value: big }, { op: 'move', from: '/name/0/given', path: '/name/0/suffix' }], limits);
    assert.equal((replaced as any).name[0].suffix[0], big);
    // removing it makes room again
    const roomy = applyJsonPatch(grown, [{ op: 'remove', path: '/name/0/given' }, { op: 'add', path: '/name/-', value: { family: big } }], limits);
    assert.equal((roomy as any).name.length, 2);
  });

  test('a resource already larger than the limit can be patched, not grown', () => {
    const large = { ...patient, name: [{ family: 'z'.repeat(100 * 1024) }] };
    assert.equal((applyJsonPatch(large, [{ op: 'replace', path: '/name/0/family', value: 'short' }], limits) as any).name[0].family, 'short');
    rejects(() => applyJsonPatch(large, [{ op: 'add', path: '/gender', value: 'x'.repeat(1024) }], limits), 422, /larger/);
  });

  test('__proto__, constructor and prototype tokens are refused; inherited members are not paths', () => {
    for (const path of ['/__proto__/polluted', '/constructor/prototype/polluted', '/name/0/__proto__/polluted', '/prototype']) {
      rejects(() => applyJsonPatch(patient, [{ op: 'add', path, value: 'yes' }], limits), 400, /not a FHIR element/);
    }
    rejects(() => applyJsonPatch(patient, [{ op: 'copy', from: '/__proto__', path: '/x' }], limits), 400, /not a FHIR element/);
    rejects(() => applyJsonPatch(patient, [{ op: 'remove', path: '/toString' }], limits), 400, /does not exist/);
    rejects(() => applyJsonPatch(patient, [{ op: 'add', path: '/hasOwnProperty/x', value: 1 }], limits), 400, /does not exist/);
    rejects(() => applyJsonPatch(patient, [{ op: 'add', path: '/name/length', value: 1 }], limits), 400, /invalid array index/);
    assert.equal(({} as any).polluted, undefined);
  });

  test('test compares JSON values with members in any order', () => {
    const doc = { resourceType: 'Patient', id: 'p', name: [{ family: 'Doe', given: ['A'] }] };
    assert.ok(applyJsonPatch(doc, [{ op: 'test', path: '/name/0', value: { given: ['A'], family: 'Doe' } }], limits));
    rejects(() => applyJsonPatch(doc, [{ op: 'test', path: '/name/0', value: { family: 'Doe' } }], limits), 422, /test failed/);
  });
});

for (const driver of testDrivers) {
  describe(`JSON Patch over HTTP is bounded and prototype-safe (${driver})`, () => {
    let s: LimitedFhirServer;
    let id: string;
    before(async () => {
      s = await startLimitedFhirServer(driver, { limits: { fhirPatchMaxOperations: 100, fhirPatchMaxResultBytes: 256 * 1024 } });
      id = (await s.request('POST', 'Patient', { body: { resourceType: 'Patient', name: [{ family: 'Doe' }] } })).body.id;
    });
    after(async () => {
      await s.close();
    });

    test('the doubling patch gets 422 and the resource is unchanged', async () => {
      const raw = JSON.stringify(doublingPatch());
      assert.ok(raw.length < 4096, 'the attack is a few KB');
      const reply = await s.request('PATCH', `Patient/${id}`, { raw, headers: PATCH });
      assert.equal(reply.status, 422, diagnostics(reply.body));
      assert.equal(reply.body.resourceType, 'OperationOutcome');
      assert.match(diagnostics(reply.body), /larger than 262144 bytes/);
      const current = await s.request('GET', `Patient/${id}`);
      assert.equal(current.body.meta.versionId, '1');
      assert.equal(current.body.identifier, undefined);
    });

    test('more operations than FHIR_PATCH_MAX_OPERATIONS is a 400', async () => {
      const ops = Array.from({ length: 101 }, () => ({ op: 'test', path: '/id', value: id }));
      const reply = await s.request('PATCH', `Patient/${id}`, { body: ops, headers: PATCH });
      assert.equal(reply.status, 400, diagnostics(reply.body));
      assert.match(diagnostics(reply.body), /at most 100 operations/);
    });

    test('the same patch in a transaction bundle PATCH entry is refused too', async () => {
      const bundle = {
        resourceType: 'Bundle', type: 'transaction',
        entry: [{
          request: { method: 'PATCH', url: `Patient/${id}` },
          resource: { resourceType: 'Binary', contentType: 'application/json-patch+json', data: Buffer.from(JSON.stringify(doublingPatch())).toString('base64') },
        }],
      };
      const reply = await s.request('POST', '', { body: bundle });
      assert.ok(reply.status === 422 || reply.status === 400, `${reply.status} ${diagnostics(reply.body)}`);
      const batch = await s.request('POST', '', { body: { ...bundle, type: 'batch' } });
      assert.equal(batch.status, 200, diagnostics(batch.body));
      assert.match(batch.body.entry[0].response.status, /^4\d\d/);
      assert.equal((await s.request('GET', `Patient/${id}`)).body.meta.versionId, '1');
    });

    test('a patch through /__proto__ is a 400 and pollutes nothing', async () => {
      for (const path of ['/__proto__/polluted', '/constructor/prototype/polluted', '/name/0/__proto__/polluted']) {
        const reply = await s.request('PATCH', `Patient/${id}`, { body: [{ op: 'add', path, value: 'yes' }], headers: PATCH });
        assert.equal(reply.status, 400, `${path}: ${diagnostics(reply.body)}`);
      }
      const binary = { resourceType: 'Binary', contentType: 'application/json-patch+json', data: Buffer.from(JSON.stringify([{ op: 'add', path: '/__proto__/polluted', value: 'yes' }])).toString('base64') };
      const bundle = await s.request('POST', '', { body: { resourceType: 'Bundle', type: 'batch', entry: [{ request: { method: 'PATCH', url: `Patient/${id}` }, resource: binary }] } });
      assert.match(bundle.body.entry[0].response.status, /^400/);
      // a value carrying an own __proto__ member (JSON.parse makes one) is refused as well
      const sneaky = await s.request('PATCH', `Patient/${id}`, { raw: '[{"op":"add","path":"/name/0","value":{"__proto__":{"polluted":"yes"}}}]', headers: PATCH });
      assert.equal(sneaky.status, 400, diagnostics(sneaky.body));
      assert.equal(({} as any).polluted, undefined);
      assert.equal((Object.prototype as any).polluted, undefined);
    });

    test('an ordinary patch still works', async () => {
      const reply = await s.request('PATCH', `Patient/${id}`, { body: [{ op: 'add', path: '/gender', value: 'female' }], headers: PATCH });
      assert.equal(reply.status, 200, diagnostics(reply.body));
      assert.equal(reply.body.gender, 'female');
    });
  });
}

