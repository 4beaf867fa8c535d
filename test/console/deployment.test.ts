/**
 * The deployment's composition in the console: GET /console/deployment (401 without a session,
 * cross-site refused, addresses for admins only, no secret in the answer, empty when the console
 * was told nothing), the registry browsers finding the shared health record where the
 * composition puts it (no CONSOLE_SHR_URL, no host or port setting), and the pure pieces
 * (registry bases' precedence, the answer's projection, a registry that moves being probed
 * where it is now).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { buildFlowGraph, type DeploymentView } from '../../console/src/flow-graph.js';
import type { Channel, Mediator, Transaction } from '../../console/src/models.js';
import { createLogger } from '../../src/common/logger.js';
import { SettingsMap } from '../../src/platform/settings.js';
import { deploymentAnswer } from '../../src/services/console/deployment-endpoint.js';
import { consoleService } from '../../src/services/console/index.js';
import { RegistryAvailability, PROBE_USER_AGENT } from '../../src/services/console/registry-availability.js';
import { registryBases } from '../../src/services/console/registry-bases.js';
import type { DeploymentComposition, RunningService } from '../../src/services/service.js';
import { startIol, type Iol } from '../interop-layer/support.js';
import { stopConsoleTest } from './support.js';

let iol: Iol;
let running: RunningService;
let url: string;
let fhir: http.Server;
let fhirBase: string;
const fhirPaths: string[] = [];
/** In a URL of the composition, to prove user info never reaches the browser. */
const URL_PASSWORD = 'pw-in-a-url-0f3c9a';

function composition(): DeploymentComposition {
  return {
    target: 'compose',
    packages: [
      { id: 'interoperability-layer', name: 'Interoperability Layer', version: '0.1.0', services: ['interop-layer'] },
      { id: 'fhir-datastore', name: 'FHIR datastore', version: '0.1.0', services: ['shared-health-record'] },
      { id: 'console', name: 'Web console', version: '0.1.0', services: ['console'] },
      { id: 'core', name: 'Core', version: '0.1.0', services: [] },
    ],
    endpoints: {
      'interop-layer': { api: iol.api, router: iol.router, leaky: `http://someone:${URL_PASSWORD}@interop-layer:8080` },
      'shared-health-record': { fhir: fhirBase, api: fhirBase.replace(/\/fhir$/, '') },
      console: { web: 'http://console:9000' },
    },
  };
}

before(async () => {
  iol = await startIol('pglite');
  fhir = http.createServer((req, res) => {
    if (req.headers['user-agent'] === PROBE_USER_AGENT) {
      res.writeHead(200, { 'content-type': 'application/fhir+json' });
      res.end(JSON.stringify({ resourceType: 'CapabilityStatement', status: 'active', kind: 'instance', fhirVersion: '4.0.1' }));
      return;
    }
    fhirPaths.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'application/fhir+json' });
    res.end(JSON.stringify({ resourceType: 'Bundle', type: 'searchset', total: 0 }));
  });
  await new Promise<void>((resolve) => fhir.listen(0, '127.0.0.1', resolve));
  fhirBase = `http://127.0.0.1:${(fhir.address() as AddressInfo).port}/fhir`;
  running = await consoleService.start({
    name: 'console', db: iol.t.db, logger: createLogger(), stateDir: iol.stateDir,
    // The deployment's settings, secrets included, as the platform gives them: none may reach the answer.
    // The other registries' ports point where nothing listens (a stack of another test may hold the defaults).
    settings: new SettingsMap({ CONSOLE_PORT: '0', CONSOLE_API_URL: iol.api, OPENHIM_ROOT_PASSWORD: iol.rootPassword, CLIENT_REGISTRY_PORT: '1', TERMINOLOGY_PORT: '1', CARE_SERVICES_PORT: '1' }),
    composition,
  });
  url = running.endpoints.web!;
});
after(() => stopConsoleTest(running, fhir, iol));

