/**
 * Issue 8, OpenHIM parity: logins, failed and successful, are in GET /audits as OpenHIM records
 * them (atna-audit's userLoginAudit, stored in OpenHIM v8.5's src/model/audits.js shape, listed by
 * src/api/audits.js: filters as JSON text, filterPage/filterLimit, the simple projection without
 * participants, newest first), and GET /audits/:id, /audits-filter-options. Our FHIR AuditEvents
 * are at GET /audit-events.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { testDrivers } from '../support/databases.js';
import { basic, startIol, type Iol } from './support.js';

interface Code {
  code: string;
  displayName: string;
  codeSystemName: string;
}
interface OpenhimAudit {
  _id: string;
  eventIdentification: { eventDateTime: string; eventOutcomeIndicator: string; eventActionCode: string; eventID: Code; eventTypeCode: Code };
  activeParticipant?: Array<{ userID: string; userIsRequestor: string; networkAccessPointID?: string }>;
  auditSourceIdentification: { auditSourceID: string };
  participantObjectIdentification?: unknown[];
}

const LOGIN_EVENT_ID = { code: '110114', displayName: 'UserAuthenticated', codeSystemName: 'DCM' };
const LOGIN_TYPE = { code: '110122', displayName: 'Login', codeSystemName: 'DCM' };

for (const driver of testDrivers) {
  describe(`OpenHIM's GET /audits on ${driver}`, () => {
    let iol: Iol;
    const user = { email: 'auditor@example.org', password: 'auditor-password-1' };
    const audits = async (query: Record<string, string>) => {
      const res = await iol.call('GET', `/audits?${new URLSearchParams(query)}`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body as OpenhimAudit[];
    };
    const login = (username: string, password: string) =>
      fetch(`${iol.api}/authenticate/local`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });

    before(async () => {
      iol = await startIol(driver);
      assert.equal((await iol.call('POST', '/users', { ...user, firstname: 'A', surname: 'U', groups: ['viewers'] })).status, 201);
      assert.equal((await login(user.email, 'wrong-password')).status, 401);
      assert.equal((await fetch(`${iol.api}/me`, { headers: { authorization: basic('nobody@example.org', 'wrong') } })).status, 401);
      assert.equal((await fetch(`${iol.api}/channels`)).status, 401, 'no credentials');
      assert.equal((await login(user.email, user.password)).status, 200);
    });
    after(async () => {
      await iol?.stop();
    });

    test('the list: OpenHIM records, newest first, login events as atna-audit builds them, without participants in the simple view', async () => {
      const list = await audits({ filterPage: '0', filterLimit: '20', filters: '{}' });
      const logins = list.filter((a) => a.eventIdentification.eventTypeCode.code === '110122');
      assert.ok(logins.length >= 4, `${logins.length} login events`);
      for (const audit of logins) {
        assert.equal(typeof audit._id, 'string');
        assert.deepEqual(audit.eventIdentification.eventID, LOGIN_EVENT_ID);
        assert.deepEqual(audit.eventIdentification.eventTypeCode, LOGIN_TYPE);
        assert.equal(audit.eventIdentification.eventActionCode, 'E');
        assert.ok(['0', '8'].includes(audit.eventIdentification.eventOutcomeIndicator));
        assert.ok(!Number.isNaN(Date.parse(audit.eventIdentification.eventDateTime)));
        assert.equal(audit.auditSourceIdentification.auditSourceID, 'openhim');
        assert.equal(audit.activeParticipant, undefined, 'OpenHIM leaves participants out of the list');
        assert.equal(audit.participantObjectIdentification, undefined);
      }
      const times = list.map((a) => Date.parse(a.eventIdentification.eventDateTime));
      assert.deepEqual(times, [...times].sort((a, b) => b - a), 'newest first');
      assert.equal(list[0]!.eventIdentification.eventOutcomeIndicator, '0', 'the last event is the successful login');
      assert.equal((await audits({ filterPage: '1', filterLimit: '2' })).length, 2, 'paging');
      assert.ok(!list.some((a) => JSON.stringify(a).includes('Transaction/')), 'routed requests are not OpenHIM audits');
    });

    test('filtering by eventIdentification.eventOutcomeIndicator: failed logins are 8, successful ones 0', async () => {
      const failed = await audits({ filters: JSON.stringify({ 'eventIdentification.eventOutcomeIndicator': '8' }), filterRepresentation: 'full' });
      assert.ok(failed.length >= 3);
      assert.ok(failed.every((a) => a.eventIdentification.eventOutcomeIndicator === '8'));
      const users = failed.map((a) => a.activeParticipant![1]!.userID);
      assert.ok(users.includes(user.email), 'a wrong password names the user tried');
      assert.ok(users.includes('nobody@example.org'));
      assert.ok(users.some((u) => /^Unknown with ip /.test(u)), 'no credentials: OpenHIM\'s "Unknown with ip ..."');
      for (const audit of failed) {
        assert.equal(audit.activeParticipant![0]!.userIsRequestor, 'false', 'first the system, as atna-audit');
        assert.equal(audit.activeParticipant![1]!.userIsRequestor, 'true');
      }

      const succeeded = await audits({
        filters: JSON.stringify({ 'eventIdentification.eventOutcomeIndicator': '0', 'eventIdentification.eventTypeCode.code': '110122' }),
        filterRepresentation: 'full',
      });
      assert.equal(succeeded.length, 1);
      assert.equal(succeeded[0]!.activeParticipant![1]!.userID, user.email);
      const byUser = await audits({ filters: JSON.stringify({ 'activeParticipant.userID': user.email }) });
      assert.equal(byUser.length, 2, 'the failed and the successful login of the user');
    });

    test('filtering by eventDateTime as OpenHIM\'s console sends it (JSON text with $gte/$lte)', async () => {
      const range = (gte: string, lte: string) => JSON.stringify({ 'eventIdentification.eventDateTime': JSON.stringify({ $gte: gte, $lte: lte }) });
      assert.equal((await audits({ filters: range('2100-01-01T00:00:00Z', '2100-12-31T00:00:00Z') })).length, 0);
      assert.ok((await audits({ filters: range('2000-01-01T00:00:00Z', '2100-12-31T00:00:00Z') })).length >= 4);
    });

    test('GET /audits/:id is the full record; an unknown id is 404', async () => {
      const [first] = await audits({ filterLimit: '1' });
      const one = await iol.call('GET', `/audits/${first!._id}`);
      assert.equal(one.status, 200);
      assert.equal(one.body._id, first!._id);
      assert.ok(Array.isArray(one.body.activeParticipant));
      assert.equal((await iol.call('GET', '/audits/000000000000000000000000')).status, 404);
      assert.equal((await iol.call('GET', '/audits/%00')).status, 400);
    });

    test('GET /audits-filter-options lists the codes in use, as OpenHIM\'s auditMeta', async () => {
      const options = await iol.call('GET', '/audits-filter-options');
      assert.equal(options.status, 200);
      assert.ok(options.body.eventType.some((c: Code) => c.code === '110122' && c.displayName === 'Login'));
      assert.ok(options.body.eventID.some((c: Code) => c.code === '110114'));
      assert.deepEqual(options.body.auditSourceID, ['openhim']);
    });

    test('bad filters are 400 naming the problem; our FHIR filters point to /audit-events, which still answers AuditEvents', async () => {
      for (const [query, message] of [
        ['filters=%7B', /filters/],
        ['filters=%5B%5D', /filters/],
        [`filters=${encodeURIComponent(JSON.stringify({ $where: 'x' }))}`, /not supported/],
        [`filters=${encodeURIComponent(JSON.stringify({ 'eventIdentification.eventOutcomeIndicator': 'x' }))}`, /eventOutcomeIndicator/],
        [`filters=${encodeURIComponent(JSON.stringify({ 'eventIdentification.eventDateTime': '{"$where":1}' }))}`, /eventDateTime/],
        [`filters=${encodeURIComponent(JSON.stringify({ 'eventIdentification.eventDateTime': '{"$gte":"garbage"}' }))}`, /eventDateTime/],
        ['filterRepresentation=everything', /filterRepresentation/],
        ['kind=auth-failure', /audit-events/],
        ['patient=x', /does not take the parameter .{0,2}patient/],
        ['date=2020-01-01', /does not take the parameter .{0,2}date/],
      ] as const) {
        const res = await iol.call('GET', `/audits?${query}`);
        assert.equal(res.status, 400, query);
        assert.match(JSON.stringify(res.body), message, query);
      }
      for (const query of ['filters=%7B%7D', '_count=1', 'patient=x']) {
        const ignored = await iol.call('GET', `/audit-events?${query}`);
        assert.equal(ignored.status, 400, `/audit-events?${query}: a filter it would ignore is refused`);
      }
      assert.equal((await iol.call('GET', '/audits?_=1700000000')).status, 200, "a browser's cache-buster passes");
      const fhir = await iol.call('GET', '/audit-events?kind=auth-failure');
      assert.equal(fhir.status, 200);
      assert.equal(fhir.body[0].resourceType, 'AuditEvent');
    });

    test('a user who is not an admin may not read audits (as OpenHIM)', async () => {
      for (const path of ['/audits', '/audits-filter-options', '/audit-events']) {
        const res = await fetch(`${iol.api}${path}`, { headers: { authorization: basic(user.email, user.password) } });
        assert.equal(res.status, 403, path);
      }
    });
  });
}
