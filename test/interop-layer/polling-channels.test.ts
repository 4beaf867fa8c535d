/**
 * OpenHIM parity: polling channels (v8.5 src/polling.js and its polling app; channelsAPITests'
 * triggerChannel): a channel of type `polling` calls its routes on its `pollingSchedule` (a human
 * interval or a cron expression) with OpenHIM's request (GET /trigger, `channel-id`,
 * `X-OpenHIM-LastRunAt`), each poll a transaction in the log; `POST /channels/:id/trigger` polls at
 * once; a schedule the scheduler cannot read is refused at save; a disabled channel stops.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { testDrivers } from '../support/databases.js';
import { basic, eventually, startIol, startUpstream, type Iol, type Upstream } from './support.js';

for (const driver of testDrivers) {
  describe(`polling channels on ${driver}`, () => {
    let iol: Iol;
    let upstream: Upstream;
    const channel = (name: string, extra: Record<string, unknown>) =>
      iol.call('POST', '/channels', { name, urlPattern: `^/${name}$`, type: 'polling', routes: [{ name: 'poll', host: '127.0.0.1', port: upstream.port, primary: true }], ...extra });
    const polls = (path: string) => upstream.seen.filter((r) => r.url === path);
    const transactionsOf = async (channelId: string) =>
      (await iol.call('GET', `/transactions?filterLimit=100&filters=${encodeURIComponent(JSON.stringify({ channelID: channelId }))}`)).body as Array<Record<string, any>>;

    before(async () => {
      upstream = await startUpstream();
      upstream.handle('/broken', (_req, res) => res.writeHead(500, { 'content-type': 'text/plain' }).end('down'));
      iol = await startIol(driver);
    });
    after(async () => {
      await iol?.stop();
      await upstream?.close();
    });

    test('a schedule the scheduler cannot read, and methods on a polling channel, are refused at save', async () => {
      // An interval past what a Date holds used to poll in a tight loop (its next run was NaN ms away).
      for (const pollingSchedule of [undefined, 'now and then', '61 * * * *', '', 'every 9999999999999999999999 seconds', '2 years', '0 0 30 2 *']) {
        const res = await channel('bad-schedule', pollingSchedule === undefined ? {} : { pollingSchedule });
        assert.equal(res.status, 400, `${pollingSchedule}: ${JSON.stringify(res.body)}`);
        assert.match(res.body.message, /pollingSchedule/);
      }
      assert.equal((await channel('with-methods', { pollingSchedule: '5 minutes', methods: ['GET'] })).status, 400);
    });

    test('a human interval: the routes get GET /trigger with channel-id and X-OpenHIM-LastRunAt, each poll logged', async () => {
      const created = await channel('every-second', { pollingSchedule: '1 second', routes: [{ name: 'poll', host: '127.0.0.1', port: upstream.port, primary: true, path: '/every-second' }] });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const seen = await eventually(async () => polls('/every-second').length >= 2 && polls('/every-second'), 'two polls', 200);
      for (const request of seen) {
        assert.equal(request.method, 'GET');
        assert.equal(request.headers['channel-id'], created.body._id);
        assert.ok(!Number.isNaN(Date.parse(String(request.headers['x-openhim-lastrunat']))));
      }
      const logged = await eventually(async () => {
        const list = await transactionsOf(created.body._id);
        return list.length >= 2 && list;
      }, 'the polls in the transaction log');
      assert.equal(logged[0]!.status, 'Successful');
      assert.equal(logged[0]!.request.path, '/trigger');
      assert.equal(logged[0]!.request.method, 'GET');
      assert.equal(logged[0]!.clientID, undefined, 'no client polls');
      // Disabled: the polls stop.
      assert.equal((await iol.call('PUT', `/channels/${created.body._id}`, { status: 'disabled' })).status, 200);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const count = polls('/every-second').length;
      await new Promise((resolve) => setTimeout(resolve, 2500));
      assert.equal(polls('/every-second').length, count, 'a disabled channel is not polled');
    });

    test('a cron schedule with seconds polls on it', async () => {
      const created = await channel('cron', { pollingSchedule: '*/2 * * * * *', routes: [{ name: 'poll', host: '127.0.0.1', port: upstream.port, primary: true, path: '/cron' }] });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      await eventually(async () => polls('/cron').length >= 1, 'a cron poll', 200);
      assert.equal((await iol.call('DELETE', `/channels/${created.body._id}`)).status, 200);
    });

    test('trigger: polls at once (200 with the transaction), 500 when the route fails, 404 for no channel, 403 for a non-admin', async () => {
      const hourly = await channel('hourly', { pollingSchedule: '1 hour', routes: [{ name: 'poll', host: '127.0.0.1', port: upstream.port, primary: true, path: '/hourly' }] });
      const before = polls('/hourly').length;
      const triggered = await iol.call('POST', `/channels/${hourly.body._id}/trigger`);
      assert.equal(triggered.status, 200, JSON.stringify(triggered.body));
      assert.equal(polls('/hourly').length, before + 1);
      await eventually(async () => (await iol.call('GET', `/transactions/${triggered.body.transactionId}`)).body?.status === 'Successful', 'the triggered transaction');
      const broken = await channel('broken', { pollingSchedule: '1 day', routes: [{ name: 'poll', host: '127.0.0.1', port: upstream.port, primary: true, path: '/broken' }] });
      assert.equal((await iol.call('POST', `/channels/${broken.body._id}/trigger`)).status, 500);
      const missing = await iol.call('POST', '/channels/000000000000000000000000/trigger');
      assert.equal(missing.status, 404);
      assert.equal(missing.body.message, "We could not find a channel with Id:'000000000000000000000000'.");
      assert.equal((await iol.call('POST', '/users', { email: 'viewer@example.org', firstname: 'V', surname: 'V', password: 'viewer-password-1', groups: ['viewers'] })).status, 201);
      const refused = await iol.call('POST', `/channels/${hourly.body._id}/trigger`, undefined, { authorization: basic('viewer@example.org', 'viewer-password-1') });
      assert.equal(refused.status, 403);
      assert.equal(polls('/hourly').length, before + 1);
    });

    test('a polling channel takes no HTTP request through the router', async () => {
      const created = await channel('not-http', { pollingSchedule: '1 day', authType: 'public', routes: [{ name: 'poll', host: '127.0.0.1', port: upstream.port, primary: true }] });
      assert.equal(created.status, 201);
      const before = upstream.seen.length;
      const res = await fetch(`${iol.router}/not-http`);
      assert.ok([401, 404].includes(res.status), `its urlPattern is not an HTTP route (${res.status})`);
      assert.equal(upstream.seen.length, before);
    });
  });
}