async function login(username: string, password: string): Promise<string> {
  const res = await fetch(`${url}/console/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  assert.equal(res.status, 200);
  return res.headers.getSetCookie().find((c) => c.startsWith('console.session='))!.split(';')[0]!;
}

const get = (path: string, cookie: string, headers: Record<string, string> = {}) => fetch(url + path, { headers: { cookie, ...headers } });

test('GET /console/deployment: 401 without a session, 403 from another site', async () => {
  const anonymous = await get('/console/deployment', '');
  assert.equal(anonymous.status, 401);
  assert.equal(((await anonymous.json()) as { error: string }).error, 'CONSOLE_UNAUTHENTICATED');
  const cookie = await login(iol.rootEmail, iol.rootPassword);
  assert.equal((await get('/console/deployment', cookie, { 'sec-fetch-site': 'cross-site' })).status, 403);
  assert.equal((await get('/console/deployment', 'console.session=forged')).status, 401);
});

test('GET /console/deployment: the packages and their services, addresses for admins only, no secret', async () => {
  const cookie = await login(iol.rootEmail, iol.rootPassword);
  const res = await get('/console/deployment', cookie);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('cache-control'), 'no-store');
  const text = await res.text();
  const answer = JSON.parse(text);
  assert.equal(answer.known, true);
  assert.equal(answer.target, 'compose');
  assert.deepEqual(answer.packages.map((p: { id: string }) => p.id), ['interoperability-layer', 'fhir-datastore', 'console', 'core']);
  assert.deepEqual(answer.packages[1], { id: 'fhir-datastore', name: 'FHIR datastore', version: '0.1.0', services: ['shared-health-record'] });
  const shr = answer.services.find((s: { name: string }) => s.name === 'shared-health-record');
  assert.deepEqual(shr, { name: 'shared-health-record', package: 'fhir-datastore', endpoints: { fhir: fhirBase, api: fhirBase.replace(/\/fhir$/, '') } });
  assert.ok(!text.includes(iol.rootPassword), 'no setting value');
  assert.ok(!text.includes(URL_PASSWORD), 'no URL with user info');
  // A user outside admin sees the names, not the internal addresses.
  const email = 'viewer-deployment@example.org';
  assert.equal((await iol.call('POST', '/users', { email, firstname: 'V', surname: 'D', groups: ['viewers'], password: 'a-long-password-1' })).status, 201);
  const viewer = await (await get('/console/deployment', await login(email, 'a-long-password-1'))).json() as { packages: unknown[]; services: Array<Record<string, unknown>> };
  assert.equal(viewer.packages.length, 4);
  assert.ok(viewer.services.every((s) => !('endpoints' in s)), 'no addresses for a non-admin');
});

test('the registry browsers find the shared health record where the composition puts it', async () => {
  const cookie = await login(iol.rootEmail, iol.rootPassword);
  assert.deepEqual(await (await get('/console/registries', cookie)).json(), { shr: true, cr: false });
  const read = await get('/registry/shr/Patient?name=ada', cookie);
  assert.equal(read.status, 200);
  assert.ok(fhirPaths.includes('/fhir/Patient?name=ada'), 'read at the deployed URL');
  const components = await (await get('/console/components', cookie)).json() as { registries: Array<{ id: string; port?: string }> };
  assert.deepEqual(components.registries.map((r) => [r.id, r.port]), [['shr', String((fhir.address() as AddressInfo).port)]]);
});

test('registry bases: CONSOLE_*_URL first ("off" keeps it off), then the composition, then host and port settings or the default port', () => {
  const deployed: DeploymentComposition = {
    target: 'kubernetes',
    packages: [],
    endpoints: { 'shared-health-record': { fhir: 'http://shared-health-record:3447/fhir' }, terminology: { fhir: 'http://terminology:3451/terminology/fhir' } },
  };
  const bases = registryBases(new SettingsMap({ CLIENT_REGISTRY_HOST: 'cr.internal', CARE_SERVICES_PORT: '4455' }), () => deployed)();
  assert.deepEqual(bases, {
    shr: 'http://shared-health-record:3447/fhir',
    cr: 'http://cr.internal:3448/clientregistry/fhir',
    tx: 'http://terminology:3451/terminology/fhir',
    cs: 'http://127.0.0.1:4455/care-services/fhir',
  });
  const configured = registryBases(new SettingsMap({ CONSOLE_SHR_URL: 'https://shr.example.org/fhir', CONSOLE_CLIENT_REGISTRY_URL: 'off' }), () => deployed)();
  assert.equal(configured.shr, 'https://shr.example.org/fhir');
  assert.equal(configured.cr, undefined);
  assert.equal(registryBases(new SettingsMap({}))().shr, 'http://127.0.0.1:3447/fhir', 'told nothing: the default port');
});

test('registry availability: a registry the deployment moves is probed where it is now, at once', async () => {
  let base = 'http://127.0.0.1:3447/fhir';
  const probed: string[] = [];
  const availability = new RegistryAvailability(() => ({ shr: base }), () => 0, async (b) => {
    probed.push(b);
    return true;
  });
  assert.equal(await availability.baseIfUp('shr'), 'http://127.0.0.1:3447/fhir');
  base = 'http://127.0.0.1:4447/fhir';
  assert.equal(await availability.baseIfUp('shr'), 'http://127.0.0.1:4447/fhir');
  assert.deepEqual(probed, ['http://127.0.0.1:3447/fhir', 'http://127.0.0.1:4447/fhir']);
});

test('the deployment answer: empty when nothing was told; only URLs, without user info', () => {
  assert.deepEqual(deploymentAnswer(undefined, true), { known: false, packages: [], services: [] });
  const answer = deploymentAnswer({ target: 'embedded', packages: [{ id: 'p', name: 'P', version: '1', services: ['s'] }], endpoints: { s: { a: 'http://u:p@h:1', b: 'not a url', c: 'http://h:2/fhir' } } }, true);
  assert.deepEqual(answer.services, [{ name: 's', package: 'p', endpoints: { c: 'http://h:2/fhir' } }]);
});

test('the flow graph frames the deployed services in their packages, placed by address, and traffic lands on them', () => {
  const deployment: DeploymentView = {
    known: true,
    target: 'embedded',
    packages: [
      { id: 'interoperability-layer', name: 'Interoperability Layer', version: '0.1.0', services: ['interop-layer'] },
      { id: 'fhir-datastore', name: 'FHIR Datastore', version: '0.1.0', services: ['shared-health-record'] },
      { id: 'patient-registration', name: 'Patient registration', version: '0.1.0', services: ['patient-registration'] },
      { id: 'terminology', name: 'Terminology Service', version: '0.1.0', services: ['terminology'] },
      { id: 'console', name: 'Web console', version: '0.1.0', services: ['console'] },
      { id: 'core', name: 'Core', version: '0.1.0', services: [] },
    ],
    services: [
      { name: 'interop-layer', package: 'interoperability-layer', endpoints: { api: 'http://127.0.0.1:8080', router: 'http://127.0.0.1:5001' } },
      { name: 'shared-health-record', package: 'fhir-datastore', endpoints: { fhir: 'http://127.0.0.1:3447/fhir', api: 'http://127.0.0.1:3447' } },
      { name: 'patient-registration', package: 'patient-registration', endpoints: { http: 'http://127.0.0.1:3449' } },
      { name: 'terminology', package: 'terminology', endpoints: { fhir: 'http://127.0.0.1:3451/terminology/fhir', mllp: 'mllp://127.0.0.1:2576' } },
      { name: 'console', package: 'console', endpoints: { web: 'http://127.0.0.1:9000' } },
    ],
  };
  const route = (port: number) => ({ name: `r${port}`, host: '127.0.0.1', port, primary: true });
  const channels: Channel[] = [{ _id: 'c1', name: 'registration', urlPattern: '^/reg', routes: [route(3449)] }, { _id: 'c2', name: 'fhir', urlPattern: '^/fhir', routes: [route(3447)] }];
  const mediators: Mediator[] = [{ urn: 'urn:reg', name: 'Registration mediator', version: '1', endpoints: [route(3449)] }];
  const fresh = buildFlowGraph([], channels, [], mediators, [], deployment);
  const node = (graph: typeof fresh, id: string) => graph.nodes.find((n) => n.id === id);
  assert.deepEqual(fresh.packages.map((p) => p.id), deployment.packages.map((p) => p.id));
  assert.equal(node(fresh, 'router')?.group, 'interoperability-layer');
  assert.equal(node(fresh, 'mediator:urn:reg')?.group, 'patient-registration', 'a mediator listening where a package\'s service does is that service');
  assert.equal(node(fresh, 'upstream:127.0.0.1:3447')?.group, 'fhir-datastore', 'a channel upstream at a deployed service is that service');
  assert.equal(node(fresh, 'upstream:127.0.0.1:3447')?.label, 'Shared health record (127.0.0.1:3447)');
  assert.deepEqual([node(fresh, 'service:127.0.0.1:3451')?.label, node(fresh, 'service:127.0.0.1:3451')?.group], ['Terminology service (127.0.0.1:3451)', 'terminology']);
  assert.ok(!fresh.nodes.some((n) => n.id.includes('2576')), 'only http(s) endpoints are placed');
  assert.deepEqual([node(fresh, 'deployed:console')?.column, node(fresh, 'deployed:console')?.group], [1, 'console'], 'the console beside the router');
  // An orchestration to the terminology service's port lands on its node.
  const tx: Transaction = { _id: 't1', channelID: 'c1', status: 'Successful', request: { path: '/reg', method: 'POST' }, orchestrations: [{ name: 'validate code', request: { host: '127.0.0.1', port: 3451 } }] };
  const busy = buildFlowGraph([tx], channels, [], mediators, [], deployment);
  assert.deepEqual(busy.flows[0]!.path, ['client:anonymous', 'router', 'mediator:urn:reg', 'service:127.0.0.1:3451']);
  assert.deepEqual([node(busy, 'service:127.0.0.1:3451')?.idle, node(busy, 'service:127.0.0.1:3451')?.group], [false, 'terminology']);
  // Without addresses (a non-admin): services by name, and a registry found running is not drawn twice.
  const named: DeploymentView = { ...deployment, services: deployment.services.map(({ name, package: pkg }) => ({ name, package: pkg })) };
  const plain = buildFlowGraph([], [], [], [], [{ id: 'shr', name: 'shared-health-record' }], named);
  assert.equal(node(plain, 'deployed:shared-health-record')?.group, 'fhir-datastore');
  assert.equal(node(plain, 'registry:shr'), undefined);
  // Told nothing: no frames.
  assert.deepEqual(buildFlowGraph([], [], [], [], [], { known: false, packages: [], services: [] }).packages, []);
});
