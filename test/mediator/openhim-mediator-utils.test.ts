/**
 * Real OpenHIM clients against our admin API: openhim-mediator-utils 0.4.0 (Basic) and 0.2.4
 * (legacy token headers after GET /authenticate/:username), exactly as published on npm.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { testDrivers } from '../support/databases.js';
import { startIol, startUpstream, type Iol, type Upstream } from '../interop-layer/support.js';

type Callback<T = unknown> = (error: Error | null | undefined, value?: T) => void;
interface Options { apiURL: string; username: string; password: string; urn: string; trustSelfSigned: boolean }
interface Utils {
  registerMediator(options: Options, config: unknown, callback: Callback): void;
  fetchConfig(options: Options, callback: Callback<Record<string, unknown>>): void;
  activateHeartbeat(options: Options, interval?: number): NodeJS.EventEmitter;
  deactivateHeartbeat(): void;
}

const require = createRequire(import.meta.url);
const clients: Array<[string, Utils]> = [
  ['0.4.0 (Basic)', require('openhim-mediator-utils') as Utils],
  ['0.2.4 (token headers)', require('openhim-mediator-utils-legacy') as Utils],
];

const promisify = <T>(fn: (cb: Callback<T>) => void) =>
  new Promise<T | undefined>((resolve, reject) => fn((error, value) => (error ? reject(error) : resolve(value))));

function registration(urn: string, version: string, upstreamPort: number) {
  return {
    urn,
    version,
    name: 'Test mediator',
    description: 'A mediator',
    defaultChannelConfig: [
      {
        name: `channel for ${urn}`,
        urlPattern: `^/${urn.split(':').at(-1)}$`,
        routes: [{ name: 'Test Endpoint', host: '127.0.0.1', port: String(upstreamPort), primary: true, type: 'http' }],
        allow: ['instant'],
        methods: ['POST'],
        type: 'http',
      },
    ],
    endpoints: [{ name: 'test Endpoint', host: '127.0.0.1', path: '/fhir', port: String(upstreamPort), primary: true, type: 'http' }],
    configDefs: [
      { param: 'upstreamUrl', displayName: 'Upstream URL', type: 'string' },
      { param: 'retries', type: 'number' },
      { param: 'apiKey', type: 'password' },
      { param: 'mode', type: 'option', values: ['fast', 'safe'] },
    ],
    config: { upstreamUrl: 'http://example.org', retries: 1, apiKey: 'initial-key', mode: 'fast' },
  };
}

for (const driver of testDrivers) {
  describe(`openhim-mediator-utils against the interop layer on ${driver}`, () => {
    let iol: Iol;
    let up: Upstream;
    before(async () => {
      up = await startUpstream();
      iol = await startIol(driver);
    });
    after(async () => {
      await iol?.stop();
      await up?.close();
    });

    for (const [label, utils] of clients) {
      test(`${label}: register, fetch config, heartbeat delivers changed config, re-register keeps config`, async () => {
        const name = label.startsWith('0.4') ? 'utils-new' : 'utils-legacy';
        const urn = `urn:mediator:${name}`;
        const options: Options = { apiURL: iol.api, username: iol.rootEmail, password: iol.rootPassword, urn, trustSelfSigned: true };
        await promisify((cb) => utils.registerMediator(options, registration(urn, '1.0.0', up.port), cb));
        const stored = await iol.call('GET', `/mediators/${urn}`);
        assert.equal(stored.status, 200);
        assert.equal(stored.body.version, '1.0.0');
        assert.equal(stored.body.config.apiKey, '**********', 'password config is masked');

        const config = await promisify<Record<string, unknown>>((cb) => utils.fetchConfig(options, cb));
        assert.deepEqual(config, { upstreamUrl: 'http://example.org', retries: 1, apiKey: 'initial-key', mode: 'fast' });

        // The console changes the config: the next heartbeat delivers it.
        const put = await iol.call('PUT', `/mediators/${urn}/config`, { upstreamUrl: 'http://changed.example.org', retries: 3, apiKey: '**********', mode: 'safe' });
        assert.equal(put.status, 200);
        assert.equal((await iol.call('PUT', `/mediators/${urn}/config`, { retries: 'three' })).status, 400);
        assert.equal((await iol.call('PUT', `/mediators/${urn}/config`, { mode: 'reckless' })).status, 400);
        assert.equal((await iol.call('PUT', `/mediators/${urn}/config`, { unknown: 1 })).status, 400);
        const emitter = utils.activateHeartbeat(options, 100);
        const delivered = await new Promise<Record<string, unknown>>((resolve, reject) => {
          emitter.once('config', resolve);
          emitter.once('error', reject);
        });
        utils.deactivateHeartbeat();
        emitter.removeAllListeners();
        assert.equal(delivered.upstreamUrl, 'http://changed.example.org');
        assert.equal(delivered.apiKey, 'initial-key', 'a masked password keeps its stored value');
        const heartbeat = (await (await fetch(`${iol.api}/heartbeat`)).json()) as { mediators: Record<string, number | null> };
        assert.equal(typeof heartbeat.mediators[urn], 'number', 'the mediator is up after beating');

        // Same version again: no change. Greater version: updated, config values kept.
        await promisify((cb) => utils.registerMediator(options, { ...registration(urn, '1.0.0', up.port), name: 'ignored' }, cb));
        assert.equal((await iol.call('GET', `/mediators/${urn}`)).body.name, 'Test mediator');
        await promisify((cb) => utils.registerMediator(options, { ...registration(urn, '1.1.0', up.port), name: 'Newer' }, cb));
        const newer = (await iol.call('GET', `/mediators/${urn}`)).body;
        assert.equal(newer.version, '1.1.0');
        assert.equal(newer.name, 'Newer');
        assert.equal(newer.config.upstreamUrl, 'http://changed.example.org');

        const install = await iol.call('POST', `/mediators/${urn}/channels`, []);
        assert.equal(install.status, 201);
        assert.ok((await iol.call('GET', '/channels')).body.some((c: { name: string }) => c.name === `channel for ${urn}`));
        assert.equal((await iol.call('POST', `/mediators/${urn}/channels`, [])).status, 201, 'installing again is harmless');
      });
    }

    test('registration errors: bad configDefs 400, wrong credentials fail, unknown urn heartbeat 404', async () => {
      const [, utils] = clients[0]!;
      const options: Options = { apiURL: iol.api, username: iol.rootEmail, password: iol.rootPassword, urn: 'urn:mediator:bad', trustSelfSigned: true };
      await assert.rejects(promisify((cb) => utils.registerMediator(options, { ...registration('urn:mediator:bad', '1.0.0', up.port), configDefs: [{ test: 'test' }] }, cb)), /400/);
      await assert.rejects(promisify((cb) => utils.registerMediator({ ...options, password: 'wrong-password' }, registration('urn:mediator:bad', '1.0.0', up.port), cb)), /401/);
      await assert.rejects(promisify((cb) => utils.fetchConfig({ ...options, urn: 'urn:mediator:nobody' }, cb)), /404/);
      const [, legacy] = clients[1]!;
      await assert.rejects(promisify((cb) => legacy.registerMediator({ ...options, password: 'wrong-password' }, registration('urn:mediator:bad', '1.0.0', up.port), cb)), /non-201/);
    });
  });
}

describe('openhim-mediator-utils 0.4.0 against the admin API over HTTPS (self-signed, trustSelfSigned)', () => {
  let iol: Iol;
  let up: Upstream;
  before(async () => {
    up = await startUpstream();
    iol = await startIol(testDrivers[0]!, { OPENHIM_API_TLS: 'true' });
  });
  after(async () => {
    await iol?.stop();
    await up?.close();
  });

  test('registers and fetches config over https', async () => {
    assert.match(iol.api, /^https:/);
    const [, utils] = clients[0]!;
    const urn = 'urn:mediator:over-tls';
    const options: Options = { apiURL: iol.api, username: iol.rootEmail, password: iol.rootPassword, urn, trustSelfSigned: true };
    await promisify((cb) => utils.registerMediator(options, registration(urn, '1.0.0', up.port), cb));
    const config = await promisify<Record<string, unknown>>((cb) => utils.fetchConfig(options, cb));
    assert.equal(config?.mode, 'fast');
    await assert.rejects(promisify((cb) => utils.fetchConfig({ ...options, trustSelfSigned: false }, cb)), /self[- ]signed|certificate/i);
  });
});
