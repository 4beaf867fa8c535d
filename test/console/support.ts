/**
 * A console on a fresh interop layer (either driver), with a mediator stand-in that answers in
 * application/json+openhim with one orchestration, so a request has the whole path
 * client → router → mediator → service.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger } from '../../src/common/logger.js';
import { SettingsMap } from '../../src/platform/settings.js';
import { consoleService } from '../../src/services/console/index.js';
import type { DeploymentComposition, RunningService } from '../../src/services/service.js';
import { startIol, type Iol } from '../interop-layer/support.js';

export const MEDIATOR_URN = 'urn:mediator:console-e2e';

export interface ConsoleStack {
  iol: Iol;
  console: RunningService;
  url: string;
  mediatorPort: number;
  stop(): Promise<void>;
}

/** Answers like a mediator: the response to return plus an orchestration it "made". */
async function startMediatorStandIn(): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const now = new Date().toISOString();
      res.writeHead(200, { 'content-type': 'application/json+openhim' });
      res.end(JSON.stringify({
        'x-mediator-urn': MEDIATOR_URN,
        status: 'Successful',
        response: { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ resourceType: 'Bundle', type: 'searchset', total: 1, echoed: req.url }), timestamp: now },
        orchestrations: [{
          name: 'Shared health record',
          request: { host: '127.0.0.1', port: '3447', path: '/fhir/Patient', method: 'GET', timestamp: now },
          response: { status: 200, headers: { 'content-type': 'application/fhir+json' }, body: '{"resourceType":"Bundle","type":"searchset","total":1}', timestamp: now },
        }],
      }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/**
 * The composition an embedded stack of these parts would give the console: the interoperability
 * layer, the console, a mediator package (the stand-in) and the FHIR datastore at the address the
 * stand-in's orchestration calls, so traffic lands on the deployed shared health record.
 */
function e2eComposition(iol: Iol, mediatorPort: number, consoleUrl: () => string | undefined): () => DeploymentComposition {
  return () => ({
    target: 'embedded',
    packages: [
      { id: 'interoperability-layer', name: 'Interoperability Layer', version: '0.1.0', services: ['interop-layer'] },
      { id: 'fhir-datastore', name: 'FHIR Datastore', version: '0.1.0', services: ['shared-health-record'] },
      { id: 'e2e-mediator', name: 'E2E mediator package', version: '1.0.0', services: ['e2e-mediator'] },
      { id: 'console', name: 'Web console', version: '0.1.0', services: ['console'] },
    ],
    endpoints: {
      'interop-layer': { api: iol.api, router: iol.router },
      'shared-health-record': { fhir: 'http://127.0.0.1:3447/fhir', api: 'http://127.0.0.1:3447' },
      'e2e-mediator': { http: `http://127.0.0.1:${mediatorPort}` },
      ...(consoleUrl() ? { console: { web: consoleUrl()! } } : {}),
    },
  });
}

export async function startConsoleStack(driver: 'pglite' | 'postgres', options: { withComposition?: boolean } = {}): Promise<ConsoleStack> {
  const iol = await startIol(driver);
  const mediator = await startMediatorStandIn();
  const registered = await iol.call('POST', '/mediators', {
    urn: MEDIATOR_URN,
    version: '1.0.0',
    name: 'E2E mediator',
    description: 'stands in for a mediator in the console tests',
    endpoints: [{ name: 'E2E mediator', host: '127.0.0.1', port: mediator.port, primary: true }],
    configDefs: [
      { param: 'upstreamUrl', displayName: 'Upstream URL', type: 'string' },
      { param: 'retries', displayName: 'Retries', type: 'number' },
      { param: 'mode', displayName: 'Mode', type: 'option', values: ['strict', 'lenient'] },
      { param: 'verbose', displayName: 'Verbose logging', type: 'bool' },
    ],
    config: { upstreamUrl: 'http://127.0.0.1:3447/fhir', retries: 1, mode: 'strict', verbose: false },
  });
  if (registered.status !== 201) throw new Error(`mediator registration: ${registered.status}`);
  await iol.call('POST', `/mediators/${MEDIATOR_URN}/heartbeat`, { uptime: 42 });
  let consoleUrl: string | undefined;
  const running = await consoleService.start({
    name: 'console',
    db: iol.t.db,
    settings: new SettingsMap({ CONSOLE_PORT: '0', CONSOLE_API_URL: iol.api }),
    logger: createLogger(),
    stateDir: iol.stateDir,
    ...(options.withComposition ? { composition: e2eComposition(iol, mediator.port, () => consoleUrl) } : {}),
  });
  consoleUrl = running.endpoints.web;
  return {
    iol,
    console: running,
    url: running.endpoints.web!,
    mediatorPort: mediator.port,
    async stop() {
      await running.stop();
      await mediator.close();
      await iol.stop();
    },
  };
}

/** Stops what a console test started, in order: the console, its stand-in FHIR server, the interop layer. */
export async function stopConsoleTest(running: RunningService | undefined, fhir: http.Server | undefined, iol: Iol | undefined): Promise<void> {
  await running?.stop();
  fhir?.closeAllConnections();
  await new Promise<void>((resolve) => (fhir ? fhir.close(() => resolve()) : resolve()));
  await iol?.stop();
}
