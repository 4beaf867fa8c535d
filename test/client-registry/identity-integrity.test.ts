/**
 * PIX identity integrity on both drivers. IHE PIX/PIXm: a patient identifier is unique within its
 * assigning authority's domain, so `$ihe-pix?sourceIdentifier=domA|A1` names one person. A second,
 * different person registered with `domA|A1` is refused (409, an OperationOutcome naming the
 * identifier); two clinics' records of the same person may share an identifier (the cross-reference);
 * a conditional update on the identifier resolves to its record. PMIR ITI-93: a message resent
 * (same MessageHeader.id) is answered as the first and registers nobody again.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { testDrivers } from '../support/databases.js';
import { PmirMessageLog, RETENTION_DAYS } from '../../src/services/client-registry/pmir-messages.js';
import { CLINIC_A, CLINIC_B, NATIONAL_ID, goldenOf, namingSystem, patient, requestJson, startRegistry, type RegistryUnderTest } from './support.js';

function pmirMessage(entries: unknown[], id = randomUUID()): Record<string, unknown> {
  const historyUrl = `urn:uuid:${randomUUID()}`;
  return {
    resourceType: 'Bundle', type: 'message', timestamp: '2026-12-01T10:00:00Z',
    entry: [
      { fullUrl: `urn:uuid:${id}`, resource: { resourceType: 'MessageHeader', id, eventUri: 'urn:ihe:iti:pmir:2019:patient-feed', source: { endpoint: 'http://clinic-c.example.org/fhir' }, focus: [{ reference: historyUrl }] } },
      { fullUrl: historyUrl, resource: { resourceType: 'Bundle', type: 'history', entry: entries } },
    ],
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const locations = (reply: any): string[] => reply.entry[1].resource.entry.map((e: { response: { location: string } }) => e.response.location);

for (const driver of testDrivers) {
  describe(`client registry: one identifier names one person on ${driver}`, () => {
    let cr: RegistryUnderTest;
    const holders = async (system: string, value: string) =>
      (await cr.request('GET', `Patient?identifier=${encodeURIComponent(`${system}|${value}`)}&_tag:not=${encodeURIComponent('http://instant-openhie.org/fhir/cr-record-type|golden')}`)).body.entry?.length ?? 0;

    before(async () => {
      cr = await startRegistry(driver);
      for (const [name, url] of [['NationalId', NATIONAL_ID], ['ClinicA', CLINIC_A], ['ClinicB', CLINIC_B]] as const) {
        assert.equal((await cr.request('POST', 'NamingSystem', namingSystem(name, url))).status, 201);
      }
    });
    after(async () => {
      await cr.close();
    });

    test('a second, different person with the same domain identifier is refused 409 naming the identifier; the first keeps it', async () => {
      const first = await cr.request('POST', 'Patient', patient({ ids: [[CLINIC_A, 'A1']], family: 'Mwale', given: 'Chikondi', birthDate: '1990-02-03' }));
      assert.equal(first.status, 201);
      const second = await cr.request('POST', 'Patient', patient({ ids: [[CLINIC_A, 'A1']], family: 'Other', given: 'Person', birthDate: '2001-01-01', gender: 'male' }));
      assert.equal(second.status, 409, JSON.stringify(second.body));
      assert.equal(second.body.resourceType, 'OperationOutcome');
      assert.match(second.body.issue[0].diagnostics, new RegExp(`${CLINIC_A.replace(/[.]/g, '\\.')}\\|A1`));
      assert.match(second.body.issue[0].diagnostics, new RegExp(`Patient/${first.body.id}`));
      assert.equal(await holders(CLINIC_A, 'A1'), 1);
      const pix = await cr.request('GET', `Patient/$ihe-pix?sourceIdentifier=${encodeURIComponent(`${CLINIC_A}|A1`)}`);
      assert.equal(pix.status, 200);
    });

    test('an update giving another person\'s identifier to a record is refused 409 too', async () => {
      const other = await cr.request('POST', 'Patient', patient({ ids: [[CLINIC_A, 'A2']], family: 'Kamanga', given: 'Yusuf', birthDate: '1970-07-07', gender: 'male' }));
      assert.equal(other.status, 201);
      const stolen = await cr.request('PUT', `Patient/${other.body.id}`, { ...other.body, identifier: [...other.body.identifier, { system: CLINIC_A, value: 'A1' }] });
      assert.equal(stolen.status, 409, JSON.stringify(stolen.body));
      assert.equal(await holders(CLINIC_A, 'A1'), 1);
    });

    test('a conditional update on the identifier resolves to its record (200), and two clinics\' records of one person may share the national id', async () => {
      const conditional = await cr.request('PUT', `Patient?identifier=${encodeURIComponent(`${CLINIC_A}|A1`)}`,
        { ...patient({ ids: [[CLINIC_A, 'A1']], family: 'Mwale', given: 'Chikondi', birthDate: '1990-02-03' }), telecom: [{ system: 'phone', value: '0999000111' }] });
      assert.equal(conditional.status, 200, JSON.stringify(conditional.body));
      assert.equal(await holders(CLINIC_A, 'A1'), 1);
      const conditionalCreate = await requestJson(`${cr.base}/Patient`, 'POST', patient({ ids: [[CLINIC_A, 'A1']], family: 'Someone', given: 'Else', birthDate: '2002-02-02' }),
        { 'if-none-exist': `identifier=${encodeURIComponent(`${CLINIC_A}|A1`)}` });
      assert.equal(conditionalCreate.status, 200, 'a conditional create resolves to the record holding the identifier');
      assert.equal(await holders(CLINIC_A, 'A1'), 1);

      const atA = await cr.request('POST', 'Patient', patient({ ids: [[CLINIC_A, 'A-77'], [NATIONAL_ID, 'N-77']], family: 'Banda', given: 'Grace', birthDate: '1981-08-08' }));
      const atB = await cr.request('POST', 'Patient', patient({ ids: [[CLINIC_B, 'B-77'], [NATIONAL_ID, 'N-77']], family: 'Banda', given: 'Grace', birthDate: '1981-08-08' }));
      assert.equal(atA.status, 201);
      assert.equal(atB.status, 201, JSON.stringify(atB.body));
      assert.equal(goldenOf(atB.body), goldenOf(atA.body), 'the same person: one golden record');
      assert.equal(await holders(NATIONAL_ID, 'N-77'), 2);
    });

    test("conditional create, update and delete by a domain's urn:oid: form find the record its URL form holds (ITI-104 feeds in the OID form)", async () => {
      const oid = '1.3.6.1.4.1.21367.13.20.2000';
      const url = 'http://example.org/green';
      assert.equal((await cr.request('POST', 'NamingSystem', namingSystem('Green', url, oid))).status, 201);
      const byOid = `identifier=${encodeURIComponent(`urn:oid:${oid}|COND-1`)}`;
      const feed = (birthDate: string) => patient({ ids: [[`urn:oid:${oid}`, 'COND-1']], family: 'Jones', given: 'Carl', birthDate, gender: 'male' });
      const first = await cr.request('PUT', `Patient?${byOid}`, feed('1980-01-01'));
      assert.equal(first.status, 201, JSON.stringify(first.body));
      for (const birthDate of ['1980-01-02', '1980-01-03']) {
        const again = await cr.request('PUT', `Patient?${byOid}`, feed(birthDate));
        assert.equal(again.status, 200, `a correction updates the record: ${JSON.stringify(again.body)}`);
        assert.equal(again.body.id, first.body.id);
      }
      assert.equal(await holders(url, 'COND-1'), 1);
      const create = await requestJson(`${cr.base}/Patient`, 'POST', feed('1980-01-03'), { 'if-none-exist': byOid });
      assert.equal(create.status, 200, 'If-None-Exist by the OID form finds it');
      assert.equal(await holders(url, 'COND-1'), 1);
      const removed = await cr.request('DELETE', `Patient?${byOid}`);
      assert.ok(removed.status < 300, JSON.stringify(removed.body));
      assert.equal(await holders(url, 'COND-1'), 0, 'the conditional delete removed it');
    });

    test('a transaction bundle registering two different people with one identifier is refused whole', async () => {
      const bundle = {
        resourceType: 'Bundle', type: 'transaction', entry: [
          { resource: patient({ ids: [[CLINIC_B, 'B-DUP']], family: 'Phiri', given: 'Tamanda', birthDate: '1985-05-05', gender: 'male' }), request: { method: 'POST', url: 'Patient' } },
          { resource: patient({ ids: [[CLINIC_B, 'B-DUP']], family: 'Lungu', given: 'Ruth', birthDate: '1991-12-12' }), request: { method: 'POST', url: 'Patient' } },
        ],
      };
      const reply = await cr.request('POST', '', bundle);
      assert.equal(reply.status, 409, JSON.stringify(reply.body));
      assert.equal(await holders(CLINIC_B, 'B-DUP'), 0);
    });

    test('PMIR ITI-93: the same message sent twice registers one record; the resend is answered as the first', async () => {
      const message = pmirMessage([{ fullUrl: `urn:uuid:${randomUUID()}`, resource: patient({ ids: [[CLINIC_B, 'C77']], family: 'Phiri', given: 'Tamanda', birthDate: '1985-05-05', gender: 'male' }), request: { method: 'POST', url: 'Patient' } }]);
      const first = await cr.request('POST', '', message);
      assert.equal(first.status, 200, JSON.stringify(first.body));
      const again = await cr.request('POST', '', message);
      assert.equal(again.status, 200, JSON.stringify(again.body));
      assert.equal(again.body.entry[0].resource.response.code, 'ok');
      assert.deepEqual(locations(again.body), locations(first.body));
      assert.equal(await holders(CLINIC_B, 'C77'), 1);
    });

    test('PMIR ITI-93: a message id reused for another message is a 409 fatal-error, and nothing of it is applied', async () => {
      const id = randomUUID();
      assert.equal((await cr.request('POST', '', pmirMessage([{ resource: patient({ ids: [[CLINIC_B, 'C78']], family: 'Zulu', given: 'Peter', birthDate: '1944-04-04', gender: 'male' }), request: { method: 'POST', url: 'Patient' } }], id))).status, 200);
      const reused = await cr.request('POST', '', pmirMessage([{ resource: patient({ ids: [[CLINIC_B, 'C79']], family: 'Tembo', given: 'Moses', birthDate: '1959-05-05', gender: 'male' }), request: { method: 'POST', url: 'Patient' } }], id));
      assert.equal(reused.status, 409, JSON.stringify(reused.body));
      assert.equal(reused.body.entry[0].resource.response.code, 'fatal-error');
      assert.equal(await holders(CLINIC_B, 'C79'), 0);
    });

    test('PMIR ITI-93: applied message ids are forgotten after the retention period, newer ones kept', async () => {
      const db = cr.database.db;
      await db.query(`INSERT INTO cr.pmir_message (message_id, body_digest, received_at) VALUES
        ('old-1', 'x', now() - make_interval(days => $1 + 1)), ('old-2', 'x', now() - make_interval(days => $1 + 400)),
        ('recent', 'x', now() - make_interval(days => $1 - 1))`, [RETENTION_DAYS]);
      assert.equal(await new PmirMessageLog('cr').purge(db), 2);
      const { rows } = await db.query<{ message_id: string }>(`SELECT message_id FROM cr.pmir_message WHERE message_id IN ('old-1', 'old-2', 'recent')`);
      assert.deepEqual(rows.map((r) => r.message_id), ['recent']);
    });
  });
}
