/**
 * Review finding 2: matchContentJson, matchContentXpath and matchContentValue were dropped on
 * POST/PUT /channels and POST /metadata, so a channel meant to take only some bodies took any
 * body (and its route received what it was never meant to see). They are now kept, exported and
 * applied by the router as OpenHIM's requestMatching.js does, at a bounded cost. Second attack
 * round: each XPath channel parsed the body again, for any client, even one the channel refuses;
 * the body is now parsed once per request, and only for channels the client may use.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { testDrivers } from '../support/databases.js';
import { basic, eventually, startIol, startUpstream, type Iol, type Upstream } from '../interop-layer/support.js';

for (const driver of testDrivers) {
  describe(`channel content matching on ${driver}`, () => {
    let iol: Iol;
    let up: Upstream;
    const auth = { authorization: basic('emr', 'emr-password-1') };
    const route = (name = 'p') => ({ name, host: '127.0.0.1', port: up.port, primary: true });
    const send = (path: string, body: string, type: string) =>
      fetch(`${iol.router}${path}`, { method: 'POST', headers: { ...auth, 'content-type': type }, body });
    before(async () => {
      up = await startUpstream();
      iol = await startIol(driver, { OPENHIM_ROUTER_MATCH_CONTENT_MAX_BYTES: '4096' });
      assert.equal((await iol.call('POST', '/clients', { clientID: 'emr', name: 'EMR', roles: [], password: 'emr-password-1' })).status, 201);
    });
    after(async () => {
      await iol?.stop();
      await up?.close();
    });

    test('a JSON rule is stored, shown, and only matching bodies reach the channel', async () => {
      const created = await iol.call('POST', '/channels', { name: 'json-only', urlPattern: '^/json$', allow: ['emr'], matchContentJson: 'function.id', matchContentValue: 'da3', routes: [route()] });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const stored = await iol.call('GET', `/channels/${created.body._id}`);
      assert.equal(stored.body.matchContentJson, 'function.id');
      assert.equal(stored.body.matchContentValue, 'da3');
      assert.equal((await send('/json', '{"function":{"id":"da3"}}', 'application/json')).status, 200);
      assert.equal((await send('/json', '{"function":{"id":"other"}}', 'application/json')).status, 404, 'another body matches no channel');
      assert.equal((await send('/json', `{"function":{"id":"da3"},"pad":"${'x'.repeat(5000)}"}`, 'application/json')).status, 404, 'a body over the limit is not parsed');
      assert.equal(up.seen.filter((r) => r.url === '/json').length, 1, 'the route saw the matching body alone');
    });

    test('an XPath rule: evaluated on the XML body; entities are not expanded', async () => {
      const created = await iol.call('POST', '/channels', { name: 'xml-only', urlPattern: '^/xml$', allow: ['emr'], matchContentXpath: 'string(/function/@uuid)', matchContentValue: 'da3', routes: [route()] });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal((await send('/xml', '<function uuid="da3"/>', 'application/xml')).status, 200);
      assert.equal((await send('/xml', '<function uuid="nope"/>', 'application/xml')).status, 404);
      assert.equal((await send('/xml', '<!DOCTYPE f [<!ENTITY e SYSTEM "file:///etc/hostname">]><function uuid="&e;"/>', 'application/xml')).status, 404);
    });

    test('a hostile XPath cannot hold the router: it is stopped, and other requests are served', async () => {
      const hostile = '//*[count(//*[count(//*[count(//*) > 0]) > 0]) > 0]';
      assert.equal((await iol.call('POST', '/channels', { name: 'hostile', urlPattern: '^/slow$', allow: ['emr'], matchContentXpath: hostile, matchContentValue: 'x', routes: [route()] })).status, 201);
      const [slow, other] = await Promise.all([send('/slow', `<r>${'<e/>'.repeat(900)}</r>`, 'application/xml'), send('/json', '{"function":{"id":"da3"}}', 'application/json')]);
      assert.equal(slow.status, 404);
      assert.equal(other.status, 200);
    });

    test('attack: a client a content-rule channel refuses cannot make the router evaluate its rule (401, nothing parsed)', async () => {
      assert.equal((await iol.call('POST', '/clients', { clientID: 'other', name: 'Other', roles: [], password: 'other-password-1' })).status, 201);
      const other = { authorization: basic('other', 'other-password-1'), 'content-type': 'application/xml' };
      // A hostile XPath would be given up at its deadline (no match, 404) if it were evaluated.
      const hostile = '//*[count(//*[count(//*[count(//*) > 0]) > 0]) > 0]';
      for (const i of [1, 2, 3]) {
        assert.equal((await iol.call('POST', '/channels', { name: `guarded-${i}`, urlPattern: '^/guarded$', allow: ['emr'], matchContentXpath: hostile, matchContentValue: 'x', routes: [route()] })).status, 201);
      }
      const body = `<r>${'<e/>'.repeat(900)}</r>`;
      const refused = await fetch(`${iol.router}/guarded`, { method: 'POST', headers: other, body });
      assert.equal(refused.status, 401, 'refused before any XPath ran');
      assert.match(await refused.text(), /may not use channel guarded-1/);
      // A channel the client may use, after the refused ones, still takes it on its own rule.
      assert.equal((await iol.call('POST', '/channels', { name: 'other-xml', urlPattern: '^/guarded$', priority: 9, allow: ['other'], matchContentXpath: 'string(/r/@k)', matchContentValue: 'mine', routes: [route()] })).status, 201);
      // On PostgreSQL the router learns of the new channel by a notification that may come after the API's 201.
      await eventually(async () => (await fetch(`${iol.router}/guarded`, { method: 'POST', headers: other, body: '<r k="mine"/>' })).status === 200, 'the router takes the new channel');
      assert.equal((await fetch(`${iol.router}/guarded`, { method: 'POST', headers: other, body: '<r k="theirs"/>' })).status, 401);
    });

    test('matchContentRegex still decides alone when set (OpenHIM checks it first)', async () => {
      const created = await iol.call('POST', '/channels', { name: 'regex', urlPattern: '^/re$', allow: ['emr'], matchContentRegex: '"kind":\\s*"lab"', matchContentJson: 'kind', matchContentValue: 'never', routes: [route()] });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal((await send('/re', '{"kind": "lab"}', 'application/json')).status, 200);
      assert.equal((await send('/re', '{"kind": "pharmacy"}', 'application/json')).status, 404);
    });

    test('the API refuses an expression without a value, a bad XPath, and a path too deep', async () => {
      for (const [extra, message] of [
        [{ matchContentJson: 'a.b' }, /matchContentValue/],
        [{ matchContentXpath: '/a' }, /matchContentValue/],
        [{ matchContentXpath: '/a/[', matchContentValue: 'x' }, /XPath/],
        [{ matchContentJson: Array(40).fill('a').join('.'), matchContentValue: 'x' }, /steps/],
      ] as const) {
        const res = await iol.call('POST', '/channels', { name: 'refused', urlPattern: '^/r$', routes: [route()], ...extra });
        assert.equal(res.status, 400, JSON.stringify(extra));
        assert.match(res.body.message, message);
      }
      const existing = (await iol.call('GET', '/channels')).body.find((c: { name: string }) => c.name === 'json-only');
      const put = await iol.call('PUT', `/channels/${existing._id}`, { matchContentValue: '' });
      assert.equal(put.status, 400, 'PUT that removes the value is refused too');
    });

    test('metadata export carries the rule and import keeps it', async () => {
      const exported = await iol.call('GET', '/metadata');
      const channel = exported.body[0].Channels.find((c: { name: string }) => c.name === 'xml-only');
      assert.equal(channel.matchContentXpath, 'string(/function/@uuid)');
      const imported = await iol.call('POST', '/metadata', { Channels: [{ ...channel, _id: undefined, name: 'xml-imported', urlPattern: '^/xml2$', routes: [route()] }] });
      assert.equal(imported.status, 201);
      assert.equal(imported.body[0].status, 'Inserted', JSON.stringify(imported.body));
      const stored = (await iol.call('GET', '/channels')).body.find((c: { name: string }) => c.name === 'xml-imported');
      assert.equal(stored.matchContentValue, 'da3');
      assert.equal((await send('/xml2', '<function uuid="other"/>', 'application/xml')).status, 404);
      assert.equal((await send('/xml2', '<function uuid="da3"/>', 'application/xml')).status, 200);
    });
  });
}
