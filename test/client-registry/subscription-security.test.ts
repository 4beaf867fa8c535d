/**
 * Subscriptions under attack, on both drivers (a reviewer's findings, each reproduced first):
 * - a client reads, changes or deletes only its own Subscriptions (and RelatedPersons), and the
 *   secrets in channel.header never come back in an answer;
 * - the registry posts nowhere near itself by default: loopback, link-local, private and
 *   unspecified addresses, and URLs with credentials, are refused unless the operator lists them;
 *   a listed prefix matches its own origin only;
 * - a delivery that comes back to the registry (a subscription on its own address) is refused,
 *   so the registry cannot feed itself without end;
 * - a slow subscriber delays nobody else, and never keeps the registry from stopping;
 * - one client cannot take every subscription slot, not even with a burst of creations at once;
 * - the feed's links come from the configured addresses, never from a writer's Host header.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { senderIdentityHeaders } from '../../src/common/sender-identity.js';
import { isPublicAddress } from '../../src/services/client-registry/subscription-destinations.js';
import { testDrivers } from '../support/databases.js';
import { freePort } from '../support/cli.js';
import { eventually } from '../interop-layer/support.js';
import { patient, requestJson, startRegistry, type RegistryUnderTest } from './support.js';

const SECRET = 'test-sender-identity-secret-subscriptions-0123';

/** The router's signed assertion for a request as it will be sent. */
const vouch = (client: string, method: string, url: string, body?: unknown, roles: string[] = []) => {
  const u = new URL(url);
  return senderIdentityHeaders(SECRET, client, method, u.pathname + u.search, body === undefined ? undefined : Buffer.from(JSON.stringify(body)), Date.now(), roles);
};

interface Received { path: string; headers: http.IncomingHttpHeaders; body: string }

async function listen(handler: http.RequestListener): Promise<{ server: http.Server; url: string }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

const subscription = (endpoint: string, extra: Record<string, unknown> = {}) => ({
  resourceType: 'Subscription', status: 'requested', reason: 'PMIR', criteria: 'Patient', channel: { type: 'message', endpoint }, ...extra,
});

test('a public address is one the registry may post to by default; loopback, private, link-local and unspecified are not', () => {
  for (const address of ['8.8.8.8', '2001:4860:4860::8888', '196.12.1.1']) assert.equal(isPublicAddress(address), true, address);
  for (const address of ['127.0.0.1', '127.1.2.3', '10.0.0.1', '172.16.5.4', '192.168.1.1', '169.254.169.254', '0.0.0.0', '100.64.0.1',
    '::1', '::', 'fe80::1', 'fc00::1', 'fd12::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1', '224.0.0.1', 'not-an-address',
    // IPv6 forms that carry an IPv4 address a gateway may reach: IPv4-compatible, NAT64, 6to4, Teredo.
    '::127.0.0.1', '::7f00:1', '64:ff9b::7f00:1', '64:ff9b:1::a00:1', '2002:7f00:1::1', '2001:0:4136:e378:8000:63bf:3fff:fdd2', 'fec0::1']) {
    assert.equal(isPublicAddress(address), false, address);
  }
});

