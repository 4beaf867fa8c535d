/**
 * Every filter of the admin API's lists is checked at the edge (issue 7, finding 16): a bad
 * regex, timestamp, `$in`, page or limit is a 400 naming the filter, never a 500; filterLimit is
 * lowered to OPENHIM_API_MAX_FILTER_LIMIT. On both drivers.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { testDrivers } from '../support/databases.js';
import { basic, eventually, startIol, startUpstream, type Iol, type Upstream } from '../interop-layer/support.js';

const f = (filters: unknown) => `filters=${encodeURIComponent(typeof filters === 'string' ? filters : JSON.stringify(filters))}`;

for (const driver of testDrivers) {
  describe(`admin API list filters on ${driver}`, () => {
    let iol: Iol;
    let up: Upstream;
    before(async () => {
      up = await startUpstream();
      iol = await startIol(driver, { OPENHIM_API_MAX_FILTER_LIMIT: '3' });
      await iol.call('POST', '/clients', { clientID: 'pos', name: 'PoS', roles: [], password: 'pos-password-1' });
      const channel = await iol.call('POST', '/channels', { name: 'all', urlPattern: '^/', allow: ['pos'], routes: [{ name: 'p', host: '127.0.0.1', port: up.port, primary: true }] });
      assert.equal(channel.status, 201);
      for (const path of ['/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!', '/one', '/two', '/three', '/four']) {
        assert.equal((await fetch(iol.router + path, { headers: { authorization: basic('pos', 'pos-password-1') } })).status, 200);
      }
      await eventually(async () => ((await iol.call('GET', `/transactions/count`)).body.count === 5 ? true : undefined), 'five transactions');
    });
    after(async () => {
      await iol?.stop();
      await up?.close();
    });

    const refused: Array<[string, RegExp]> = [
      [`/transactions?${f({ 'request.path': '(' })}`, /request\.path/],
      [`/transactions?${f({ 'request.path': '(a)\\1' })}`, /request\.path.*groups/],
      // The attacker review's state blow-up: seconds of database time from one GET.
      [`/transactions?${f({ 'request.path': '(.*.*){1,255}(.*){1,255}x' })}`, /request\.path.*counted repetition/],
      [`/transactions?${f({ 'request.path': 'a|b' })}`, /request\.path.*alternation/],
      [`/transactions?${f({ 'request.path': '^/(a+)+b$' })}`, /request\.path.*groups/],
      [`/transactions?${f({ 'request.path': '^/(one|two)$' })}`, /request\.path.*groups/],
      [`/transactions?${f({ 'request.path': '(?<=a)b' })}`, /request\.path/],
      [`/transactions?${f({ 'request.path': '[[:nope:]]' })}`, /request\.path/],
      [`/transactions?${f({ 'request.path': 'a'.repeat(201) })}`, /request\.path/],
      [`/transactions?${f({ 'request.timestamp': { $gte: 'garbage' } })}`, /request\.timestamp/],
      [`/transactions?${f({ 'request.timestamp': JSON.stringify({ $gte: '99999-01-01' }) })}`, /request\.timestamp/],
      [`/transactions?${f({ 'request.timestamp': { $where: '1' } })}`, /request\.timestamp/],
      [`/transactions?${f({ 'request.timestamp': 'yesterday' })}`, /request\.timestamp/],
      [`/transactions?${f({ status: { $in: 'Failed' } })}`, /status/],
      [`/transactions?${f({ status: { $nin: ['Failed'] } })}`, /status/],
      [`/transactions?${f({ status: 'Exploded' })}`, /status/],
      [`/transactions?${f({ channelID: { $ne: null } })}`, /channelID/],
      [`/transactions?${f({ clientID: { $gt: '' } })}`, /clientID/],
      [`/transactions?${f({ clientID: 'a\u0000' })}`, /filters/],
      [`/transactions?${f({ properties: { 'k\u0000': 'v' } })}`, /filters/],
      [`/transactions?${f({ properties: [1] })}`, /properties/],
      [`/transactions?${f({ 'response.status': 'abc' })}`, /response\.status/],
      [`/transactions?${f({ 'response.status': '99999999999' })}`, /response\.status/],
      [`/transactions?${f({ nope: 1 })}`, /nope/],
      [`/transactions?${f([1])}`, /filters/],
      [`/transactions?${f('null')}`, /filters/],
      [`/transactions?${f('{not json')}`, /filters/],
      ['/transactions?filterPage=1e308', /filterPage/],
      ['/transactions?filterPage=-1', /filterPage/],
      ['/transactions?filterPage=100001', /filterPage/],
      ['/transactions?filterLimit=abc', /filterLimit/],
      ['/transactions?filterLimit=-1', /filterLimit/],
      [`/transactions?${f({ 'routes.request.path': '(.*.*){1,255}x' })}`, /routes\.request\.path.*counted repetition/],
      [`/transactions?${f({ 'orchestrations.request.querystring': 'a|b' })}`, /orchestrations\.request\.querystring.*alternation/],
      [`/transactions?${f({ properties: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, null])) })}`, /at most 20 properties/],
      ['/transactions?channelID=%00', /channelID/],
      [`/transactions/count?${f({ 'request.timestamp': { $lte: 'soon' } })}`, /request\.timestamp/],
      [`/transactions/clients/%00`, /clientId/],
      ['/audit-events?from=garbage', /from/],
      ['/audit-events?to=2026-13-45', /to/],
      ['/audit-events?kind=everything', /kind/],
      ['/audit-events?outcome=%00', /outcome/],
      ['/audit-events?filterPage=1e308', /filterPage/],
      ['/tasks?filterPage=-1', /filterPage/],
      ['/tasks?filterLimit=1.5', /filterLimit/],
      ['/metrics?startDate=garbage&endDate=2026-01-01', /startDate/],
      ['/metrics?startDate=2026-01-01&endDate=275760-01-01', /endDate/],
      ['/metrics/channels/%00?startDate=2026-01-01&endDate=2026-01-02', /channelID/],
      ['/metrics/timeseries/hour?startDate=2026-01-01&endDate=nope', /endDate/],
    ];

    test('each bad filter is a 400 that names it', async () => {
      for (const [path, names] of refused) {
        const res = await iol.call('GET', path);
        assert.equal(res.status, 400, `${path}: ${JSON.stringify(res.body)}`);
        assert.match(String(res.body.message), names, path);
      }
    });

    test('ids no query can take are a 404, not a 500', async () => {
      for (const path of ['/transactions/%00', '/transactions/%ED%A0%80', '/tasks/%00']) {
        const res = await iol.call('GET', path);
        assert.ok(res.status === 404 || res.status === 400, `${path}: ${res.status}`);
      }
    });

    test('good filters work, OpenHIM shapes included; filterLimit is lowered to the cap', async () => {
      const ok = [
        `/transactions?${f({ status: { $in: ['Successful', 'Failed'] } })}`,
        `/transactions?${f({ status: ['Successful'] })}`,
        `/transactions?${f({ 'request.path': '^/one[0-9]*$', 'response.status': '2xx' })}`,
        `/transactions?${f({ 'request.timestamp': JSON.stringify({ $gte: '2020-01-01', $lte: '2100-01-01T00:00:00Z' }) })}`,
        '/transactions?filterLimit=100000&filterPage=1',
        '/audit-events?from=2020-01-01&to=2100-01-01&kind=routed-request&filterLimit=100000',
        '/tasks?filterLimit=100000',
        '/metrics?startDate=2020-01-01&endDate=2100-01-01',
      ];
      for (const path of ok) {
        const res = await iol.call('GET', path);
        assert.equal(res.status, 200, `${path}: ${JSON.stringify(res.body)}`);
      }
      const two = await iol.call('GET', `/transactions?${f({ 'request.path': '^/[ot][nw][eo]$' })}`);
      assert.equal(two.body.length, 2);
      const capped = await iol.call('GET', '/transactions?filterLimit=100000');
      assert.equal(capped.body.length, 3, 'filterLimit is lowered to OPENHIM_API_MAX_FILTER_LIMIT');
      // OpenHIM's "no limit" (filterLimit=0) is the largest page here, still the cap.
      assert.equal((await iol.call('GET', '/transactions?filterLimit=0')).body.length, 3, 'filterLimit=0 gives OPENHIM_API_MAX_FILTER_LIMIT rows');
      assert.equal((await iol.call('GET', '/tasks?filterLimit=0')).status, 200);
      const audits = await iol.call('GET', '/audit-events?filterLimit=100000&kind=routed-request');
      assert.equal(audits.body.length, 3);
    });
  });
}
