/**
 * OpenHIM parity: channel alerts (v8.5 src/alerts.js), mailed to a real SMTP server. A channel's
 * alert on status 500 mails its users and its contact group's users a list of console links to
 * the failed transactions; `maxAlerts: '1 per hour'` holds a user to one mail an hour; a `4xx`
 * alert with `failureRate` fires once the share of the last hour's transactions is reached, and
 * once an hour; an SMS recipient gets OpenHIM's short text through the SMS gateway's HTTP API (one
 * without a number is recorded as failed); nothing is mailed twice.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { testDrivers } from '../support/databases.js';
import { startSmtp } from '../support/smtp.js';
import { addPosChannels, basic, eventually, startIol, startUpstream, type Iol, type Upstream } from './support.js';

for (const driver of testDrivers) {
  describe(`channel alerts by e-mail on ${driver}`, () => {
    let iol: Iol;
    let upstream: Upstream;
    let smtp: Awaited<ReturnType<typeof startSmtp>>;
    const pos = { authorization: basic('alert-pos', 'alert-pos-secret-1') };
    const send = async (path: string) => {
      const res = await fetch(`${iol.router}${path}`, { headers: pos });
      await res.arrayBuffer();
      return res.headers.get('x-openhim-transactionid')!;
    };
    const mailsTo = (email: string) => smtp.mails.filter((m) => m.to.includes(email));
    const settle = () => new Promise((resolve) => setTimeout(resolve, 1200));
    const sentRows = async (user: string) =>
      (await iol.t.db.query<{ alert_status: string }>('SELECT alert_status FROM iol.alerts_sent WHERE user_email = $1 ORDER BY id', [user])).rows.map((r) => r.alert_status);

    before(async () => {
      smtp = await startSmtp();
      upstream = await startUpstream();
      upstream.handle('/alerting/fail', (_req, res) => res.writeHead(500, { 'content-type': 'text/plain' }).end('upstream broke'));
      upstream.handle('/rate/bad', (_req, res) => res.writeHead(404, { 'content-type': 'text/plain' }).end('no such thing'));
      // A gateway with Clickatell's HTTP API shape (the upstream stands in for it).
      const gateway = `http://127.0.0.1:${upstream.port}/sms/send?apiKey=k3y&to={to}&content={text}`;
      iol = await startIol(driver, { OPENHIM_SMTP_URL: smtp.url, OPENHIM_SMS_URL: gateway, OPENHIM_ALERTS_POLL_MS: '200', OPENHIM_CONSOLE_URL: 'https://console.example.org' });
      for (const email of ['ops@example.org', 'hourly@example.org', 'oncall@example.org', 'rate@example.org', 'texter@example.org']) {
        assert.equal((await iol.call('POST', '/users', { email, firstname: 'A', surname: 'B', password: 'alert-user-pass-1', groups: ['viewers'], msisdn: '27123456789' })).status, 201);
      }
      assert.equal((await iol.call('POST', '/users', { email: 'nonumber@example.org', firstname: 'A', surname: 'B', password: 'alert-user-pass-1', groups: ['viewers'] })).status, 201);
      const group = await iol.call('POST', '/groups', { group: 'on call', users: [{ user: 'oncall@example.org', method: 'email', maxAlerts: 'no max' }] });
      assert.equal(group.status, 201, JSON.stringify(group.body));
      assert.equal((await iol.call('POST', '/clients', { clientID: 'alert-pos', name: 'POS', roles: ['pos'], password: 'alert-pos-secret-1' })).status, 201);
      await addPosChannels(iol, upstream.port, [
        ['alerting', {
          urlPattern: '^/alerting/.*$',
          alerts: [{
            condition: 'status',
            status: '500',
            users: [
              { user: 'ops@example.org', method: 'email', maxAlerts: 'no max' },
              { user: 'hourly@example.org', method: 'email', maxAlerts: '1 per hour' },
              { user: 'texter@example.org', method: 'sms', maxAlerts: 'no max' },
              { user: 'nonumber@example.org', method: 'sms', maxAlerts: 'no max' },
            ],
            groups: [group.body._id],
          }],
        }],
        ['rate', { urlPattern: '^/rate/.*$', alerts: [{ condition: 'status', status: '4xx', failureRate: 50, users: [{ user: 'rate@example.org', method: 'email' }] }] }],
      ]);
      // The first run starts from its own time (as OpenHIM's): what ended before it raises no alert.
      await eventually(async () => (await iol.t.db.query('SELECT 1 FROM iol.alert_state')).rows.length > 0, 'the first alert run');
    });
    after(async () => {
      await iol?.stop();
      await upstream?.close();
      await smtp?.close();
    });

    test('a 500 mails the alert\'s users and its contact group a console link to the transaction; an SMS recipient gets a text', async () => {
      const id = await send('/alerting/fail');
      await send('/alerting/ok'); // 200: not alerted
      const mail = await eventually(async () => mailsTo('ops@example.org')[0], 'the alert mail');
      assert.match(mail.text, /Subject: OpenHIM Alert/);
      assert.match(mail.text, /The following transaction\(s\) have completed with status 500 on the OpenHIM instance running on Instant OpenHIE/);
      assert.match(mail.text, /Channel - alerting/);
      assert.ok(mail.text.includes(`https://console.example.org/#!/transactions/${id}`), mail.text);
      await eventually(async () => mailsTo('oncall@example.org').length === 1, 'the contact group\'s mail');
      await eventually(async () => mailsTo('hourly@example.org').length === 1, 'the hourly user\'s mail');
      // OpenHIM's SMS template, to the user's number, through the gateway's URL.
      const sms = await eventually(async () => upstream.seen.find((r) => r.url.startsWith('/sms/send')), 'the SMS');
      const query = new URL(sms.url, 'http://gateway').searchParams;
      assert.equal(query.get('apiKey'), 'k3y');
      assert.equal(query.get('to'), '27123456789');
      assert.equal(query.get('content'), 'Alert - 1 transaction has completed with status 500 on the OpenHIM running on Instant OpenHIE (alerting)');
      await eventually(async () => (await sentRows('texter@example.org')).includes('Completed'), 'the SMS alert recorded as sent');
      // A user with no number: OpenHIM's reason, recorded as failed; the others are not held up.
      await eventually(async () => (await sentRows('nonumber@example.org')).includes('Failed'), 'the SMS alert without a number recorded as failed');
      assert.equal(smtp.mails.filter((m) => m.text.includes('/alerting/ok')).length, 0);
    });

    test('the next failure mails again, but not a user held to one an hour; nothing is mailed twice', async () => {
      await settle();
      const before = mailsTo('ops@example.org').length;
      const id = await send('/alerting/fail');
      const second = await eventually(async () => mailsTo('ops@example.org')[before], 'the second alert mail');
      assert.ok(second.text.includes(id));
      await settle();
      assert.equal(mailsTo('ops@example.org').length, before + 1, 'each failure is alerted once');
      assert.equal(mailsTo('hourly@example.org').length, 1, 'maxAlerts 1 per hour');
      assert.equal(mailsTo('oncall@example.org').length, 2);
    });

    test('a 4xx alert with a failure rate fires once the hour\'s share is reached, then not again within the hour', async () => {
      await send('/rate/ok');
      await send('/rate/ok');
      await send('/rate/bad');
      await settle();
      assert.equal(mailsTo('rate@example.org').length, 0, '1 in 3 is under 50%');
      await send('/rate/bad');
      const mail = await eventually(async () => mailsTo('rate@example.org')[0], 'the failure-rate alert');
      assert.match(mail.text, /completed with status 4xx/);
      await send('/rate/bad');
      await settle();
      assert.equal(mailsTo('rate@example.org').length, 1, 'once an hour');
    });

    test('alerts are checked at save as OpenHIM\'s model checks them', async () => {
      const bad = [
        [{ status: '500', users: [{ user: 'ops@example.org' }] }, /method/],
        [{ status: '500', users: [{ user: 'ops@example.org', method: 'pigeon' }] }, /method/],
        [{ status: '500', users: [{ user: 'ops@example.org', method: 'email', maxAlerts: 'often' }] }, /maxAlerts/],
        [{ status: '4xx', failureRate: 'abc', users: [] }, /failureRate/],
        [{ status: 'abc', users: [] }, /status/],
        [{ condition: 'status', users: [] }, /status/],
        [{ status: '500', groups: [{ $ne: 1 }] }, /groups/],
        [{ status: '500', users: [{ user: 'u2@example.org,u3@example.org', method: 'email' }] }, /one user/],
        [{ status: '500', users: [{ user: 'a12@x.org@y.org', method: 'email' }] }, /one user/],
      ] as const;
      const route = { name: 'p', host: '127.0.0.1', port: upstream.port, primary: true };
      for (const [alert, message] of bad) {
        const res = await iol.call('POST', '/channels', { name: `bad alert ${JSON.stringify(alert)}`, urlPattern: '^/x$', routes: [route], alerts: [alert] });
        assert.equal(res.status, 400, JSON.stringify(alert));
        assert.match(res.body.message, message);
      }
      const many = Array.from({ length: 101 }, () => ({ status: '500', users: [] }));
      const tooMany = await iol.call('POST', '/channels', { name: 'many alerts', urlPattern: '^/x$', routes: [route], alerts: many });
      assert.equal(tooMany.status, 400);
      assert.match(tooMany.body.message, /at most 100 alerts/);
      const group = await iol.call('POST', '/groups', { group: 'listed', users: [{ user: 'a@x.org,b@y.org', method: 'email' }] });
      assert.equal(group.status, 400, 'a contact group names one user a contact');
    });

    test('alerts are stored as OpenHIM\'s model stores them: condition status by default, status as text, failureRate as a number, lists and maxAlerts filled in, other fields dropped', async () => {
      const route = { name: 'p', host: '127.0.0.1', port: upstream.port, primary: true };
      const res = await iol.call('POST', '/channels', {
        name: 'stored alerts', urlPattern: '^/stored-alerts$', routes: [route],
        alerts: [
          { status: 500, failureRate: '13', users: [{ user: 'ops@example.org', method: 'email' }], notInTheModel: true },
          // As the OpenHIM console sends an auto-retry alert.
          { condition: 'auto-retry-max-attempted', status: null, failureRate: null, groups: [], users: [{ user: 'ops@example.org', method: 'sms', maxAlerts: '1 per day' }] },
        ],
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      const stored = (await iol.call('GET', `/channels/${res.body._id}`)).body.alerts;
      assert.deepEqual(stored[0], { condition: 'status', status: '500', failureRate: 13, groups: [], users: [{ user: 'ops@example.org', method: 'email', maxAlerts: 'no max' }] });
      assert.deepEqual(stored[1], { condition: 'auto-retry-max-attempted', status: null, failureRate: null, groups: [], users: [{ user: 'ops@example.org', method: 'sms', maxAlerts: '1 per day' }] });
      const put = await iol.call('PUT', `/channels/${res.body._id}`, { alerts: [{ status: '4xx', failureRate: '', groups: ['0123456789abcdef01234567'] }] });
      assert.equal(put.status, 200, JSON.stringify(put.body));
      assert.deepEqual((await iol.call('GET', `/channels/${res.body._id}`)).body.alerts, [{ condition: 'status', status: '4xx', failureRate: null, groups: ['0123456789abcdef01234567'], users: [] }]);
    });

    test('auto-retry-max-attempted: a failed transaction on its last automatic retry is alerted; an earlier attempt is not', async () => {
      const retrying = await iol.call('POST', '/channels', {
        name: 'retrying', urlPattern: '^/retrying$', allow: ['pos'], autoRetryEnabled: true, autoRetryMaxAttempts: 3,
        routes: [{ name: 'p', host: '127.0.0.1', port: upstream.port, primary: true }],
        alerts: [{ condition: 'auto-retry-max-attempted', users: [{ user: 'ops@example.org', method: 'email' }] }],
      });
      assert.equal(retrying.status, 201, JSON.stringify(retrying.body));
      await settle();
      const before = mailsTo('ops@example.org').length;
      // As OpenHIM's POST /transactions records them: one on its second attempt, one on its third (the last).
      const add = async (attempt: number) => {
        const now = Date.now();
        const res = await iol.call('POST', '/transactions', {
          channelID: retrying.body._id, status: 'Failed', autoRetry: true, autoRetryAttempt: attempt,
          request: { path: '/retrying', method: 'GET', timestamp: new Date(now - 100).toISOString() },
          response: { status: 500, timestamp: new Date(now).toISOString(), body: 'still failing' },
        });
        assert.equal(res.status, 201, JSON.stringify(res.body));
        return res.body._id as string | undefined;
      };
      await add(2);
      await add(3);
      const mail = await eventually(async () => mailsTo('ops@example.org')[before], 'the max-retries alert');
      assert.match(mail.text, /have been retried 3 times, but are still failing/);
      assert.match(mail.text, /Please note that they will not be retried any further by the OpenHIM automatically/);
      const links = new Set(mail.text.match(/#!\/transactions\/[0-9a-f]{24}/g) ?? []);
      assert.equal(links.size, 1, `only the one on its last attempt: ${mail.text}`);
    });
  });
}
