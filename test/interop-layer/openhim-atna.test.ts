/**
 * OpenHIM parity: the ATNA audit repository API, written from OpenHIM v8.5's
 * test/integration/auditAPITests.js and src/api/audits.js: POST /audits stores OpenHIM's audit
 * record as sent (admins only, stored before the 201), GET /audits lists and filters the records
 * (participant object id patterns with OpenHIM's patient id check, the date range as JSON text),
 * GET /audits/:id gives one whole, /audits-filter-options collects their codes, and reading
 * records in detail writes an "Audit Log Used" record. The same record is a FHIR AuditEvent at
 * GET /audit-events.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { testDrivers } from '../support/databases.js';
import { basic, eventually, startIol, type Iol } from './support.js';

/** OpenHIM's own test record (auditAPITests.js). */
const auditData = Object.freeze({
  rawMessage: 'This will be the raw ATNA message that gets received to be used as a backup reference',
  eventIdentification: {
    eventDateTime: '2015-02-20T15:38:25.282Z',
    eventOutcomeIndicator: '0',
    eventActionCode: 'E',
    eventID: { code: '110112', displayName: 'Query', codeSystemName: 'DCM' },
    eventTypeCode: { code: 'ITI-9', displayName: 'PIX Query', codeSystemName: 'IHE Transactions' },
  },
  activeParticipant: [
    { userID: 'pix|pix', alternativeUserID: '2100', userIsRequestor: 'false', networkAccessPointID: 'localhost', networkAccessPointTypeCode: '1', roleIDCode: { code: '110152', displayName: 'Destination', codeSystemName: 'DCM' } },
    { userID: 'pix|pix', alternativeUserID: '2100', userIsRequestor: 'false', networkAccessPointID: 'localhost', networkAccessPointTypeCode: '1', roleIDCode: { code: '110152', displayName: 'Destination', codeSystemName: 'DCM' } },
  ],
  auditSourceIdentification: { auditSourceID: 'openhim' },
  participantObjectIdentification: [
    {
      participantObjectID: '975cac30-68e5-11e4-bf2a-04012ce65b02^^^ECID&amp;ECID&amp;ISO',
      participantObjectTypeCode: '1',
      participantObjectTypeCodeRole: '1',
      participantObjectIDTypeCode: { code: '2', displayName: 'PatientNumber', codeSystemName: 'RFC-3881' },
    },
    {
      participantObjectID: 'dca6c09e-cc92-4bc5-8741-47bd938fa405',
      participantObjectTypeCode: '2',
      participantObjectTypeCodeRole: '24',
      participantObjectIDTypeCode: { code: 'ITI-9', displayName: 'PIX Query', codeSystemName: 'IHE Transactions' },
      participantObjectQuery: 'TVNIfF5+XCZ8b3BlbmhpbXxvcGVuaGltLW1lZGlhdG9yLW9oaWUteGRzfHBpeHxwaXh8MjAxNTAyMjAxNTM4MjUrMDIwMHx8UUJQXlEyM15RQlBfUTIxfDEwMDQxYWQ5LTkyNDAtNDEyNS04ZDMwLWZiYzczNGEwOTMwMXxQfDIuNQ1RUER8SUhFIFBJWCBRdWVyeXw1OTRhNDVkYS0zOTY5LTQzOTAtODE2Ni01MjhkZDFmNWU0ZTF8NzZjYzc2NWE0NDJmNDEwXl5eJjEuMy42LjEuNC4xLjIxMzY3LjIwMDUuMy43JklTT15QSXxeXl5FQ0lEJkVDSUQmSVNPXlBJDVJDUHxJDQ==',
      participantObjectDetail: { type: 'MSH-10', value: 'MTAwNDFhZDktOTI0MC00MTI1LThkMzAtZmJjNzM0YTA5MzAx' },
    },
  ],
});

