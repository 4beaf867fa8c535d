/**
 * FHIRPath Patch runs FHIRPath on the event loop, and each step of a path may walk the whole
 * resource: 1,000 `where()` filters over a Patient of 10,000 identifiers (30,000 JSON values, under
 * FHIR_MAX_RESOURCE_ELEMENTS) held the event loop for 45 s when first written. The patch's cost
 * (values times path steps) is now bounded before it runs, and paths may not reach outside the
 * resource (% variables, resolve()) nor call regular expressions.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testDrivers } from '../support/databases.js';
import { diagnostics, startLimitedFhirServer, type LimitedFhirServer } from './fhir-body-support.js';

function operation(type: string, path: string, value?: Record<string, unknown>) {
  const part: Array<Record<string, unknown>> = [{ name: 'type', valueCode: type }, { name: 'path', valueString: path }];
  if (value) part.push({ name: 'value', ...value });
  return { name: 'operation', part };
}

for (const driver of testDrivers) {
  describe(`FHIRPath Patch cost and reach (${driver})`, () => {
    let s: LimitedFhirServer;
    let id: string;
    before(async () => {
      s = await startLimitedFhirServer(driver);
      const identifier = Array.from({ length: 10_000 }, (_, i) => ({ system: 'urn:many', value: `v${i}` }));
      const created = await s.request('POST', 'Patient', { body: { resourceType: 'Patient', identifier } });
      assert.equal(created.status, 201, diagnostics(created.body));
      id = created.body.id;
    });
    after(async () => {
      await s.close();
    });

    test('1,000 filters over 10,000 identifiers are refused before they run, as too costly; nothing changes', async () => {
      const parameter = Array.from({ length: 1_000 }, (_, i) => operation('replace', `Patient.identifier.where(value = 'v${9_999 - i}').value`, { valueString: `x${i}` }));
      const refused = await s.request('PATCH', `Patient/${id}`, { body: { resourceType: 'Parameters', parameter } });
      assert.equal(refused.status, 400);
      assert.equal(refused.body.issue[0].code, 'too-costly');
      assert.match(diagnostics(refused.body), /FHIR_FHIRPATH_PATCH_MAX_COST/);
      assert.equal((await s.request('GET', `Patient/${id}`)).body.meta.versionId, '1');
    });

    test('paths may not use % variables, resolve() or regular expressions', async () => {
      for (const path of [
        "Patient.identifier.where(%resource.id.exists() and value = 'v1')",
        'Patient.managingOrganization.resolve()',
        "Patient.identifier.where(value.matches('^(v+)+$'))",
      ]) {
        const refused = await s.request('PATCH', `Patient/${id}`, { body: { resourceType: 'Parameters', parameter: [operation('delete', path)] } });
        assert.equal(refused.status, 400, path);
        assert.match(diagnostics(refused.body), /may not (use|call)/, path);
      }
    });

    test('a path whose expression grows exponentially (stacked unary minus) is refused at once', async () => {
      // @medplum/core shares the operand of a unary minus between both sides: 900 of them held the process for good.
      const minus = '-'.repeat(900);
      const refused = await s.request('PATCH', `Patient/${id}`, {
        body: { resourceType: 'Parameters', parameter: [operation('delete', `Patient.identifier.where(${minus}1 = 1)`)] },
      });
      assert.equal(refused.status, 400, diagnostics(refused.body));
      assert.match(diagnostics(refused.body), /more than 256 steps/);
      assert.equal((await s.request('GET', `Patient/${id}`)).body.meta.versionId, '1');
    });

    test('the union operator (quadratic duplicate removal) is refused in patch paths', async () => {
      const refused = await s.request('PATCH', `Patient/${id}`, {
        body: { resourceType: 'Parameters', parameter: [operation('delete', "(Patient.identifier | Patient.identifier).where(value = 'nomatch')")] },
      });
      assert.equal(refused.status, 400, diagnostics(refused.body));
      assert.match(diagnostics(refused.body), /union operator/);
    });

    test('long strings count by their length: 1,000 string functions over a 1 MB name are too costly', async () => {
      const created = await s.request('POST', 'Patient', { body: { resourceType: 'Patient', name: [{ family: 'x'.repeat(1_000_000) }] } });
      assert.equal(created.status, 201, diagnostics(created.body));
      const parameter = Array.from({ length: 1_000 }, () => operation('delete', "Patient.name.where(family.lower().contains('zz'))"));
      const refused = await s.request('PATCH', `Patient/${created.body.id}`, { body: { resourceType: 'Parameters', parameter } });
      assert.equal(refused.status, 400, diagnostics(refused.body));
      assert.equal(refused.body.issue[0].code, 'too-costly');
    });

    test('a patch within the bound runs', async () => {
      const patched = await s.request('PATCH', `Patient/${id}`, {
        body: { resourceType: 'Parameters', parameter: [operation('delete', "Patient.identifier.where(value = 'v0')")] },
      });
      assert.equal(patched.status, 200, diagnostics(patched.body));
      assert.equal(patched.body.identifier.length, 9_999);
    });
  });
}
