/**
 * Bound codings of shared health record writes are judged by the terminology service: its value
 * sets (here the operator's own version of the core `condition-clinical`, drawing on a local code
 * system) count, not only the core ones. In process (the service registered in the same process,
 * on the same database as the embedded target runs them), and over HTTP with the terminology
 * service in another process (test/support/serve-service.ts, PostgreSQL only).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FhirEngine } from '../../src/fhir/engine.js';
import { HttpTerminologyProvider } from '../../src/fhir/terminology/http-provider.js';
import { fallingBackToCore } from '../../src/fhir/terminology/process-provider.js';
import { DEFAULT_LIMITS } from '../../src/common/limits.js';
import { createSharedHealthRecordEngine } from '../../src/services/shared-health-record/index.js';
import { freshPostgresUrl, openTestDatabase, postgresAdminUrl, testDrivers, type TestDatabase } from '../support/databases.js';
import { startReplica, type Replica } from '../support/replicas.js';
import { requestJson, startTerminology, type TerminologyUnderTest } from './support.js';

const LOCAL_STATUS = 'http://example.org/cs/local-clinical-status';
const CORE_STATUS = 'http://terminology.hl7.org/CodeSystem/condition-clinical';
const CLINICAL_VS = 'http://hl7.org/fhir/ValueSet/condition-clinical';
const localStatus = {
  resourceType: 'CodeSystem', url: LOCAL_STATUS, name: 'LocalClinicalStatus', status: 'active', content: 'complete', hierarchyMeaning: 'is-a',
  concept: [{ code: 'current', display: 'Current', concept: [{ code: 'flaring', display: 'Flaring up' }] }, { code: 'over', display: 'Over' }, { code: 'unsure', display: 'Unsure' }],
};
/** The operator's own condition-clinical: the local codes current, flaring and over (not unsure), and no core code. */
const clinicalValueSet = {
  resourceType: 'ValueSet', url: CLINICAL_VS, name: 'LocalConditionClinical', status: 'active',
  compose: { include: [{ system: LOCAL_STATUS, filter: [{ property: 'concept', op: 'is-a', value: 'current' }] }, { system: LOCAL_STATUS, concept: [{ code: 'over' }] }] },
};
const condition = (system: string, code: string, extra: Record<string, unknown> = {}) => ({
  resourceType: 'Condition', subject: { reference: 'Patient/p1' }, clinicalStatus: { coding: [{ system, code }] }, ...extra,
});

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any
interface Answer { status: number; body: Json }

async function write(shr: FhirEngine, method: 'POST' | 'PUT' | 'PATCH', path: string, body: unknown): Promise<Answer> {
  const headers: Record<string, string> = method === 'PATCH' ? { 'content-type': 'application/json-patch+json' } : {};
  const reply = await shr.handle({ method, path, query: [], headers, body });
  return { status: reply.status, body: reply.resource };
}

function assertRefused(answer: Answer, code: string): void {
  assert.equal(answer.status, 400, JSON.stringify(answer.body));
  const text = JSON.stringify(answer.body);
  assert.match(text, /Condition\.clinicalStatus/, 'names the element');
  assert.ok(text.includes(code), `names the code ${code}: ${text}`);
  assert.ok(text.includes(CLINICAL_VS), 'names the value set');
}

