import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../../../src/common/logger.js';
import { SettingsMap } from '../../../src/platform/settings.js';
import { loadService } from '../../../src/services/catalogue.js';
import type { RunningService } from '../../../src/services/service.js';
import { sharedHealthRecordService } from '../../../src/services/shared-health-record/index.js';
import { openTestDatabase, testDrivers, type TestDatabase } from '../../support/databases.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

for (const driver of testDrivers) {
  describe(`shared-health-record service (${driver})`, () => {
    let database: TestDatabase;
    let running: RunningService;
    let base: string;
    const call = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }> => {
      const response = await fetch(`${base}/${path}`, {
        method,
        headers: body ? { 'content-type': 'application/fhir+json' } : {},
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : undefined };
    };

    before(async () => {
      database = await openTestDatabase(driver);
      running = await sharedHealthRecordService.start({
        name: 'shared-health-record',
        db: database.db,
        settings: new SettingsMap({ FHIR_DATASTORE_PORT: '0', FHIR_DATASTORE_BODY_LIMIT_BYTES: '100000' }),
        logger: createLogger(),
        stateDir: '/tmp',
      });
      base = running.endpoints.fhir!;
    });
    after(async () => {
      await running.stop();
      await database.dispose();
    });

    test('is in the catalogue, owns schema shr, and answers /health and /fhir/metadata', async () => {
      assert.equal((await loadService('shared-health-record')).name, 'shared-health-record');
      assert.deepEqual(sharedHealthRecordService.schemas, ['shr']);
      assert.equal((await fetch(running.healthUrl)).status, 200);
      assert.match(base, /^http:\/\/127\.0\.0\.1:\d+\/fhir$/);
      const cs = await call('GET', 'metadata');
      const patient = cs.body.rest[0].resource.find((r: Json) => r.type === 'Patient');
      const ops = patient.operation.map((o: Json) => o.name).sort();
      assert.deepEqual(ops, ['everything', 'meta', 'meta-add', 'meta-delete', 'summary', 'validate']);
      const tables = await database.db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'shr' AND table_name = 'resources'");
      assert.equal(tables.rows[0]!.n, 1);
    });

    test('FHIR_DATASTORE_BODY_LIMIT_BYTES is enforced', async () => {
      const big = await call('POST', 'Patient', { resourceType: 'Patient', name: [{ family: 'x'.repeat(120_000) }] });
      assert.equal(big.status, 413);
      assert.equal(big.body.resourceType, 'OperationOutcome');
    });

    test('Patient/$everything returns the patient and their compartment, nothing of others', async () => {
      const tx = await call('POST', '', {
        resourceType: 'Bundle', type: 'transaction', entry: [
          { fullUrl: 'urn:uuid:a0000000-0000-4000-8000-000000000001', resource: { resourceType: 'Patient', name: [{ family: 'Everything' }] }, request: { method: 'POST', url: 'Patient' } },
          { fullUrl: 'urn:uuid:a0000000-0000-4000-8000-000000000002', resource: { resourceType: 'Patient', name: [{ family: 'Other' }] }, request: { method: 'POST', url: 'Patient' } },
          { resource: { resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, subject: { reference: 'urn:uuid:a0000000-0000-4000-8000-000000000001' } }, request: { method: 'POST', url: 'Encounter' } },
          { resource: { resourceType: 'Condition', code: { text: 'Hypertension' }, subject: { reference: 'urn:uuid:a0000000-0000-4000-8000-000000000001' } }, request: { method: 'POST', url: 'Condition' } },
          { resource: { resourceType: 'AllergyIntolerance', clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'active' }] }, code: { text: 'Penicillin' }, patient: { reference: 'urn:uuid:a0000000-0000-4000-8000-000000000001' } }, request: { method: 'POST', url: 'AllergyIntolerance' } },
          {
            resource: {
              resourceType: 'Observation', status: 'final', code: { text: 'Body weight' }, subject: { reference: 'urn:uuid:a0000000-0000-4000-8000-000000000001' },
              category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }], valueQuantity: { value: 70, unit: 'kg' },
            },
            request: { method: 'POST', url: 'Observation' },
          },
          { resource: { resourceType: 'Condition', code: { text: 'Not mine' }, subject: { reference: 'urn:uuid:a0000000-0000-4000-8000-000000000002' } }, request: { method: 'POST', url: 'Condition' } },
        ],
      });
      assert.equal(tx.status, 200, JSON.stringify(tx.body));
      const patientId = tx.body.entry[0].resource.id;
      const everything = await call('GET', `Patient/${patientId}/$everything`);
      assert.equal(everything.status, 200, JSON.stringify(everything.body));
      const types = (everything.body.entry ?? []).map((e: Json) => e.resource.resourceType).sort();
      assert.deepEqual(types, ['AllergyIntolerance', 'Condition', 'Encounter', 'Observation', 'Patient']);
      const onlyConditions = await call('GET', `Patient/${patientId}/$everything?_type=Condition`);
      assert.deepEqual((onlyConditions.body.entry ?? []).map((e: Json) => e.resource.resourceType), ['Patient', 'Condition']);
      assert.equal((await call('GET', 'Patient/nobody/$everything')).status, 404);

      const summary = await call('GET', `Patient/${patientId}/$summary`);
      assert.equal(summary.status, 200, JSON.stringify(summary.body));
      assert.equal(summary.body.type, 'document');
      const composition = summary.body.entry[0].resource;
      assert.equal(composition.resourceType, 'Composition');
      assert.equal(composition.type.coding[0].code, '60591-5');
      const section = (code: string): Json => composition.section.find((sec: Json) => sec.code.coding[0].code === code);
      assert.equal(section('48765-2').entry.length, 1, 'allergies');
      assert.equal(section('11450-4').entry.length, 1, 'problems');
      assert.equal(section('8716-3').entry.length, 1, 'vital signs');
      assert.ok(section('11369-6').emptyReason, 'no immunizations');
      const bundled = new Set((summary.body.entry ?? []).map((e: Json) => `${e.resource.resourceType}/${e.resource.id}`));
      for (const sec of composition.section) for (const ref of sec.entry ?? []) assert.ok(bundled.has(ref.reference), ref.reference);
      // The document itself is a valid Bundle by the R4 definitions.
      const validated = await call('POST', 'Bundle/$validate', summary.body);
      assert.ok(!validated.body.issue.some((i: Json) => i.severity === 'error'), JSON.stringify(validated.body));
    });

    test('Patient/$everything adds what the records reference (practitioners, organizations, medications, locations), never another patient', async () => {
      const u = (n: number) => `urn:uuid:b0000000-0000-4000-8000-00000000000${n}`;
      const tx = await call('POST', '', {
        resourceType: 'Bundle', type: 'transaction', entry: [
          { fullUrl: u(1), resource: { resourceType: 'Organization', name: 'District Hospital' }, request: { method: 'POST', url: 'Organization' } },
          { fullUrl: u(2), resource: { resourceType: 'Practitioner', name: [{ family: 'Banda' }] }, request: { method: 'POST', url: 'Practitioner' } },
          { fullUrl: u(3), resource: { resourceType: 'Medication', code: { text: 'Amoxicillin 500 mg' } }, request: { method: 'POST', url: 'Medication' } },
          { fullUrl: u(4), resource: { resourceType: 'Patient', name: [{ family: 'Sibling' }] }, request: { method: 'POST', url: 'Patient' } },
          { fullUrl: u(5), resource: { resourceType: 'Patient', name: [{ family: 'Supported' }], managingOrganization: { reference: u(1) }, generalPractitioner: [{ reference: u(2) }], link: [{ other: { reference: u(4) }, type: 'seealso' }] }, request: { method: 'POST', url: 'Patient' } },
          { fullUrl: u(6), resource: { resourceType: 'Location', name: 'Ward 3' }, request: { method: 'POST', url: 'Location' } },
          { resource: { resourceType: 'Observation', status: 'final', code: { text: 'Weight' }, subject: { reference: u(5) }, performer: [{ reference: u(2) }] }, request: { method: 'POST', url: 'Observation' } },
          { resource: { resourceType: 'MedicationRequest', status: 'active', intent: 'order', medicationReference: { reference: u(3) }, subject: { reference: u(5) } }, request: { method: 'POST', url: 'MedicationRequest' } },
          { resource: { resourceType: 'Encounter', status: 'finished', class: { code: 'IMP' }, subject: { reference: u(5) }, location: [{ location: { reference: u(6) } }] }, request: { method: 'POST', url: 'Encounter' } },
        ],
      });
      assert.equal(tx.status, 200, JSON.stringify(tx.body));
      const patientId = tx.body.entry[4].resource.id;
      const everything = await call('GET', `Patient/${patientId}/$everything`);
      assert.equal(everything.status, 200, JSON.stringify(everything.body));
      const byMode = (mode: string) => (everything.body.entry ?? []).filter((e: Json) => e.search.mode === mode).map((e: Json) => e.resource.resourceType).sort();
      assert.deepEqual(byMode('match'), ['Encounter', 'MedicationRequest', 'Observation', 'Patient']);
      assert.deepEqual(byMode('include'), ['Location', 'Medication', 'Organization', 'Practitioner'], 'each referenced once, the other Patient left out');
      assert.equal(everything.body.total, 4, 'the total counts the record, not what supports it');
      // Another patient's record named from this one's (an Observation's hasMember, an encounter) is not support: left out (a reviewer's leak).
      const other = await call('POST', 'Patient', { resourceType: 'Patient', name: [{ family: 'Bystander' }] });
      const theirs = await call('POST', 'Observation', { resourceType: 'Observation', status: 'final', code: { text: 'their secret' }, subject: { reference: `Patient/${other.body.id}` } });
      const theirVisit = await call('POST', 'Encounter', { resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, subject: { reference: `Patient/${other.body.id}` } });
      const linking = await call('POST', 'Observation', { resourceType: 'Observation', status: 'final', code: { text: 'panel' }, subject: { reference: `Patient/${patientId}` },
        encounter: { reference: `Encounter/${theirVisit.body.id}` }, hasMember: [{ reference: `Observation/${theirs.body.id}` }] });
      assert.equal(linking.status, 201, JSON.stringify(linking.body));
      const guarded = await call('GET', `Patient/${patientId}/$everything`);
      const ids = (guarded.body.entry ?? []).map((e: Json) => e.resource.id);
      assert.ok(!ids.includes(theirs.body.id) && !ids.includes(theirVisit.body.id), JSON.stringify(ids));
      assert.ok(!JSON.stringify(guarded.body).includes('their secret'));
      const narrowed = await call('GET', `Patient/${patientId}/$everything?_type=Observation,Practitioner`);
      assert.deepEqual((narrowed.body.entry ?? []).map((e: Json) => `${e.search.mode}:${e.resource.resourceType}`), ['match:Patient', 'match:Observation', 'match:Observation', 'include:Practitioner']);
    });

    test('Patient/$everything pages by _count (R4: page size) with next links that reach every member once', async () => {
      const patient = await call('POST', 'Patient', { resourceType: 'Patient', name: [{ family: 'Paged' }] });
      const subject = { reference: `Patient/${patient.body.id}` };
      const made = new Set([`Patient/${patient.body.id}`]);
      for (const body of [
        { resourceType: 'Observation', status: 'final', code: { text: 'a' }, subject },
        { resourceType: 'Observation', status: 'final', code: { text: 'b' }, subject },
        { resourceType: 'Condition', code: { text: 'c' }, subject },
        { resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, subject },
      ]) made.add(`${body.resourceType}/${(await call('POST', body.resourceType, body)).body.id}`);
      for (const count of [1, 2, 3]) {
        const seen: string[] = [];
        let url: string | undefined = `${base}/Patient/${patient.body.id}/$everything?_count=${count}`;
        for (let pages = 0; url !== undefined; pages++) {
          assert.ok(pages <= made.size, 'paging ends');
          const page = await call('GET', url.slice(base.length + 1));
          assert.equal(page.status, 200, JSON.stringify(page.body));
          assert.ok((page.body.entry?.length ?? 0) <= count, `a page holds at most _count=${count} entries`);
          if (pages === 0) {
            assert.equal(page.body.entry[0].resource.resourceType, 'Patient', 'the patient opens the first page');
            assert.equal(page.body.total, undefined, 'no total that counts only one page');
          }
          assert.ok(page.body.link.some((l: Json) => l.relation === 'self'));
          seen.push(...(page.body.entry ?? []).map((e: Json) => `${e.resource.resourceType}/${e.resource.id}`));
          url = page.body.link.find((l: Json) => l.relation === 'next')?.url;
        }
        assert.deepEqual([...seen].sort(), [...made].sort(), `_count=${count}: every member once`);
      }
      const whole = await call('GET', `Patient/${patient.body.id}/$everything`);
      assert.equal(whole.body.total, made.size);
      assert.equal(whole.body.link.find((l: Json) => l.relation === 'next'), undefined);
      assert.equal((await call('GET', `Patient/${patient.body.id}/$everything?_cursor=nonsense`)).status, 400);
    });

    test('Patient/$everything start/end keep members whose care date overlaps the range, and undated ones; paging keeps the range', async () => {
      const patient = await call('POST', 'Patient', { resourceType: 'Patient', name: [{ family: 'Dated' }] });
      const subject = { reference: `Patient/${patient.body.id}` };
      const made: Record<string, string> = {};
      for (const [label, body] of [
        ['obs2019', { resourceType: 'Observation', status: 'final', code: { text: 'a' }, subject, effectiveDateTime: '2019-06-01T10:00:00Z' }],
        ['obs2022', { resourceType: 'Observation', status: 'final', code: { text: 'b' }, subject, effectiveDateTime: '2022-03-15' }],
        ['encounter', { resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, subject, period: { start: '2021-12-20', end: '2022-01-05' } }],
        ['condition2018', { resourceType: 'Condition', code: { text: 'c' }, subject, onsetDateTime: '2018-01-01' }],
        ['undated', { resourceType: 'Observation', status: 'final', code: { text: 'd' }, subject }],
        ['medication2023', { resourceType: 'MedicationRequest', status: 'active', intent: 'order', subject, medicationCodeableConcept: { text: 'm' }, authoredOn: '2023-02-01' }],
      ] as const) made[label] = (await call('POST', body.resourceType, body)).body.id;
      const labels = (bundle: Json): string[] => (bundle.entry ?? []).map((e: Json) =>
        e.resource.resourceType === 'Patient' ? 'patient' : Object.keys(made).find((k) => made[k] === e.resource.id)).sort();
      const everything = async (query: string): Promise<Json> => {
        const reply = await call('GET', `Patient/${patient.body.id}/$everything?${query}`);
        assert.equal(reply.status, 200, `${query}: ${JSON.stringify(reply.body)}`);
        return reply.body;
      };
      assert.deepEqual(labels(await everything('start=2022-01-01&end=2022-12-31')), ['encounter', 'obs2022', 'patient', 'undated']);
      assert.deepEqual(labels(await everything('start=2022')), ['encounter', 'medication2023', 'obs2022', 'patient', 'undated']);
      assert.deepEqual(labels(await everything('end=2019-06')), ['condition2018', 'obs2019', 'patient', 'undated']);
      // Paging keeps the range: the next link carries start and end.
      const first = await everything('start=2022-01-01&end=2022-12-31&_count=2');
      const next = first.link.find((l: Json) => l.relation === 'next').url as string;
      assert.match(next, /start=2022-01-01/);
      assert.match(next, /end=2022-12-31/);
      const seen = [...labels(first)];
      for (let url: string | undefined = next; url;) {
        const page = await call('GET', url.slice(base.length + 1));
        seen.push(...labels(page.body));
        url = page.body.link.find((l: Json) => l.relation === 'next')?.url;
      }
      assert.deepEqual(seen.sort(), ['encounter', 'obs2022', 'patient', 'undated']);
      // _since as history takes it: a date is its first moment; a time without its zone is 400.
      assert.equal((await call('GET', `Patient/${patient.body.id}/$everything?_since=2020-01-01`)).status, 200);
      for (const bad of ['start=yesterday', 'end=2022-13', 'start=2023&end=2022', 'start=2022-01-01T00:00:00Z', '_since=2020-01-01T10:00:00']) {
        const refused = await call('GET', `Patient/${patient.body.id}/$everything?${bad}`);
        assert.equal(refused.status, 400, bad);
        assert.equal(refused.body.resourceType, 'OperationOutcome');
      }
    });

    test('Patient/$everything refuses unknown parameters under handling=strict only', async () => {
      const patient = await call('POST', 'Patient', { resourceType: 'Patient' });
      const everything = (query: string, prefer?: string): Promise<Response> =>
        fetch(`${base}/Patient/${patient.body.id}/$everything?${query}`, { headers: prefer ? { prefer } : {} });
      assert.equal((await everything('foo=bar', 'handling=strict')).status, 400);
      assert.equal((await everything('foo=bar', 'handling=lenient')).status, 200);
      assert.equal((await everything('foo=bar')).status, 200, 'lenient by default, as searches are');
    });
  });
}