for (const driver of testDrivers) {
  describe(`OpenHIM's ATNA audit API on ${driver}`, () => {
    let iol: Iol;
    let auditId: string;
    const nonRoot = { authorization: basic('nonroot@jembi.org', 'non-root-password-1') };
    const list = async (query: Record<string, string>) => {
      const res = await iol.call('GET', `/audits?${new URLSearchParams(query)}`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body as Array<Record<string, any>>;
    };
    const byFilters = (filters: Record<string, unknown>, extra: Record<string, string> = {}) => list({ filterPage: '0', filterLimit: '100', filters: JSON.stringify(filters), ...extra });
    const auditLogUsed = async () => byFilters({ 'eventIdentification.eventID.code': '110101' }, { filterRepresentation: 'full' });

    before(async () => {
      iol = await startIol(driver, { OPENHIM_API_MAX_PAGE_BYTES: '8192' });
      assert.equal((await iol.call('POST', '/users', { email: 'nonroot@jembi.org', password: 'non-root-password-1', firstname: 'N', surname: 'R', groups: ['viewers'] })).status, 201);
    });
    after(async () => {
      await iol?.stop();
    });

    test('addAudit: an admin\'s record is stored as sent, before the 201; a non-admin gets 403, an anonymous caller 401', async () => {
      const res = await iol.call('POST', '/audits', { ...auditData, notInTheModel: 'dropped' });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      auditId = res.body._id;
      // Stored when acknowledged: in the table at once, not behind the answer.
      const row = (await iol.t.db.query<{ atna: any }>('SELECT atna FROM iol.audits WHERE id = $1', [auditId])).rows[0];
      assert.ok(row, 'the record is stored when the 201 is sent');
      assert.equal(row.atna.notInTheModel, undefined, 'fields OpenHIM\'s model lacks are dropped');
      assert.equal((await iol.call('POST', '/audits', auditData, nonRoot)).status, 403);
      assert.equal((await fetch(`${iol.api}/audits`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(auditData) })).status, 401);
    });

    test('getAuditById: the whole record as sent', async () => {
      const res = await iol.call('GET', `/audits/${auditId}`);
      assert.equal(res.status, 200);
      const audit = res.body;
      assert.equal(audit._id, auditId);
      assert.deepEqual({ ...audit, _id: undefined }, { ...auditData, _id: undefined });
      assert.equal(audit.activeParticipant[0].networkAccessPointID, 'localhost');
      assert.equal(audit.participantObjectIdentification[1].participantObjectIDTypeCode.codeSystemName, 'IHE Transactions');
      assert.equal((await iol.call('GET', `/audits/${auditId}`, undefined, nonRoot)).status, 403, 'a user who may not view it');
    });

    test('getAudits: listed newest first by event time, without participants and the raw message unless asked in full', async () => {
      const simple = await byFilters({ 'eventIdentification.eventID.code': '110112' });
      assert.equal(simple.length, 1);
      assert.deepEqual(simple[0]!.eventIdentification, auditData.eventIdentification);
      assert.equal(simple[0]!.activeParticipant, undefined);
      assert.equal(simple[0]!.participantObjectIdentification, undefined);
      assert.equal(simple[0]!.rawMessage, undefined);
      const full = await byFilters({ 'eventIdentification.eventID.code': '110112' }, { filterRepresentation: 'full' });
      assert.equal(full[0]!.rawMessage, auditData.rawMessage);
      assert.equal(full[0]!.participantObjectIdentification.length, 2);
      const everything = await list({ filterPage: '0', filterLimit: '100', filters: '{}' });
      assert.ok(everything.some((a) => a._id === auditId), 'with our own records (logins, changes)');
      const times = everything.map((a) => Date.parse(a.eventIdentification.eventDateTime));
      assert.deepEqual(times, [...times].sort((a, b) => b - a));
    });

    test('getAudits filters: the date range as JSON text, codes, the audit source and the user', async () => {
      const inRange = await byFilters({ 'eventIdentification.eventDateTime': '{ "$gte": "2015-02-20T00:00:00.000Z","$lte": "2015-02-21T00:00:00.000Z" }' });
      assert.deepEqual(inRange.map((a) => a._id), [auditId]);
      assert.deepEqual(await byFilters({ 'eventIdentification.eventDateTime': '{ "$gte": "2015-02-21T00:00:00.000Z","$lte": "2015-02-22T00:00:00.000Z" }' }), []);
      assert.deepEqual((await byFilters({ 'eventIdentification.eventTypeCode.code': 'ITI-9' })).map((a) => a._id), [auditId]);
      assert.ok((await byFilters({ 'eventIdentification.eventTypeCode.code': '110122' })).every((a) => a._id !== auditId), 'logins are not PIX queries');
      assert.ok((await byFilters({ 'auditSourceIdentification.auditSourceID': 'openhim' })).some((a) => a._id === auditId));
      assert.deepEqual(await byFilters({ 'auditSourceIdentification.auditSourceID': 'another-source' }), []);
      assert.deepEqual((await byFilters({ 'activeParticipant.userID': 'pix|pix' })).map((a) => a._id), [auditId]);
      assert.deepEqual((await byFilters({ 'eventIdentification.eventOutcomeIndicator': '0', 'eventIdentification.eventActionCode': 'E', 'eventIdentification.eventID.code': '110112' })).map((a) => a._id), [auditId]);
    });

    test('getAudits filters as OpenHIM\'s console sends them: each code with its display name and system, participants\' roles, ids and addresses, objects\' id types and details', async () => {
      // The console's audits page (openhim-console controllers/audits.js) sends these keys, each a plain value.
      const ids = async (filters: Record<string, unknown>) => (await byFilters(filters)).map((a) => a._id);
      const code = (name: string, c: { code: string; displayName: string; codeSystemName: string }) => ({ [`${name}.code`]: c.code, [`${name}.codeSystemName`]: c.codeSystemName, [`${name}.displayName`]: c.displayName });
      assert.deepEqual(await ids(code('eventIdentification.eventTypeCode', auditData.eventIdentification.eventTypeCode)), [auditId]);
      assert.deepEqual(await ids(code('eventIdentification.eventID', auditData.eventIdentification.eventID)), [auditId]);
      assert.deepEqual(await ids({ ...code('eventIdentification.eventID', auditData.eventIdentification.eventID), 'eventIdentification.eventID.displayName': 'Not a query' }), []);
      assert.deepEqual(await ids({ ...code('activeParticipant.roleIDCode', auditData.activeParticipant[0]!.roleIDCode), 'auditSourceIdentification.auditSourceID': 'openhim', 'eventIdentification.eventID.code': '110112' }), [auditId]);
      assert.deepEqual(await ids({ 'activeParticipant.alternativeUserID': '2100' }), [auditId]);
      assert.deepEqual(await ids({ 'activeParticipant.networkAccessPointID': 'localhost', 'eventIdentification.eventID.code': '110112' }), [auditId]);
      assert.deepEqual(await ids(code('participantObjectIdentification.participantObjectIDTypeCode', auditData.participantObjectIdentification[0]!.participantObjectIDTypeCode)), [auditId]);
      assert.deepEqual(await ids({ 'participantObjectIdentification.participantObjectDetail.type': 'MSH-10' }), [auditId]);
      assert.deepEqual(await ids({ 'participantObjectIdentification.participantObjectDetail.value': 'MTAwNDFhZDktOTI0MC00MTI1LThkMzAtZmJjNzM0YTA5MzAx' }), [auditId]);
      assert.deepEqual(await ids({ 'activeParticipant.roleIDCode.code': '110153' }), []);
      // Our own records match as their OpenHIM form reads: a login is DCM 110114 UserAuthenticated, by the server in the role Application.
      const logins = await byFilters({ ...code('eventIdentification.eventID', { code: '110114', displayName: 'UserAuthenticated', codeSystemName: 'DCM' }), ...code('activeParticipant.roleIDCode', { code: '110150', displayName: 'Application', codeSystemName: 'DCM' }) }, { filterRepresentation: 'full' });
      assert.ok(logins.length > 0 && logins.every((a) => a.eventIdentification.eventID.displayName === 'UserAuthenticated'), JSON.stringify(logins.slice(0, 2)));
      assert.ok(logins.every((a) => a.activeParticipant.some((p: any) => p.roleIDCode?.code === '110150')));
      const changes = await byFilters({ 'eventIdentification.eventTypeCode.displayName': 'Admin change', 'activeParticipant.alternativeUserID': '' }, { filterRepresentation: 'full' });
      assert.ok(changes.length > 0 && changes.every((a) => a.eventIdentification.eventTypeCode.code === 'admin-change'));
      const bad = await iol.call('GET', `/audits?${new URLSearchParams({ filters: JSON.stringify({ 'activeParticipant.roleIDCode.code': { $ne: 'x' } }) })}`);
      assert.equal(bad.status, 400);
      assert.match(bad.body.message, /activeParticipant\.roleIDCode\.code must be a string/);
    });

    test('getAudits by participantObjectID: OpenHIM\'s JSON-quoted patterns, alone or ANDed with an object id; special characters in the patient id are 400', async () => {
      const patient = JSON.stringify('975cac30-68e5-11e4-bf2a-04012ce65b02\\^\\^\\^.*&.*&.*');
      assert.deepEqual((await byFilters({ 'participantObjectIdentification.participantObjectID': patient })).map((a) => a._id), [auditId]);
      const and = { type: 'AND', patientID: patient, objectID: 'dca6c09e' };
      assert.deepEqual((await byFilters({ 'participantObjectIdentification.participantObjectID': and })).map((a) => a._id), [auditId]);
      assert.deepEqual(await byFilters({ 'participantObjectIdentification.participantObjectID': { ...and, objectID: 'not-there' } }), []);
      // The OpenHIM console's patient-and-object search sends the patient pattern unquoted (OpenHIM answers it 500).
      const consoles = { type: 'AND', patientID: '975cac30-68e5-11e4-bf2a-04012ce65b02\\^\\^\\^.*&.*&.*', objectID: 'dca6c09e' };
      assert.deepEqual((await byFilters({ 'participantObjectIdentification.participantObjectID': consoles })).map((a) => a._id), [auditId]);
      assert.deepEqual(await byFilters({ 'participantObjectIdentification.participantObjectID': { ...consoles, patientID: '1234\\^\\^\\^.*&.*&.*' } }), []);
      assert.deepEqual(await byFilters({ 'participantObjectIdentification.participantObjectID': JSON.stringify('1234\\^\\^\\^.*&.*&.*') }), []);
      // OpenHIM's own cases: '"!1234\\^\\^\\^.*&.*&.*"' alone and in an AND are 400.
      for (const filter of ['"!1234\\\\^\\\\^\\\\^.*&.*&.*"', { type: 'AND', patientID: '"!1234\\\\^\\\\^\\\\^.*&.*&.*"', objectID: '123' }]) {
        const res = await iol.call('GET', `/audits?${new URLSearchParams({ filterPage: '0', filterLimit: '10', filters: JSON.stringify({ 'participantObjectIdentification.participantObjectID': filter }) })}`);
        assert.equal(res.status, 400, JSON.stringify(filter));
        assert.match(res.body.message, /Special characters \(except for hyphens\(-\)\) not allowed in PatientID filter field/);
      }
      const correct = await iol.call('GET', `/audits?${new URLSearchParams({ filterPage: '0', filterLimit: '10', filters: JSON.stringify({ 'participantObjectIdentification.participantObjectID': { type: 'AND', patientID: '"1234\\\\^\\\\^\\\\^.*&.*&.*"', objectID: '123' } }) })}`);
      assert.equal(correct.status, 200, 'OpenHIM\'s "correct participantObjectID ($and)" case');
      // Patterns stay within the safe subset the transaction filters use.
      const heavy = await iol.call('GET', `/audits?${new URLSearchParams({ filters: JSON.stringify({ 'participantObjectIdentification.participantObjectID': JSON.stringify('(a+)+$') }) })}`);
      assert.equal(heavy.status, 400);
    });

    test('reading records in detail writes an Audit Log Used record per record read; the simple list does not', async () => {
      // Counted in the table (written behind the answer, hence `eventually`): reading them through the API would add more.
      const used = async () => {
        return (await iol.t.db.query<{ atna: any }>(`SELECT atna FROM iol.audits WHERE atna->'eventIdentification'->'eventID'->>'code' = '110101' ORDER BY recorded`)).rows.map((r) => r.atna);
      };
      const before = await eventually(async () => {
        const first = (await used()).length;
        await new Promise((resolve) => setTimeout(resolve, 300));
        return (await used()).length === first && first + 1;
      }, 'earlier records written').then((n) => n - 1);
      await list({ filters: JSON.stringify({ 'eventIdentification.eventID.code': '110112' }) });
      await list({ filters: JSON.stringify({ 'eventIdentification.eventID.code': '110112' }), filterRepresentation: 'simple' });
      assert.equal((await used()).length, before, 'the simple list is not audited (OpenHIM)');
      await list({ filters: JSON.stringify({ 'eventIdentification.eventID.code': '110112' }), filterRepresentation: 'full' });
      const records = await eventually(async () => {
        const now = await used();
        return now.length === before + 1 && now;
      }, 'one Audit Log Used record for the one record read');
      const mine = records.at(-1)!;
      assert.deepEqual(mine.eventIdentification.eventID, { code: '110101', displayName: 'Audit Log Used', codeSystemName: 'DCM' });
      assert.equal(mine.eventIdentification.eventActionCode, 'R');
      assert.equal(mine.eventIdentification.eventOutcomeIndicator, '0');
      assert.match(mine.participantObjectIdentification[0].participantObjectID, new RegExp(`^http://127\\.0\\.0\\.1:\\d+/audits/${auditId}$`));
      assert.deepEqual(mine.participantObjectIdentification[0].participantObjectIDTypeCode, { code: '12', displayName: 'URI' });
      assert.equal(mine.activeParticipant[1].userID, 'root@openhim.org');
      assert.equal(mine.activeParticipant[1].userIsRequestor, 'true');
      // One record by id: one more; an unknown id: 404, recorded as a minor failure (4).
      assert.equal((await iol.call('GET', `/audits/${auditId}`)).status, 200);
      assert.equal((await iol.call('GET', '/audits/000000000000000000000000')).status, 404);
      const last = await eventually(async () => {
        const now = await used();
        return now.length === before + 3 && now;
      }, 'two more Audit Log Used records');
      assert.equal(last.at(-1)!.eventIdentification.eventOutcomeIndicator, '4');
      assert.match(last.at(-1)!.participantObjectIdentification[0].participantObjectID, /\/audits\/000000000000000000000000$/);
    });

    test('getAuditsFilterOptions: the codes of the records received, each once, besides ours', async () => {
      const res = await iol.call('GET', '/audits-filter-options');
      assert.equal(res.status, 200);
      const codes = (key: string) => (res.body[key] as Array<{ code: string }>).map((c) => c.code);
      assert.ok(codes('eventType').includes('ITI-9'));
      assert.ok(codes('eventID').includes('110112'));
      assert.ok(codes('eventID').includes('110101'), 'Audit Log Used');
      assert.deepEqual(codes('eventID').filter((c) => c === '110112'), ['110112'], 'once');
      assert.ok(codes('activeParticipantRoleID').includes('110152'));
      assert.deepEqual(codes('participantObjectIDTypeCode').filter((c) => ['2', 'ITI-9'].includes(c)).sort(), ['2', 'ITI-9']);
      assert.ok(res.body.auditSourceID.includes('openhim'));
      assert.equal((await iol.call('GET', '/audits-filter-options', undefined, nonRoot)).status, 403);
      assert.equal((await fetch(`${iol.api}/audits-filter-options`)).status, 401);
    });

    test('the record is a FHIR AuditEvent too (the DICOM mapping), at GET /audit-events?kind=atna', async () => {
      const events = (await iol.call('GET', '/audit-events?kind=atna&filterLimit=1000')).body as Array<Record<string, any>>;
      const event = events.find((e) => e.id === auditId)!;
      assert.ok(event);
      assert.deepEqual(event.type, { system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110112', display: 'Query' });
      assert.deepEqual(event.subtype[1], { system: 'urn:ihe:event-type-code', code: 'ITI-9', display: 'PIX Query' });
      assert.equal(event.action, 'E');
      assert.equal(event.recorded, '2015-02-20T15:38:25.282Z');
      assert.equal(event.outcome, '0');
      assert.equal(event.agent[0].who.identifier.value, 'pix|pix');
      assert.equal(event.agent[0].altId, '2100');
      assert.equal(event.agent[0].requestor, false);
      assert.equal(event.source.observer.display, 'openhim');
      assert.equal(event.entity[0].what.identifier.value, auditData.participantObjectIdentification[0]!.participantObjectID);
      assert.equal(event.entity[1].query, auditData.participantObjectIdentification[1]!.participantObjectQuery);
      assert.deepEqual(event.entity[1].detail, [{ type: 'MSH-10', valueString: 'MTAwNDFhZDktOTI0MC00MTI1LThkMzAtZmJjNzM0YTA5MzAx' }]);
    });

    test('a page of full records stops carrying details at OPENHIM_API_MAX_PAGE_BYTES; the rest are marked, and whole by id', async () => {
      for (let i = 0; i < 4; i += 1) {
        const res = await iol.call('POST', '/audits', { rawMessage: `${i}`.repeat(3000), eventIdentification: { eventID: { code: 'PAGE-TEST' } } });
        assert.equal(res.status, 201);
      }
      const page = await byFilters({ 'eventIdentification.eventID.code': 'PAGE-TEST' }, { filterRepresentation: 'full' });
      assert.equal(page.length, 4, 'paging is unchanged');
      const whole = page.filter((a) => a.rawMessage !== undefined);
      const cut = page.filter((a) => a.detailsOmitted === true);
      assert.ok(whole.length >= 1 && whole.length < 4, `${whole.length} whole`);
      assert.equal(whole.length + cut.length, 4);
      for (const audit of cut) {
        assert.equal(audit.rawMessage, undefined);
        assert.equal((await iol.call('GET', `/audits/${audit._id}`)).body.rawMessage.length, 3000, 'whole by id');
      }
    });

    test('bad records are 400 and store nothing: dates, outcomes, actions, sizes, types', async () => {
      const count = async () => Number((await iol.t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM iol.audits WHERE atna IS NOT NULL AND atna->'eventIdentification'->'eventID'->>'code' IS DISTINCT FROM '110101'`)).rows[0]!.n);
      const before = await count();
      const bad: unknown[] = [
        { eventIdentification: { eventDateTime: 'yesterday' } },
        { eventIdentification: { eventOutcomeIndicator: '3' } },
        { eventIdentification: { eventActionCode: 'X' } },
        { eventIdentification: {}, activeParticipant: Array.from({ length: 101 }, () => ({ userID: 'x' })) },
        { eventIdentification: {}, activeParticipant: { userID: 'not a list' } },
        { eventIdentification: { eventID: { code: { $gt: '' } } } },
        { eventIdentification: {}, rawMessage: 'x'.repeat(1024 * 1024 + 1) },
        { eventIdentification: 'E' },
        { eventIdentification: { eventDateTime: '-271821-04-20' } },
        { eventIdentification: { eventDateTime: '0' } },
        { eventIdentification: { eventDateTime: new Date(Date.now() + 3 * 24 * 3600_000).toISOString() } },
        // A day the calendar does not have (Date reads it as 2 March).
        { eventIdentification: { eventDateTime: '2026-02-30T10:00:00Z' } },
        { eventIdentification: { eventDateTime: '1899-12-31T23:00:00Z' } },
      ];
      for (const body of bad) {
        const res = await iol.call('POST', '/audits', body);
        assert.equal(res.status, 400, `${JSON.stringify(body).slice(0, 120)}: ${JSON.stringify(res.body).slice(0, 200)}`);
      }
      assert.equal(await count(), before);
      // Numbers are cast to text as OpenHIM's model casts them; the event time defaults to now.
      const cast = await iol.call('POST', '/audits', { eventIdentification: { eventID: { code: 110112 }, eventOutcomeIndicator: 0 }, activeParticipant: [{ userIsRequestor: true }] });
      assert.equal(cast.status, 201, JSON.stringify(cast.body));
      assert.equal(cast.body.eventIdentification.eventID.code, '110112');
      assert.equal(cast.body.activeParticipant[0].userIsRequestor, 'true');
      assert.ok(Math.abs(Date.parse(cast.body.eventIdentification.eventDateTime) - Date.now()) < 60_000);
    });
  });
}
