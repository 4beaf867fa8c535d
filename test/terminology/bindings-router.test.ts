/**
 * Through the interoperability layer, as a client writes: the shared health record service set
 * up with FHIR_DATASTORE_TERMINOLOGY_URL judges bound codings by the terminology service over
 * HTTP (400 naming element, code and value set), answers :in from it, and says 503 "the
 * terminology service is unavailable" once that service is gone, with the status intact through
 * the router.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testDrivers } from '../support/databases.js';
import { startSharedHealthRecordThroughRouter, type RoutedSharedHealthRecord } from '../fhir/support.js';
import { requestJson, startTerminology, type TerminologyUnderTest } from './support.js';

const LOCAL_STATUS = 'http://example.org/cs/local-clinical-status';
const CLINICAL_VS = 'http://hl7.org/fhir/ValueSet/condition-clinical';
const condition = (code: string) => ({ resourceType: 'Condition', subject: { reference: 'Patient/p1' }, clinicalStatus: { coding: [{ system: LOCAL_STATUS, code }] } });

for (const driver of testDrivers) {
  describe(`shared health record bindings through the router, terminology over HTTP, on ${driver}`, () => {
    let tx: TerminologyUnderTest;
    let txStopped = false;
    let routed: RoutedSharedHealthRecord;
    let base: string;
    let auth: Record<string, string>;

    before(async () => {
      tx = await startTerminology(driver);
      assert.equal((await tx.post('CodeSystem', { resourceType: 'CodeSystem', url: LOCAL_STATUS, status: 'active', content: 'complete', concept: [{ code: 'current' }, { code: 'unsure' }] })).status, 201);
      assert.equal((await tx.post('ValueSet', { resourceType: 'ValueSet', url: CLINICAL_VS, status: 'active', compose: { include: [{ system: LOCAL_STATUS, concept: [{ code: 'current' }] }] } })).status, 201);
      routed = await startSharedHealthRecordThroughRouter(driver, { FHIR_DATASTORE_TERMINOLOGY_URL: tx.base, FHIR_TERMINOLOGY_TIMEOUT_MS: '1000', FHIR_TERMINOLOGY_CACHE_TTL_MS: '0' });
      ({ base, auth } = routed);
    });
    after(async () => {
      await routed?.close();
      if (!txStopped) await tx.close();
    });

    test('a right code is stored, a wrong one refused naming element, code and value set; :in asks the service', async () => {
      const right = await requestJson(`${base}/Condition`, 'POST', condition('current'), auth);
      assert.equal(right.status, 201, JSON.stringify(right.body));
      const wrong = await requestJson(`${base}/Condition`, 'POST', condition('unsure'), auth);
      assert.equal(wrong.status, 400, JSON.stringify(wrong.body));
      assert.equal(wrong.body.resourceType, 'OperationOutcome');
      const text = JSON.stringify(wrong.body);
      assert.ok(text.includes('Condition.clinicalStatus') && text.includes(`${LOCAL_STATUS}|unsure`) && text.includes(CLINICAL_VS), text);
      const found = await requestJson(`${base}/Condition?clinical-status:in=${encodeURIComponent(CLINICAL_VS)}`, 'GET', undefined, auth);
      assert.equal(found.status, 200, JSON.stringify(found.body));
      assert.equal((found.body.entry?.length ?? 0), 1);
    });

    test('no bypass: contained and Bundle entry resources are checked, a coding needs a system, text alone is no code, codings are capped', async () => {
      const refused = async (type: string, body: unknown, where: RegExp, status = 400) => {
        const reply = await requestJson(`${base}/${type}`, 'POST', body, auth);
        assert.equal(reply.status, status, JSON.stringify(reply.body).slice(0, 400));
        assert.equal(reply.body.resourceType, 'OperationOutcome');
        assert.match(JSON.stringify(reply.body), where);
      };
      const encounter = { resourceType: 'Encounter', status: 'finished', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' }, contained: [{ id: 'c', ...condition('unsure') }], reasonReference: [{ reference: '#c' }] };
      await refused('Encounter', encounter, /Encounter\.contained\[0\]\.clinicalStatus/);
      await refused('Bundle', { resourceType: 'Bundle', type: 'collection', entry: [{ fullUrl: 'urn:uuid:2b7f0c1e-1d3a-4c5b-9e8f-0a1b2c3d4e5f', resource: condition('unsure') }] }, /Bundle\.entry\[0\]\.resource\.clinicalStatus/);
      await refused('Condition', { ...condition('current'), clinicalStatus: { coding: [{ code: 'current' }] } }, /has no system/);
      await refused('Condition', { ...condition('current'), clinicalStatus: { text: 'current' } }, /a code is required from the value set/);
      const many = { coding: Array.from({ length: 40 }, (_, i) => ({ system: LOCAL_STATUS, code: `x${i}` })).concat({ system: LOCAL_STATUS, code: 'current' }) };
      await refused('Condition', { ...condition('current'), clinicalStatus: many }, /FHIR_BINDING_MAX_CODINGS_PER_ELEMENT/);
    });

    test('with the terminology service gone, writes and :in searches get 503 saying so; nothing is stored', async () => {
      await tx.close();
      txStopped = true;
      const write = await requestJson(`${base}/Condition`, 'POST', condition('current'), auth);
      assert.equal(write.status, 503, JSON.stringify(write.body));
      assert.match(JSON.stringify(write.body), /terminology service is unavailable/);
      const found = await requestJson(`${base}/Condition?clinical-status:in=${encodeURIComponent(CLINICAL_VS)}`, 'GET', undefined, auth);
      assert.equal(found.status, 503, JSON.stringify(found.body));
      const all = await requestJson(`${base}/Condition?_summary=count`, 'GET', undefined, auth);
      assert.equal(all.body.total, 1);
    });
  });
}