/** The checks every way of reaching the terminology service must pass. */
function bindingTests(shrOf: () => FhirEngine): void {
  test('a code of the service\'s value set is accepted, one outside it refused with element, code and value set', async () => {
    const shr = shrOf();
    assert.equal((await write(shr, 'POST', 'Condition', condition(LOCAL_STATUS, 'current'))).status, 201);
    assert.equal((await write(shr, 'POST', 'Condition', condition(LOCAL_STATUS, 'flaring'))).status, 201, 'is-a members count');
    assertRefused(await write(shr, 'POST', 'Condition', condition(LOCAL_STATUS, 'unsure')), 'unsure');
    // The service's value set is the one that counts: the core code is not in the operator's version.
    assertRefused(await write(shr, 'POST', 'Condition', condition(CORE_STATUS, 'active')), 'active');
    // A code too long for a query string is still judged, not let through unasked.
    const long = `x${'y'.repeat(50_000)}`;
    assert.equal((await write(shr, 'POST', 'Condition', condition(LOCAL_STATUS, long))).status, 400);
  });

  test('updates, patches and transaction bundles are judged the same way', async () => {
    const shr = shrOf();
    const created = await write(shr, 'POST', 'Condition', condition(LOCAL_STATUS, 'over'));
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id as string;
    assertRefused(await write(shr, 'PUT', `Condition/${id}`, { ...condition(LOCAL_STATUS, 'unsure'), id }), 'unsure');
    assert.equal((await write(shr, 'PUT', `Condition/${id}`, { ...condition(LOCAL_STATUS, 'current'), id })).status, 200);
    assertRefused(await write(shr, 'PATCH', `Condition/${id}`, [{ op: 'replace', path: '/clinicalStatus/coding/0/code', value: 'unsure' }]), 'unsure');
    assert.equal((await write(shr, 'PATCH', `Condition/${id}`, [{ op: 'replace', path: '/clinicalStatus/coding/0/code', value: 'over' }])).status, 200);
    const bundle = (code: string) => ({ resourceType: 'Bundle', type: 'transaction', entry: [
      { fullUrl: 'urn:uuid:6f1c0b0e-1d2a-4d8e-9a51-1d2a4d8e9a51', resource: condition(LOCAL_STATUS, 'current'), request: { method: 'POST', url: 'Condition' } },
      { resource: condition(LOCAL_STATUS, code), request: { method: 'POST', url: 'Condition' } },
    ] });
    const refused = await write(shr, 'POST', '', bundle('unsure'));
    assertRefused(refused, 'unsure');
    assert.match(JSON.stringify(refused.body), /entry 1/);
    assert.equal((await write(shr, 'POST', '', bundle('flaring'))).status, 200);
    const patchEntry = (code: string) => ({ resourceType: 'Bundle', type: 'transaction', entry: [{
      resource: { resourceType: 'Binary', contentType: 'application/json-patch+json', data: Buffer.from(JSON.stringify([{ op: 'replace', path: '/clinicalStatus/coding/0/code', value: code }])).toString('base64') },
      request: { method: 'PATCH', url: `Condition/${id}` },
    }] });
    assertRefused(await write(shr, 'POST', '', patchEntry('unsure')), 'unsure');
    assert.equal((await write(shr, 'POST', '', patchEntry('flaring'))).status, 200);
  });

  test('$validate reports the refused binding; an extensible binding outside its value set is a warning only', async () => {
    const shr = shrOf();
    const invalid = await shr.handle({ method: 'POST', path: 'Condition/$validate', query: [], headers: {}, body: condition(LOCAL_STATUS, 'unsure') });
    assert.ok((invalid.resource as Json).issue.some((i: Json) => i.severity === 'error' && i.expression?.[0] === 'Condition.clinicalStatus'), JSON.stringify(invalid.resource));
    const category = { category: [{ coding: [{ system: 'http://example.org/cs/local-category', code: 'ward-note' }] }] };
    const valid = await shr.handle({ method: 'POST', path: 'Condition/$validate', query: [], headers: {}, body: condition(LOCAL_STATUS, 'current', category) });
    const issues = (valid.resource as Json).issue as Json[];
    assert.ok(issues.some((i) => i.severity === 'warning' && i.expression?.[0] === 'Condition.category[0]' && /extensible/.test(i.details.text)), JSON.stringify(issues));
    assert.ok(!issues.some((i) => i.severity === 'error'));
    assert.equal((await write(shr, 'POST', 'Condition', condition(LOCAL_STATUS, 'current', category))).status, 201, 'a warning does not refuse the write');
  });
}

