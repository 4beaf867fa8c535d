/**
 * Reviewer-attack repro (issue 13): one write asked the terminology once per distinct bound coding,
 * with no cap and a timeout per question only; a 0.9 MB Condition with 10,000 codings held a write
 * ~20 s. Now a bound element's codings are capped (FHIR_BINDING_MAX_CODINGS_PER_ELEMENT), the
 * distinct questions of a request too, bundles and contained resources counted together
 * (FHIR_BINDING_MAX_QUESTIONS), both 400 too-costly before anything is asked; and the time a
 * request waits for answers, all questions together, is bounded (FHIR_BINDING_DEADLINE_MS, 503).
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { Concept, TerminologyProvider } from '../../src/fhir/terminology/provider.js';
import { testDrivers } from '../support/databases.js';
import { startFhirServer, type FhirTestServer } from '../fhir/support.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any
const CS = 'http://terminology.hl7.org/CodeSystem/condition-clinical';
const codings = (codes: string[]) => ({ coding: codes.map((code) => ({ system: CS, code })) });
const condition = (codes: string[]) => ({ resourceType: 'Condition', subject: { reference: 'Patient/p1' }, clinicalStatus: codings(codes) });
const bundle = (type: string, resources: Json[]) => ({
  resourceType: 'Bundle', type, entry: resources.map((resource) => ({ resource, request: { method: 'POST', url: resource.resourceType } })),
});

/** A terminology that knows condition-clinical = {active}, answering after `delayMs` (never when undefined). */
class SlowTerminology implements TerminologyProvider {
  asked = 0;
  delayMs: number | undefined = 0;
  async expand() { return undefined; }
  async descendants() { return undefined; }
  async ancestors() { return undefined; }
  validateCode(_valueSet: string, coding: Concept): Promise<boolean | undefined> {
    this.asked++;
    const delay = this.delayMs;
    if (delay === undefined) return new Promise(() => undefined);
    return new Promise((resolve) => setTimeout(() => resolve(coding.code === 'active'), delay));
  }
}

for (const driver of testDrivers) {
  describe(`binding checks are bounded per request, on ${driver}`, () => {
    const terminology = new SlowTerminology();
    let s: FhirTestServer;
    before(async () => {
      s = await startFhirServer(driver, {
        terminology, bodyLimit: 4 * 1024 * 1024,
        limits: { fhirBindingMaxCodingsPerElement: 32, fhirBindingMaxQuestions: 10, fhirBindingDeadlineMs: 250, fhirTerminologyTimeoutMs: 5_000 },
      });
    });
    after(async () => { await s.close(); });
    beforeEach(() => { terminology.asked = 0; terminology.delayMs = 0; });

    function tooCostly(reply: { status: number; body: Json }, setting: string): void {
      assert.equal(reply.status, 400, JSON.stringify(reply.body).slice(0, 400));
      assert.equal(reply.body.issue?.[0]?.code, 'too-costly', JSON.stringify(reply.body).slice(0, 400));
      assert.match(JSON.stringify(reply.body), new RegExp(setting));
    }

    test('10,000 codings in one element are refused before anything is asked', async () => {
      const codes = Array.from({ length: 10_000 }, (_, i) => `b${i}`).concat('active');
      tooCostly(await s.request('POST', 'Condition', { body: condition(codes) }), 'FHIR_BINDING_MAX_CODINGS_PER_ELEMENT');
      assert.equal(terminology.asked, 0);
      // $validate answers 200 with the write's error issues.
      const checked = await s.request('POST', 'Condition/$validate', { body: { resourceType: 'Parameters', parameter: [{ name: 'resource', resource: condition(codes) }] } });
      tooCostly({ status: 400, body: checked.body }, 'FHIR_BINDING_MAX_CODINGS_PER_ELEMENT');
      assert.equal((await s.request('POST', 'Condition', { body: condition(['b1', 'b2', 'active']) })).status, 201);
    });

    test('distinct questions are counted over contained resources and over a whole transaction or batch', async () => {
      const eleven = Array.from({ length: 10 }, (_, i) => `b${i}`).concat('active');
      const contained = { ...condition(['active']), contained: [{ id: 'c', ...condition(eleven.slice(0, 6)) }, { id: 'd', ...condition(eleven.slice(6)) }] };
      tooCostly(await s.request('POST', 'Condition', { body: contained }), 'FHIR_BINDING_MAX_QUESTIONS');
      const entries = [condition(eleven.slice(0, 4)), condition(eleven.slice(4, 8)), condition(eleven.slice(8))];
      const transaction = await s.request('POST', '', { body: bundle('transaction', entries) });
      tooCostly(transaction, 'FHIR_BINDING_MAX_QUESTIONS');
      const batch = await s.request('POST', '', { body: bundle('batch', entries) });
      assert.equal(batch.status, 200, JSON.stringify(batch.body).slice(0, 400));
      const statuses = (batch.body.entry ?? []).map((e: Json) => e.response.status as string);
      assert.match(statuses[2], /^400/, JSON.stringify(batch.body).slice(0, 600));
      assert.match(JSON.stringify(batch.body.entry[2]), /FHIR_BINDING_MAX_QUESTIONS/);
      // Repeated codings are one question: 11 entries with the same two codings pass.
      const same = await s.request('POST', '', { body: bundle('transaction', Array.from({ length: 11 }, () => condition(['b1', 'active']))) });
      assert.equal(same.status, 200, JSON.stringify(same.body).slice(0, 400));
    });

    test('a terminology that does not answer costs a write FHIR_BINDING_DEADLINE_MS, not a timeout per question', async () => {
      terminology.delayMs = undefined;
      const reply = await s.request('POST', 'Condition', { body: condition(['b1', 'active']) });
      assert.equal(reply.status, 503, JSON.stringify(reply.body));
      assert.match(JSON.stringify(reply.body), /FHIR_BINDING_DEADLINE_MS/);
    });

    test('the deadline is for all the questions of a transaction together', async () => {
      // Each answer takes 150 ms and the entries are asked one after the other: the second has 100 ms left.
      terminology.delayMs = 150;
      const reply = await s.request('POST', '', { body: bundle('transaction', [condition(['x1']), condition(['x2']), condition(['active'])]) });
      assert.equal(reply.status, 503, JSON.stringify(reply.body).slice(0, 400));
      assert.match(JSON.stringify(reply.body), /FHIR_BINDING_DEADLINE_MS/);
    });
  });
}
