/**
 * On both drivers: Patient/$merge naming its records by identifier (FHIR R5's
 * source-patient-identifier / target-patient-identifier), and golden records whose demographics
 * follow their primary source (refreshed when it changes, taken from the next source when it leaves).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { testDrivers } from '../support/databases.js';
import { CLINIC_A, CLINIC_B, NATIONAL_ID, NATIONAL_ID_OID, goldenOf, namingSystem, patient, startRegistry, type RegistryUnderTest } from './support.js';

const ref = (id: string) => ({ reference: `Patient/${id}` });

for (const driver of testDrivers) {
  describe(`client registry: $merge by identifier and golden demographics on ${driver}`, () => {
    let cr: RegistryUnderTest;
    const register = async (body: Record<string, unknown>) => {
      const reply = await cr.request('POST', 'Patient', body);
      assert.equal(reply.status, 201, JSON.stringify(reply.body));
      return { id: reply.body.id as string, golden: goldenOf(reply.body)! };
    };

    before(async () => {
      cr = await startRegistry(driver);
      for (const [name, url, oid] of [['NationalId', NATIONAL_ID, NATIONAL_ID_OID], ['ClinicA', CLINIC_A], ['ClinicB', CLINIC_B]] as const) {
        assert.equal((await cr.request('POST', 'NamingSystem', namingSystem(name, url, oid))).status, 201);
      }
    });
    after(async () => {
      await cr.close();
    });

    test('$merge by source-patient-identifier and target-patient-identifier (an OID names the domain)', async () => {
      const survivor = await register(patient({ ids: [[CLINIC_A, 'M-1'], [NATIONAL_ID, 'N-900']], family: 'Phiri', given: 'Grace', birthDate: '1975-01-30' }));
      const duplicate = await register(patient({ ids: [[CLINIC_B, 'M-2']], family: 'Banda', given: 'Thoko', birthDate: '1968-07-07' }));
      assert.notEqual(survivor.golden, duplicate.golden);
      const merged = await cr.request('POST', 'Patient/$merge', { resourceType: 'Parameters', parameter: [
        { name: 'source-patient-identifier', valueIdentifier: { system: CLINIC_B, value: 'M-2' } },
        { name: 'target-patient-identifier', valueIdentifier: { system: `urn:oid:${NATIONAL_ID_OID}`, value: 'N-900' } },
        { name: 'target-patient-identifier', valueIdentifier: { system: CLINIC_A, value: 'M-1' } },
      ] });
      assert.equal(merged.status, 200, JSON.stringify(merged.body));
      const result = merged.body.parameter.find((p: { name: string }) => p.name === 'result').resource;
      assert.equal(result.id, survivor.id);
      assert.ok(merged.body.parameter.some((p: { name: string }) => p.name === 'input'), 'the input parameters are echoed (R5)');
      const source = await cr.request('GET', `Patient/${duplicate.id}`);
      assert.equal(source.body.active, false);
      assert.ok(source.body.link.some((l: { type: string; other: { reference: string } }) => l.type === 'replaced-by' && l.other.reference === `Patient/${survivor.id}`));
      assert.equal(goldenOf(source.body), survivor.golden);
    });

    test('preview=true answers what the merge would do and changes nothing; result-patient is refused 400 (review finding 7)', async () => {
      const survivor = await register(patient({ ids: [[CLINIC_A, 'PV-1']], family: 'Kachale', given: 'Ruth', birthDate: '1944-04-04' }));
      const duplicate = await register(patient({ ids: [[CLINIC_B, 'PV-2']], family: 'Zulu', given: 'Peter', birthDate: '1933-03-03' }));
      const sides = [{ name: 'source-patient', valueReference: ref(duplicate.id) }, { name: 'target-patient', valueReference: ref(survivor.id) }];
      const before = (await cr.request('GET', `Patient/${duplicate.id}`)).body;
      const preview = await cr.request('POST', 'Patient/$merge', { resourceType: 'Parameters', parameter: [...sides, { name: 'preview', valueBoolean: true }] });
      assert.equal(preview.status, 200, JSON.stringify(preview.body));
      const result = preview.body.parameter.find((p: { name: string }) => p.name === 'result').resource;
      assert.ok(result.link.some((l: { type: string; other: { reference: string } }) => l.type === 'replaces' && l.other.reference === `Patient/${duplicate.id}`), 'the result shows the target as it would be');
      assert.match(JSON.stringify(preview.body.parameter.find((p: { name: string }) => p.name === 'outcome').resource), /preview/);
      const after = (await cr.request('GET', `Patient/${duplicate.id}`)).body;
      assert.deepEqual(after, before, 'the source is unchanged (no version, no link, still active)');
      assert.ok(!((await cr.request('GET', `Patient/${survivor.id}`)).body.link ?? []).some((l: { type: string }) => l.type === 'replaces'));
      const selfPreview = await cr.request('POST', 'Patient/$merge', { resourceType: 'Parameters', parameter: [sides[0], { name: 'target-patient', valueReference: ref(duplicate.id) }, { name: 'preview', valueBoolean: true }] });
      assert.equal(selfPreview.status, 422, 'a preview of a refused merge is refused as the merge would be');
      const badPreview = await cr.request('POST', 'Patient/$merge', { resourceType: 'Parameters', parameter: [...sides, { name: 'preview', valueString: 'maybe' }] });
      assert.equal(badPreview.status, 400);
      const withResult = await cr.request('POST', 'Patient/$merge', { resourceType: 'Parameters', parameter: [...sides, { name: 'result-patient', resource: { resourceType: 'Patient', id: survivor.id } }] });
      assert.equal(withResult.status, 400, JSON.stringify(withResult.body));
      assert.match(withResult.body.issue[0].diagnostics, /result-patient/);
      assert.notEqual((await cr.request('GET', `Patient/${duplicate.id}`)).body.active, false, 'nothing merged');
    });

    test('identifiers that name no record, several records, or another record than the reference: 422; none given: 400', async () => {
      const x = await register(patient({ ids: [[CLINIC_A, 'Z-1']], family: 'Tembo', given: 'Moses', birthDate: '1959-05-05' }));
      await register(patient({ ids: [[CLINIC_B, 'Z-2'], [NATIONAL_ID, 'N-SHARED']], family: 'Mbewe', given: 'Alice', birthDate: '1999-09-09' }));
      // Two clinics' records of one person (linked by the matcher) share the national id: it names two records.
      await register(patient({ ids: [[CLINIC_A, 'Z-3'], [NATIONAL_ID, 'N-SHARED']], family: 'Mbewe', given: 'Alice', birthDate: '1999-09-09' }));
      const cases: Array<[number, unknown[]]> = [
        [422, [{ name: 'source-patient-identifier', valueIdentifier: { system: CLINIC_A, value: 'NOBODY' } }, { name: 'target-patient', valueReference: ref(x.id) }]],
        [422, [{ name: 'source-patient-identifier', valueIdentifier: { system: NATIONAL_ID, value: 'N-SHARED' } }, { name: 'target-patient', valueReference: ref(x.id) }]],
        [422, [{ name: 'source-patient', valueReference: ref(x.id) }, { name: 'source-patient-identifier', valueIdentifier: { system: CLINIC_B, value: 'Z-2' } },
          { name: 'target-patient-identifier', valueIdentifier: { system: CLINIC_A, value: 'Z-3' } }]],
        [400, [{ name: 'target-patient', valueReference: ref(x.id) }]],
        [400, [{ name: 'source-patient-identifier', valueIdentifier: { value: 'Z-2' } }, { name: 'target-patient', valueReference: ref(x.id) }]],
      ];
      for (const [status, parameter] of cases) {
        const reply = await cr.request('POST', 'Patient/$merge', { resourceType: 'Parameters', parameter });
        assert.equal(reply.status, status, JSON.stringify(reply.body));
        assert.equal(reply.body.resourceType, 'OperationOutcome');
      }
      assert.equal((await cr.request('GET', `Patient/${x.id}`)).body.active, undefined, 'nothing was merged');
    });

    test('an identifier value holding a comma is that value: source-patient-identifier "W-9,W-1" names no record, not W-1 (another patient)', async () => {
      const victim = await register(patient({ ids: [[CLINIC_B, 'W-1']], family: 'Gondwe', given: 'Ruth', birthDate: '1944-04-04' }));
      const target = await register(patient({ ids: [[CLINIC_A, 'W-2']], family: 'Kalua', given: 'Amos', birthDate: '1977-07-07' }));
      const reply = await cr.request('POST', 'Patient/$merge', { resourceType: 'Parameters', parameter: [
        { name: 'source-patient-identifier', valueIdentifier: { system: CLINIC_A, value: 'W-9,W-1' } },
        { name: 'target-patient', valueReference: ref(target.id) },
      ] });
      assert.equal(reply.status, 422, JSON.stringify(reply.body));
      assert.equal((await cr.request('GET', `Patient/${victim.id}`)).body.active, undefined, 'the other patient was not merged');
    });

    test('a golden record follows its primary source: refreshed when it changes, the next source when it leaves', async () => {
      const first = await register({ ...patient({ ids: [[CLINIC_A, 'G-1']], family: 'Nkosi', given: 'Sipho', birthDate: '1985-06-15', gender: 'male' }), telecom: [{ system: 'phone', value: '0711111111' }] });
      const second = await register({ ...patient({ ids: [[CLINIC_B, 'G-2']], family: 'Nkosi', given: 'Sipho', birthDate: '1985-06-15', gender: 'male' }), telecom: [{ system: 'phone', value: '0711111111' }],
        address: [{ city: 'Ketu' }] });
      assert.equal(second.golden, first.golden, 'the second source links to the first one\'s golden record');

      const current = (await cr.request('GET', `Patient/${first.id}`)).body;
      const moved = await cr.request('PUT', `Patient/${first.id}`, { ...current, telecom: [{ system: 'phone', value: '0722222222' }] });
      assert.equal(moved.status, 200, JSON.stringify(moved.body));
      let golden = (await cr.request('GET', `Patient/${first.golden}`)).body;
      assert.deepEqual(golden.telecom, [{ system: 'phone', value: '0722222222' }], 'the primary source\'s new phone is the golden record\'s');

      const secondNow = (await cr.request('GET', `Patient/${second.id}`)).body;
      assert.equal((await cr.request('PUT', `Patient/${second.id}`, { ...secondNow, birthDate: '1985-06-16' })).status, 200);
      golden = (await cr.request('GET', `Patient/${first.golden}`)).body;
      assert.equal(golden.birthDate, '1985-06-15', 'a change to another source leaves the golden record as it is');

      assert.equal((await cr.request('DELETE', `Patient/${first.id}`)).status < 300, true);
      golden = (await cr.request('GET', `Patient/${first.golden}`)).body;
      assert.equal(golden.birthDate, '1985-06-16', 'the next source is primary now');
      assert.deepEqual(golden.address, [{ city: 'Ketu' }]);
      assert.deepEqual(golden.link.map((l: { other: { reference: string } }) => l.other.reference), [`Patient/${second.id}`]);
    });
  });
}
