/**
 * Review finding (2026-12-01, repro 02-host-dependent-references): whether an absolute reference
 * was local depended on the Host header its writer sent through the router. An Observation whose
 * subject was `http://evil.example/fhir/Patient/<pid>`, written with `Host: evil.example`, was
 * found by `Observation?subject=Patient/<pid>` and returned in `Patient/<pid>/$everything`
 * (another server's data joined the patient's record); one naming the router's real address,
 * written with `Host: localhost:<port>`, was not. The local bases are now configuration
 * (src/services/fhir-local-bases.ts): the service's listener, the router's settings and
 * FHIR_DATASTORE_LOCAL_BASE_URLS; links in responses still follow the client's address.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../src/common/logger.js';
import { SettingsMap } from '../../src/platform/settings.js';
import type { RunningService } from '../../src/services/service.js';
import { sharedHealthRecordService } from '../../src/services/shared-health-record/index.js';
import { configuredLocalBases } from '../../src/services/fhir-local-bases.js';
import { testDrivers } from '../support/databases.js';
import { basic, startIol, type Iol } from '../interop-layer/support.js';

const EMR = basic('emr', 'emr-password-1');

/** A request through the router with the Host header the caller chooses. */
function viaRouter(router: string, method: string, path: string, host: string, body?: unknown): Promise<{ status: number; body: any; location?: string }> {
  const url = new URL(router);
  return new Promise((resolve, reject) => {
    const request = http.request({
      host: url.hostname, port: url.port, path, method,
      headers: { Host: host, Authorization: EMR, Accept: 'application/fhir+json', ...(body ? { 'Content-Type': 'application/fhir+json' } : {}) },
    }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text ? JSON.parse(text) : undefined, location: response.headers.location }));
    });
    request.on('error', reject);
    request.end(body ? JSON.stringify(body) : undefined);
  });
}

test('the local bases come from the settings alone: the router\'s addresses, the listed ones, loopback aliases', () => {
  const bases = configuredLocalBases(new SettingsMap({
    OPENHIM_ROUTER_HOST: '127.0.0.1', OPENHIM_ROUTER_HTTP_PORT: '25001', OPENHIM_ROUTER_HTTPS_PORT: '25000',
    OPENHIM_ROUTER_PUBLIC_HOST: 'him.example.org', FHIR_DATASTORE_LOCAL_BASE_URLS: 'https://fhir.moh.example/fhir/, http://shr:3447/fhir',
  }), { settingPrefix: 'FHIR_DATASTORE', fhirPrefix: '/fhir' });
  for (const base of ['http://him.example.org/fhir', 'https://him.example.org/fhir', 'http://127.0.0.1:25001/fhir', 'http://localhost:25001/fhir',
    'http://[::1]:25001/fhir', 'https://127.0.0.1:25000/fhir', 'https://fhir.moh.example/fhir', 'http://shr:3447/fhir']) assert.ok(bases.includes(base), `${base} in ${bases.join(' ')}`);
  assert.equal(bases.length, new Set(bases).size);
  assert.deepEqual(configuredLocalBases(new SettingsMap({ OPENHIM_ROUTER_HOST: '0.0.0.0' }), { settingPrefix: 'FHIR_DATASTORE', fhirPrefix: '/fhir' }), [],
    'a wildcard listener names no address');
  assert.throws(() => configuredLocalBases(new SettingsMap({ FHIR_DATASTORE_LOCAL_BASE_URLS: 'javascript:alert(1)' }), { settingPrefix: 'FHIR_DATASTORE', fhirPrefix: '/fhir' }),
    /FHIR_DATASTORE_LOCAL_BASE_URLS/);
});