for (const driver of testDrivers) {
  describe(`client registry: subscriptions under attack on ${driver}`, () => {
    let cr: RegistryUnderTest;
    let subscriber: { server: http.Server; url: string };
    const received: Received[] = [];
    const as = (client: string | undefined, method: string, path: string, body?: unknown, extra: Record<string, string> = {}) =>
      requestJson(`${cr.base}/${path}`, method, body, { ...(client ? vouch(client, method, `${cr.base}/${path}`, body) : {}), ...extra });

    before(async () => {
      subscriber = await listen((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          received.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
          res.writeHead(200).end();
        });
      });
      cr = await startRegistry(driver, {
        OPENHIM_SENDER_IDENTITY_SECRET: SECRET, CLIENT_REGISTRY_SUBSCRIPTION_POLL_MS: '100',
        CLIENT_REGISTRY_SUBSCRIPTION_ENDPOINTS: `${subscriber.url}/`, CLIENT_REGISTRY_MAX_SUBSCRIPTIONS_PER_CLIENT: '3',
        OPENHIM_ROUTER_PUBLIC_HOST: 'him.moh.example',
      });
    });
    after(async () => {
      await cr?.close();
      subscriber?.server.close();
    });

    test("another client neither reads, finds, changes nor deletes a client's Subscription; its header secrets never come back", async () => {
      const made = await as('clinic-a', 'POST', 'Subscription', subscription(`${subscriber.url}/a`, { channel: { type: 'rest-hook', endpoint: `${subscriber.url}/a`, header: ['Authorization: Bearer a-secret-token'] } }));
      assert.equal(made.status, 201, JSON.stringify(made.body));
      assert.doesNotMatch(JSON.stringify(made.body), /a-secret-token/, 'not in the create answer');
      const id = made.body.id as string;

      const read = await as('clinic-b', 'GET', `Subscription/${id}`);
      assert.equal(read.status, 404, JSON.stringify(read.body));
      assert.equal(read.body.resourceType, 'OperationOutcome');
      assert.equal((await as('clinic-b', 'GET', `Subscription/${id}/_history/1`)).status, 404);
      const found = await as('clinic-b', 'GET', 'Subscription');
      assert.equal(found.status, 200);
      assert.equal((found.body.entry ?? []).length, 0, JSON.stringify(found.body));
      const everywhere = await as('clinic-b', 'GET', '?_type=Subscription');
      assert.doesNotMatch(JSON.stringify(everywhere.body), new RegExp(id));
      const history = await as('clinic-b', 'GET', 'Subscription/_history');
      assert.doesNotMatch(JSON.stringify(history.body), /a-secret-token/);
      assert.doesNotMatch(JSON.stringify(history.body), new RegExp(`"id":"${id}"`));
      const anonymous = await as(undefined, 'GET', `Subscription/${id}`);
      assert.equal(anonymous.status, 404, 'a caller the router did not vouch for sees no client\'s subscriptions');
      const anonymousSearch = await as(undefined, 'GET', 'Subscription');
      assert.equal(anonymousSearch.status, 200, JSON.stringify(anonymousSearch.body));
      assert.equal((anonymousSearch.body.entry ?? []).length, 0);

      const changed = await as('clinic-b', 'PUT', `Subscription/${id}`, { ...made.body, channel: { type: 'rest-hook', endpoint: `${subscriber.url}/stolen` } });
      assert.equal(changed.status, 403, JSON.stringify(changed.body));
      assert.equal((await as('clinic-b', 'DELETE', `Subscription/${id}`)).status, 403);

      // The owner reads it, with the header's value masked, and may send it back as read: the secret is kept.
      const own = await as('clinic-a', 'GET', `Subscription/${id}`);
      assert.equal(own.status, 200);
      assert.deepEqual(own.body.channel.header, ['Authorization: ***']);
      const listed = await as('clinic-a', 'GET', 'Subscription');
      assert.equal(listed.body.entry.length, 1);
      assert.doesNotMatch(JSON.stringify(listed.body), /a-secret-token/);
      const kept = await as('clinic-a', 'PUT', `Subscription/${id}`, { ...own.body, criteria: 'Patient?family=Owned' });
      assert.equal(kept.status, 200, JSON.stringify(kept.body));
      const person = patient({ ids: [['urn:test:sec-clinic', 'SEC-1']], family: 'Owned', given: 'Ama', birthDate: '1990-02-02' });
      assert.equal((await as('clinic-a', 'POST', 'Patient', person)).status, 201);
      const hooked = await eventually(async () => received.find((r) => r.path === '/a'), 'the rest-hook');
      assert.equal(hooked.headers.authorization, 'Bearer a-secret-token');
      assert.equal((await as('clinic-a', 'DELETE', `Subscription/${id}`)).status, 204);
    });

    test("histories tell another client nothing of a client's Subscriptions: no count, and its instance history is 404 as its read", async () => {
      const made = await as('clinic-a', 'POST', 'Subscription', subscription(`${subscriber.url}/h`, { channel: { type: 'rest-hook', endpoint: `${subscriber.url}/h`, header: ['Authorization: Bearer h-secret'] } }));
      assert.equal(made.status, 201, JSON.stringify(made.body));
      const id = made.body.id as string;
      const instance = await as('clinic-b', 'GET', `Subscription/${id}/_history`);
      assert.equal(instance.status, 404, JSON.stringify(instance.body));
      assert.equal(instance.body.resourceType, 'OperationOutcome');
      for (const path of ['Subscription/_history', '_history']) {
        const history = await as('clinic-b', 'GET', path);
        assert.equal(history.status, 200, JSON.stringify(history.body));
        const visible = (history.body.entry ?? []).length;
        assert.ok(history.body.total === undefined || history.body.total === visible, `${path}: total ${history.body.total} counts entries clinic-b does not see (${visible})`);
        assert.doesNotMatch(JSON.stringify(history.body), new RegExp(id));
      }
      // The owner still has its instance history, total included.
      const own = await as('clinic-a', 'GET', `Subscription/${id}/_history`);
      assert.equal(own.status, 200, JSON.stringify(own.body));
      assert.equal(own.body.total, 1);
      assert.equal((await as('clinic-a', 'DELETE', `Subscription/${id}`)).status, 204);
    });

    test("another client neither changes nor deletes a client's RelatedPerson", async () => {
      const owner = await as('clinic-a', 'POST', 'Patient', patient({ ids: [['urn:test:sec-clinic', 'SEC-RP']], family: 'Kin', given: 'Esi', birthDate: '1980-01-01' }));
      assert.equal(owner.status, 201);
      const related = { resourceType: 'RelatedPerson', patient: { reference: `Patient/${owner.body.id}` }, name: [{ family: 'Kin', given: ['Kofi'] }] };
      const made = await as('clinic-a', 'POST', 'RelatedPerson', related);
      assert.equal(made.status, 201, JSON.stringify(made.body));
      const rewritten = await as('clinic-b', 'PUT', `RelatedPerson/${made.body.id}`, { ...made.body, name: [{ family: 'Impostor' }] });
      assert.equal(rewritten.status, 403, JSON.stringify(rewritten.body));
      assert.equal((await as('clinic-b', 'DELETE', `RelatedPerson/${made.body.id}`)).status, 403);
      assert.equal((await as('clinic-a', 'PUT', `RelatedPerson/${made.body.id}`, { ...made.body, name: [{ family: 'Kin', given: ['Kwame'] }] })).status, 200);
    });

    test('by default the registry posts to no address of its own network; credentials in the URL are refused', async () => {
      const open = await startRegistry(driver, {});
      try {
        for (const endpoint of ['http://127.0.0.1:5432/', 'http://localhost:8080/channels', 'http://[::1]:3448/', 'http://169.254.169.254/latest/meta-data',
          'http://10.0.0.8/', 'http://192.168.1.20:5001/', 'http://0.0.0.0:3448/', 'http://2130706433/', 'http://0x7f.1/']) {
          const refused = await open.request('POST', 'Subscription', subscription(endpoint));
          assert.equal(refused.status, 422, `${endpoint}: ${JSON.stringify(refused.body)}`);
          assert.match(JSON.stringify(refused.body), /CLIENT_REGISTRY_SUBSCRIPTION_ENDPOINTS/);
        }
        const withPassword = await open.request('POST', 'Subscription', subscription('https://user:pa55word@emr.example.org/feed'));
        assert.equal(withPassword.status, 422);
        assert.match(JSON.stringify(withPassword.body), /channel.header/);
        assert.doesNotMatch(JSON.stringify(withPassword.body), /pa55word/);
        assert.equal((await open.request('POST', 'Subscription', subscription('https://emr.example.org/feed'))).status, 201, 'a public name is taken (checked again when sent)');
        const own = await open.request('GET', 'Subscription');
        assert.equal(own.body.total ?? own.body.entry?.length, 1, 'a caller without a sender sees the subscriptions made so');
      } finally {
        await open.close();
      }
    });

    test('a listed prefix matches its own origin only, on a path boundary', async () => {
      const listed = await startRegistry(driver, { CLIENT_REGISTRY_SUBSCRIPTION_ENDPOINTS: 'http://127.0.0.1:9, https://emr.example.org/feeds' });
      try {
        const at = (endpoint: string) => listed.request('POST', 'Subscription', subscription(endpoint));
        for (const ok of ['http://127.0.0.1:9/pmir', 'https://emr.example.org/feeds', 'https://emr.example.org/feeds/a', 'https://EMR.example.org:443/feeds/b']) {
          assert.equal((await at(ok)).status, 201, ok);
        }
        for (const no of ['http://127.0.0.1:90/', 'http://127.0.0.1:9@evil.example/', 'https://emr.example.org/feedsx', 'https://emr.example.org.evil.example/feeds', 'http://emr.example.org/feeds', 'https://emr.example.org/feeds/../admin']) {
          assert.equal((await at(no)).status, 422, no);
        }
      } finally {
        await listed.close();
      }
    });

    test('one client may hold only so many subscriptions (CLIENT_REGISTRY_MAX_SUBSCRIPTIONS_PER_CLIENT)', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const made = await as('clinic-c', 'POST', 'Subscription', subscription(`${subscriber.url}/c${i}`));
        assert.equal(made.status, 201, JSON.stringify(made.body));
        ids.push(made.body.id);
      }
      const fourth = await as('clinic-c', 'POST', 'Subscription', subscription(`${subscriber.url}/c3`));
      assert.equal(fourth.status, 422, JSON.stringify(fourth.body));
      assert.match(fourth.body.issue[0].diagnostics, /CLIENT_REGISTRY_MAX_SUBSCRIPTIONS_PER_CLIENT/);
      assert.equal((await as('clinic-d', 'POST', 'Subscription', subscription(`${subscriber.url}/d`))).status, 201, 'another client is not held back');
      for (const id of ids) assert.equal((await as('clinic-c', 'DELETE', `Subscription/${id}`)).status, 204);
      assert.equal((await as('clinic-c', 'POST', 'Subscription', subscription(`${subscriber.url}/c4`))).status, 201, 'a deleted one frees its slot');
    });

    test('a burst of creations at once holds the cap too (on PostgreSQL 19 of 100 passed a cap of 3)', async () => {
      const burst = await Promise.all(Array.from({ length: 40 }, (_, i) => as('clinic-burst', 'POST', 'Subscription', subscription(`${subscriber.url}/burst${i}`))));
      assert.deepEqual(burst.map((r) => r.status).filter((s) => s !== 201 && s !== 422), [], 'each is made or refused');
      assert.equal(burst.filter((r) => r.status === 201).length, 3);
      const held = await as('clinic-burst', 'GET', 'Subscription?_summary=count');
      assert.equal(held.body.total, 3);
    });

    test("the feed's links use the configured address, whatever Host the writer sent", async () => {
      const made = await as('clinic-e', 'POST', 'Subscription', subscription(`${subscriber.url}/links`, { criteria: 'Patient?family=Hosted' }));
      assert.equal(made.status, 201);
      const body = patient({ ids: [['urn:test:sec-clinic', 'SEC-HOST']], family: 'Hosted', given: 'Ama', birthDate: '1970-07-07' });
      const written = await requestJson(`${cr.base}/Patient`, 'POST', body, { ...vouch('clinic-e', 'POST', `${cr.base}/Patient`, body), 'x-forwarded-host': 'evil.example' });
      assert.equal(written.status, 201);
      const message = await eventually(async () => received.filter((r) => r.path === '/links').map((r) => JSON.parse(r.body)).find((m) => m.entry[1].resource.entry[0].resource?.id === written.body.id), 'the feed message');
      const fullUrl = message.entry[1].resource.entry[0].fullUrl as string;
      assert.doesNotMatch(fullUrl, /evil\.example/);
      assert.doesNotMatch(JSON.stringify(message.entry[0].resource.source), /evil\.example/);
    });
  });

  describe(`client registry: deliveries that loop or crawl on ${driver}`, () => {
    test('a subscription on the registry itself does not feed it without end: the delivery is refused', async () => {
      const port = await freePort();
      const cr = await startRegistry(driver, { CLIENT_REGISTRY_PORT: String(port), CLIENT_REGISTRY_SUBSCRIPTION_POLL_MS: '100', CLIENT_REGISTRY_SUBSCRIPTION_ENDPOINTS: `http://127.0.0.1:${port}/` });
      try {
        const made = await cr.request('POST', 'Subscription', subscription(`${cr.base}/Patient`, { channel: { type: 'rest-hook', endpoint: `${cr.base}/Patient`, payload: 'application/fhir+json' } }));
        assert.equal(made.status, 201, JSON.stringify(made.body));
        assert.equal((await cr.request('POST', 'Patient', patient({ ids: [['urn:test:loop', 'L-1']], family: 'Loop', given: 'Ama', birthDate: '1990-01-01' }))).status, 201);
        const errored = await eventually(async () => {
          const read = (await cr.request('GET', `Subscription/${made.body.id}`)).body;
          return read.status === 'error' && read;
        }, 'the looping subscription in error');
        assert.match(errored.error, /HTTP 508/);
        await new Promise((resolve) => setTimeout(resolve, 500));
        const sources = await cr.request('GET', 'Patient?family=Loop&_summary=count');
        assert.ok(sources.body.total <= 2, `the registry fed itself: ${sources.body.total} Loop patients (a source and its golden record expected)`);
      } finally {
        await cr.close();
      }
    });

    test('a subscriber that drips its answer delays no other subscriber, and the registry still stops at once', async () => {
      const sockets = new Set<net.Socket>();
      const slow = await listen((req, res) => {
        sockets.add(req.socket);
        req.resume();
        req.on('end', () => {
          // Headers at once, then a byte every second, never ending.
          res.writeHead(200, { 'content-type': 'text/plain' });
          const drip = setInterval(() => res.write('.'), 1000);
          res.on('close', () => clearInterval(drip));
        });
      });
      const fastReceived: string[] = [];
      const fast = await listen((req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => (body += c));
        req.on('end', () => {
          fastReceived.push(body);
          res.writeHead(200).end();
        });
      });
      const cr = await startRegistry(driver, { CLIENT_REGISTRY_SUBSCRIPTION_POLL_MS: '100', CLIENT_REGISTRY_SUBSCRIPTION_ENDPOINTS: `${slow.url}/,${fast.url}/` });
      let closed = false;
      try {
        // The slow one first: it is tried first for every change.
        assert.equal((await cr.request('POST', 'Subscription', subscription(`${slow.url}/slow`))).status, 201);
        assert.equal((await cr.request('POST', 'Subscription', subscription(`${fast.url}/fast`))).status, 201);
        const started = Date.now();
        const made = await cr.request('POST', 'Patient', patient({ ids: [['urn:test:slow', 'SL-1']], family: 'Drip', given: 'Ama', birthDate: '1990-01-01' }));
        assert.equal(made.status, 201);
        // (The slow one holds its delivery for 10 s before it is given up: the fast one must not wait for that.)
        await eventually(async () => fastReceived.some((b) => b.includes(made.body.id)), 'the fast subscriber told', 160);
        assert.ok(Date.now() - started < 8000, `the fast subscriber waited ${Date.now() - started} ms behind the slow one`);
        const stopping = Date.now();
        await cr.close();
        closed = true;
        assert.ok(Date.now() - stopping < 8000, `stopping took ${Date.now() - stopping} ms while a delivery dripped`);
      } finally {
        if (!closed) await cr.close();
        for (const socket of sockets) socket.destroy();
        slow.server.close();
        fast.server.close();
      }
    });
  });
}