for (const driver of testDrivers) {
  describe(`bound codings of the shared health record, terminology service in process, on ${driver}`, () => {
    let tx: TerminologyUnderTest;
    let stopped = false;
    let shr: FhirEngine;
    before(async () => {
      tx = await startTerminology(driver);
      assert.equal((await tx.post('CodeSystem', localStatus)).status, 201);
      assert.equal((await tx.post('ValueSet', clinicalValueSet)).status, 201);
      // One database for both, as the embedded target runs them: the check must not wait on the write's own transaction.
      shr = await createSharedHealthRecordEngine({ db: tx.database.db });
    });
    after(async () => {
      await shr.settle();
      if (!stopped) await tx.running.stop();
      await tx.database.dispose();
    });

    bindingTests(() => shr);

    test('a coding only a write interceptor sets, and :in in a transaction bundle, are asked inside the transaction: never stored unchecked, never a hang', async () => {
      const limits = { ...DEFAULT_LIMITS, fhirTerminologyTimeoutMs: 300 };
      const engine = await createSharedHealthRecordEngine({ db: tx.database.db }, undefined, limits);
      let code = 'flaring';
      engine.addWriteInterceptor({ name: 'test-recode', before: ({ resource }) => resource && ({ ...resource, clinicalStatus: { coding: [{ system: LOCAL_STATUS, code }] } }) as typeof resource });
      try {
        // On PostgreSQL the service answers from another connection; on the embedded database it
        // waits for the write's own transaction, and the deadline ends that with a 503.
        const good = await write(engine, 'POST', 'Condition', condition(LOCAL_STATUS, 'current'));
        assert.ok(good.status === 201 || good.status === 503, JSON.stringify(good.body));
        code = 'unsure';
        const bad = await write(engine, 'POST', 'Condition', condition(LOCAL_STATUS, 'current'));
        assert.ok(bad.status === 400 || bad.status === 503, JSON.stringify(bad.body));
        // A search inside a transaction bundle asks the terminology inside its transaction too.
        const searched = await write(engine, 'POST', '', { resourceType: 'Bundle', type: 'transaction', entry: [{ request: { method: 'GET', url: `Condition?clinical-status:in=${CLINICAL_VS}` } }] });
        assert.ok(searched.status === 200 || searched.status === 503, JSON.stringify(searched.body));
      } finally {
        await engine.settle();
      }
    });

    test('once the service stops, the core value sets judge again', async () => {
      await tx.running.stop();
      stopped = true;
      assert.equal((await write(shr, 'POST', 'Condition', condition(CORE_STATUS, 'active'))).status, 201);
      assertRefused(await write(shr, 'POST', 'Condition', condition(LOCAL_STATUS, 'current')), 'current');
    });
  });

  describe(`bound codings and :in/:below/:above of the shared health record, terminology service in another process over HTTP, on ${driver}`, { skip: postgresAdminUrl ? false : 'needs PostgreSQL for the terminology process' }, () => {
    let terminology: Replica;
    let txDatabase: { url: string; dispose(): Promise<void> };
    let provider: HttpTerminologyProvider;
    let database: TestDatabase;
    let shr: FhirEngine;
    before(async () => {
      txDatabase = await freshPostgresUrl();
      terminology = await startReplica('terminology', txDatabase.url, { TERMINOLOGY_PORT: '0', TERMINOLOGY_LOAD_CORE: 'false' });
      const base = terminology.endpoints.fhir!;
      assert.equal((await requestJson(`${base}/CodeSystem`, 'POST', localStatus)).status, 201);
      assert.equal((await requestJson(`${base}/ValueSet`, 'POST', clinicalValueSet)).status, 201);
      database = await openTestDatabase(driver);
      provider = new HttpTerminologyProvider({ baseUrl: base, limits: DEFAULT_LIMITS });
      shr = await createSharedHealthRecordEngine({ db: database.db }, undefined, undefined, fallingBackToCore(() => provider));
    });
    after(async () => {
      await shr.settle();
      await database.dispose();
      await provider.close();
      await terminology.kill();
      await txDatabase.dispose();
    });

    bindingTests(() => shr);

    test(':in, :below and :above ask the service over HTTP; core value sets still answer', async () => {
      const search = async (query: string): Promise<Answer> => {
        const [path, qs] = query.split('?');
        const reply = await shr.handle({ method: 'GET', path: path!, query: [...new URLSearchParams(qs)] as Array<[string, string]>, headers: { prefer: 'handling=strict' } });
        return { status: reply.status, body: reply.resource };
      };
      const count = (answer: Answer): number => (answer.body.entry ?? []).length;
      const all = count(await search('Condition?_count=1000'));
      const inSet = await search(`Condition?clinical-status:in=${CLINICAL_VS}&_count=1000`);
      assert.equal(inSet.status, 200, JSON.stringify(inSet.body));
      assert.equal(count(inSet), all, 'every stored Condition holds a code of the service\'s value set');
      assert.equal(count(await search(`Condition?clinical-status:below=${LOCAL_STATUS}|current&_count=1000`)) > 0, true);
      const above = await search(`Condition?clinical-status:above=${LOCAL_STATUS}|flaring&_count=1000`);
      assert.equal(above.status, 200, JSON.stringify(above.body));
      assert.equal(count(above), count(await search(`Condition?clinical-status=${LOCAL_STATUS}|flaring,${LOCAL_STATUS}|current&_count=1000`)));
      assert.equal((await search('Condition?verification-status:in=http://hl7.org/fhir/ValueSet/condition-ver-status')).status, 200);
      const unknown = await search('Condition?clinical-status:in=http://example.org/vs/nobody');
      assert.equal(unknown.status, 400, JSON.stringify(unknown.body));
    });
  });
}
