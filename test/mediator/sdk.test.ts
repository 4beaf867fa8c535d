/** Our mediator SDK: registration and config over both auth schemes, and a mediator routed through the router. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { testDrivers } from '../support/databases.js';
import { MediatorApiError, MediatorClient, MediatorResponseBuilder } from '@instant-openhie/mediator-sdk';
import { basic, eventually, startIol, startUpstream, type Iol, type Upstream } from '../interop-layer/support.js';

for (const driver of testDrivers) {
  describe(`mediator SDK on ${driver}`, () => {
    let iol: Iol;
    let up: Upstream;
    let mediatorServer: http.Server;
    let mediatorPort: number;
    const urn = 'urn:mediator:sdk-test';

    before(async () => {
      up = await startUpstream();
      iol = await startIol(driver);
      // A mediator that looks a patient up upstream, then answers with orchestrations.
      mediatorServer = http.createServer((req, res) => {
        void (async () => {
          const builder = new MediatorResponseBuilder(urn);
          const lookup = await builder.orchestrate('patient lookup', { path: '/cr/Patient', method: 'GET' }, async () => {
            const r = await fetch(`http://127.0.0.1:${up.port}/cr/Patient`);
            return { status: r.status, body: await r.text() };
          });
          builder.property('lookupStatus', lookup.status).property('clientID', req.headers['x-openhim-clientid']);
          const answer = builder.toHttp({ status: 200, body: { resourceType: 'Bundle', total: 1 } });
          res.writeHead(answer.status, answer.headers);
          res.end(answer.body);
        })();
      });
      await new Promise<void>((resolve) => mediatorServer.listen(0, '127.0.0.1', resolve));
      mediatorPort = (mediatorServer.address() as AddressInfo).port;
    });
    after(async () => {
      await new Promise<void>((resolve) => mediatorServer?.close(() => resolve()));
      await iol?.stop();
      await up?.close();
    });

    for (const auth of ['basic', 'token'] as const) {
      test(`register, config and heartbeat with ${auth} auth`, async () => {
        const client = new MediatorClient<{ greeting: string }>({ apiURL: iol.api, username: iol.rootEmail, password: iol.rootPassword, urn, auth });
        try {
          await client.register({
            urn,
            version: auth === 'basic' ? '1.0.0' : '1.0.1',
            name: 'SDK mediator',
            endpoints: [{ name: 'sdk', host: '127.0.0.1', port: mediatorPort, primary: true }],
            defaultChannelConfig: [
              { name: 'sdk channel', urlPattern: '^/sdk$', allow: ['sdk-users'], routes: [{ name: 'sdk', host: '127.0.0.1', port: mediatorPort, primary: true }] },
            ],
            configDefs: [{ param: 'greeting', type: 'string' }],
            config: { greeting: 'hello' },
          });
          // A re-registration (1.0.1) keeps the config set since.
          assert.deepEqual(await client.fetchConfig(), { greeting: auth === 'basic' ? 'hello' : 'changed-basic' });
          assert.equal(await client.heartbeat(), undefined, 'no config when nothing changed');
          assert.equal((await iol.call('PUT', `/mediators/${urn}/config`, { greeting: `changed-${auth}` })).status, 200);
          const delivered = await new Promise<{ greeting: string }>((resolve) => client.once('config', resolve).startHeartbeat(60_000));
          assert.equal(delivered.greeting, `changed-${auth}`);
        } finally {
          await client.close();
        }
      });
    }

    test('wrong credentials are a MediatorApiError with the status', async () => {
      const client = new MediatorClient({ apiURL: iol.api, username: iol.rootEmail, password: 'wrong-password', urn });
      await assert.rejects(client.fetchConfig(), (e: unknown) => e instanceof MediatorApiError && e.status === 401);
      await client.close();
    });

    test('the default channel routes to the mediator; its orchestrations and properties reach the log', async () => {
      const client = new MediatorClient({ apiURL: iol.api, username: iol.rootEmail, password: iol.rootPassword, urn });
      await client.installChannels(['sdk channel']);
      await client.close();
      assert.equal((await iol.call('POST', '/clients', { clientID: 'sdk-pos', name: 'PoS', roles: ['sdk-users'], password: 'sdk-pos-password' })).status, 201);
      const res = await fetch(`${iol.router}/sdk`, { headers: { authorization: basic('sdk-pos', 'sdk-pos-password') } });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { resourceType: 'Bundle', total: 1 });
      const logged = await eventually(async () => {
        const list = (await iol.call('GET', '/transactions?filterRepresentation=full&filterLimit=1')).body;
        return list[0]?.status === 'Successful' ? list[0] : undefined;
      }, 'the mediated transaction');
      assert.equal(logged.orchestrations[0].name, 'patient lookup');
      assert.equal(logged.orchestrations[0].response.status, 200);
      assert.deepEqual(logged.properties, { lookupStatus: 200, clientID: 'sdk-pos' });
    });

    test('the response builder derives the status and carries errors', () => {
      const failed = new MediatorResponseBuilder(urn).fail(new Error('boom')).build({ status: 502, body: 'bad gateway' });
      assert.equal(failed.status, 'Failed');
      assert.equal(failed.error?.message, 'boom');
      assert.equal(new MediatorResponseBuilder(urn).build({ status: 404 }).status, 'Completed');
      assert.equal(new MediatorResponseBuilder(urn).build({ status: 201, body: {} }).response.headers?.['content-type'], 'application/json');
    });
  });
}
