/**
 * PMIR ITI-94 Subscribe to Patient Updates (and R4 rest-hook Subscriptions on Patients), on both
 * drivers: a subscription is checked and accepted (requested -> active); each matching Patient
 * change reaches the subscriber as PMIR's ITI-93 feed message (channel message) or a rest-hook
 * POST with the Patient; a subscriber that cannot be reached is set to error with why.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { testDrivers } from '../support/databases.js';
import { eventually } from '../interop-layer/support.js';
import { patient, startRegistry, type RegistryUnderTest } from './support.js';

interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

for (const driver of testDrivers) {
  describe(`client registry: PMIR ITI-94 subscriptions on ${driver}`, () => {
    let cr: RegistryUnderTest;
    let subscriber: http.Server;
    let endpoint = '';
    const received: Received[] = [];
    const at = (path: string) => received.filter((r) => r.path === path);

    before(async () => {
      subscriber = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          received.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
          res.writeHead(req.url === '/broken' ? 500 : 200).end();
        });
      });
      await new Promise<void>((resolve) => subscriber.listen(0, '127.0.0.1', resolve));
      endpoint = `http://127.0.0.1:${(subscriber.address() as AddressInfo).port}`;
      cr = await startRegistry(driver, { CLIENT_REGISTRY_SUBSCRIPTION_POLL_MS: '100', CLIENT_REGISTRY_SUBSCRIPTION_ENDPOINTS: `${endpoint}/` });
    });
    after(async () => {
      await cr?.close();
      subscriber?.close();
    });

    const subscription = (extra: Record<string, unknown>) => ({
      resourceType: 'Subscription', status: 'requested', reason: 'PMIR', criteria: 'Patient',
      channel: { type: 'message', endpoint: `${endpoint}/pmir`, payload: 'application/fhir+json' }, ...extra,
    });

    test('a subscription is checked and accepted: requested becomes active; one the registry cannot serve is 422', async () => {
      const created = await cr.request('POST', 'Subscription', subscription({}));
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(created.body.status, 'active');
      for (const [bad, why] of [
        [{ criteria: 'Observation?code=x' }, /criteria must be Patient/],
        [{ criteria: 'Patient?no-such-parameter=1' }, /not a Patient search/],
        [{ channel: { type: 'email', endpoint: 'mailto:a@b.org' } }, /channel.type/],
        [{ channel: { type: 'rest-hook', endpoint: 'file:///etc/passwd' } }, /http\(s\) URL/],
        [{ channel: { type: 'rest-hook', endpoint: `${endpoint}/x`, header: ['Bad Header\r\nX: y'] } }, /header/],
      ] as const) {
        const refused = await cr.request('POST', 'Subscription', subscription(bad));
        assert.equal(refused.status, 422, `${JSON.stringify(bad)}: ${JSON.stringify(refused.body)}`);
        assert.match(JSON.stringify(refused.body), why);
      }
    });

    test('a Patient registered reaches the subscriber as an ITI-93 feed message; a rest-hook with its criteria gets the Patient', async () => {
      const hook = await cr.request('POST', 'Subscription', subscription({ criteria: 'Patient?family=Zulu', channel: { type: 'rest-hook', endpoint: `${endpoint}/hook`, payload: 'application/fhir+json', header: ['Authorization: Bearer sub-token'] } }));
      assert.equal(hook.status, 201, JSON.stringify(hook.body));
      const made = await cr.request('POST', 'Patient', patient({ ids: [['urn:test:sub-clinic', 'S-1']], family: 'Zulu', given: 'Thandi', birthDate: '1990-01-01' }));
      assert.equal(made.status, 201);
      const message = await eventually(async () => at('/pmir').map((r) => JSON.parse(r.body)).find((b) => b.entry?.[1]?.resource?.entry?.[0]?.fullUrl?.endsWith(`/Patient/${made.body.id}`)), 'the feed message');
      assert.equal(message.type, 'message');
      const header = message.entry[0].resource;
      assert.equal(header.resourceType, 'MessageHeader');
      assert.equal(header.eventUri, 'urn:ihe:iti:pmir:2019:patient-feed');
      assert.equal(header.focus[0].reference, message.entry[1].fullUrl);
      const history = message.entry[1].resource;
      assert.equal(history.type, 'history');
      assert.equal(history.entry[0].request.method, 'POST');
      assert.equal(history.entry[0].resource.name[0].family, 'Zulu');
      // (The golden record the registry links it to is a Patient of that family too, and is sent as well.)
      const hooked = await eventually(async () => at('/hook').find((r) => JSON.parse(r.body).id === made.body.id), 'the rest-hook');
      assert.equal(hooked.headers.authorization, 'Bearer sub-token');
      assert.equal(hooked.headers['content-type'], 'application/fhir+json');
      assert.equal(JSON.parse(hooked.body).id, made.body.id);
      // A Patient the criteria do not match is not sent to that hook.
      const other = await cr.request('POST', 'Patient', patient({ ids: [['urn:test:sub-clinic', 'S-2']], family: 'Banda', given: 'Ama', birthDate: '1991-01-01' }));
      await eventually(async () => at('/pmir').some((r) => r.body.includes(other.body.id)), 'the second feed message');
      await new Promise((resolve) => setTimeout(resolve, 400));
      assert.equal(at('/hook').filter((r) => JSON.parse(r.body).id === other.body.id).length, 0);
      // An update is a PUT in the feed.
      const updated = await cr.request('PUT', `Patient/${made.body.id}`, { ...made.body, gender: 'male' });
      assert.equal(updated.status, 200);
      await eventually(async () => at('/pmir').map((r) => JSON.parse(r.body)).some((b) => b.entry[1].resource.entry[0].request.method === 'PUT' && b.entry[1].resource.entry[0].request.url === `Patient/${made.body.id}`), 'the update in the feed');
    });

    test('a subscriber that fails is set to error with why, and sent nothing more', async () => {
      const broken = await cr.request('POST', 'Subscription', subscription({ channel: { type: 'message', endpoint: `${endpoint}/broken` } }));
      assert.equal(broken.status, 201);
      await cr.request('POST', 'Patient', patient({ ids: [['urn:test:sub-clinic', 'S-3']], family: 'Phiri', given: 'Kofi', birthDate: '1992-01-01' }));
      const errored = await eventually(async () => {
        const read = (await cr.request('GET', `Subscription/${broken.body.id}`)).body;
        return read.status === 'error' && read;
      }, 'the subscription in error');
      assert.match(errored.error, /HTTP 500/);
      const count = at('/broken').length;
      await cr.request('POST', 'Patient', patient({ ids: [['urn:test:sub-clinic', 'S-4']], family: 'Phiri', given: 'Esi', birthDate: '1993-01-01' }));
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(at('/broken').length, count, 'nothing more while in error');
    });
  });
}

describe('client registry: subscription endpoints limited by CLIENT_REGISTRY_SUBSCRIPTION_ENDPOINTS', () => {
  let cr: RegistryUnderTest;
  before(async () => {
    cr = await startRegistry('pglite', { CLIENT_REGISTRY_SUBSCRIPTION_ENDPOINTS: 'https://subscribers.moh.example/, http://127.0.0.1:9/pmir' });
  });
  after(async () => {
    await cr?.close();
  });

  test('only endpoints under the prefixes given are taken: the registry posts nowhere else in its network', async () => {
    const at = (endpoint: string) => cr.request('POST', 'Subscription', { resourceType: 'Subscription', status: 'requested', reason: 'PMIR', criteria: 'Patient', channel: { type: 'message', endpoint } });
    assert.equal((await at('https://subscribers.moh.example/emr-1/fhir/$process-message')).status, 201);
    assert.equal((await at('http://127.0.0.1:9/pmir')).status, 201);
    for (const elsewhere of ['http://169.254.169.254/latest/meta-data', 'https://subscribers.moh.example.evil.org/', 'http://127.0.0.1:5432/']) {
      const refused = await at(elsewhere);
      assert.equal(refused.status, 422, elsewhere);
      assert.match(JSON.stringify(refused.body), /CLIENT_REGISTRY_SUBSCRIPTION_ENDPOINTS/);
    }
  });
});