for (const driver of testDrivers) {
  describe(`absolute references are local by configuration, not by the writer's Host (${driver})`, () => {
    let iol: Iol;
    let shr: RunningService;
    let stateDir: string;
    let router: string;
    let routerPort: string;
    before(async () => {
      iol = await startIol(driver);
      router = iol.router;
      routerPort = new URL(router).port;
      assert.equal((await iol.call('POST', '/clients', { clientID: 'emr', name: 'EMR', roles: [], password: 'emr-password-1' })).status, 201);
      stateDir = await mkdtemp(join(tmpdir(), 'instant-shr-'));
      // The shared health record as the platform configures it: it knows the router's address from the settings.
      const settings = new SettingsMap({ FHIR_DATASTORE_PORT: '0', OPENHIM_ROUTER_HOST: '127.0.0.1', OPENHIM_ROUTER_HTTP_PORT: routerPort, FHIR_DATASTORE_LOCAL_BASE_URLS: 'https://fhir.moh.example/fhir' });
      shr = await sharedHealthRecordService.start({ name: 'shared-health-record', db: iol.t.db, settings, logger: createLogger(), stateDir });
      const shrPort = Number(new URL(shr.endpoints.fhir!).port);
      const channel = await iol.call('POST', '/channels', { name: 'fhir', urlPattern: '^/fhir(/.*)?$', allow: ['emr'], routes: [{ name: 'shr', host: '127.0.0.1', port: shrPort, primary: true }] });
      assert.equal(channel.status, 201);
    });
    after(async () => {
      await shr?.stop();
      await iol?.stop();
      if (stateDir) await rm(stateDir, { recursive: true, force: true });
    });

    test('the reviewer\'s repro: evil.example stays foreign, the router\'s real address is local whatever Host wrote it', async () => {
      const patient = await viaRouter(router, 'POST', '/fhir/Patient', `127.0.0.1:${routerPort}`, { resourceType: 'Patient', name: [{ family: 'Host' }] });
      assert.equal(patient.status, 201, JSON.stringify(patient.body));
      const pid = patient.body.id as string;
      const tag = `h${Date.now()}`;
      const observation = (reference: string, host: string) =>
        viaRouter(router, 'POST', '/fhir/Observation', host, { resourceType: 'Observation', status: 'final', code: { text: tag }, subject: { reference } });
      const evil = await observation(`http://evil.example/fhir/Patient/${pid}`, 'evil.example');
      assert.equal(evil.status, 201);
      assert.match(evil.location ?? '', /^http:\/\/evil\.example\/fhir\/Observation\//, 'links still follow the address the client used');
      assert.equal((await observation(`http://127.0.0.1:${routerPort}/fhir/Patient/${pid}`, `localhost:${routerPort}`)).status, 201);
      assert.equal((await observation(`https://fhir.moh.example/fhir/Patient/${pid}`, 'evil.example')).status, 201);

      const everything = await viaRouter(router, 'GET', `/fhir/Patient/${pid}/$everything`, `127.0.0.1:${routerPort}`);
      assert.equal(everything.status, 200, JSON.stringify(everything.body));
      const inRecord = (everything.body.entry ?? []).filter((e: { resource: { code?: { text?: string } } }) => e.resource.code?.text === tag)
        .map((e: { resource: { subject: { reference: string } } }) => e.resource.subject.reference).sort();
      assert.deepEqual(inRecord, [`http://127.0.0.1:${routerPort}/fhir/Patient/${pid}`, `https://fhir.moh.example/fhir/Patient/${pid}`]);

      // Searches judge the same way, whatever Host asks.
      for (const host of ['evil.example', `127.0.0.1:${routerPort}`]) {
        const bySubject = await viaRouter(router, 'GET', `/fhir/Observation?code:text=${tag}&subject=Patient/${pid}`, host);
        assert.equal(bySubject.body.total, 2, `searched with Host ${host}`);
        const byEvilUrl = await viaRouter(router, 'GET', `/fhir/Observation?code:text=${tag}&subject=${encodeURIComponent(`http://evil.example/fhir/Patient/${pid}`)}`, host);
        assert.deepEqual((byEvilUrl.body.entry ?? []).map((e: { resource: { subject: { reference: string } } }) => e.resource.subject.reference), [`http://evil.example/fhir/Patient/${pid}`]);
      }
    });

    test('a transaction entry\'s absolute reference is judged the same way', async () => {
      const patient = await viaRouter(router, 'POST', '/fhir/Patient', 'evil.example', { resourceType: 'Patient', name: [{ family: 'HostTx' }] });
      const pid = patient.body.id as string;
      const tag = `t${Date.now()}`;
      const bundle = {
        resourceType: 'Bundle', type: 'transaction',
        entry: [`http://evil.example/fhir/Patient/${pid}`, `http://localhost:${routerPort}/fhir/Patient/${pid}`].map((reference) => ({
          resource: { resourceType: 'Observation', status: 'final', code: { text: tag }, subject: { reference } }, request: { method: 'POST', url: 'Observation' },
        })),
      };
      const reply = await viaRouter(router, 'POST', '/fhir', 'evil.example', bundle);
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      const bySubject = await viaRouter(router, 'GET', `/fhir/Observation?code:text=${tag}&subject=Patient/${pid}`, 'evil.example');
      assert.deepEqual((bySubject.body.entry ?? []).map((e: { resource: { subject: { reference: string } } }) => e.resource.subject.reference), [`http://localhost:${routerPort}/fhir/Patient/${pid}`]);
    });
  });
}
