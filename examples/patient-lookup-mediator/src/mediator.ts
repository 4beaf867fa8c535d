/**
 * The patient-lookup mediator as an Instant service module: Instant starts it with the stack's
 * settings; it registers with the interop layer, installs its channel, heartbeats (taking
 * config changes from the console) and answers through the router.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MediatorClient, type MediatorRoute } from '@instant-openhie/mediator-sdk';
import type { RunningService, ServiceContext } from './instant.js';
import { patientSummary, urn, type HttpAnswer, type LookupConfig } from './summary.js';

async function start(ctx: ServiceContext): Promise<RunningService> {
  const { settings } = ctx;
  const host = settings.get('PATIENT_LOOKUP_HOST') ?? '127.0.0.1';
  let config: LookupConfig = {
    fhirBaseUrl: `http://${settings.require('FHIR_DATASTORE_HOST')}:${settings.require('FHIR_DATASTORE_PORT')}/fhir`,
    identifierSystem: settings.require('PATIENT_LOOKUP_IDENTIFIER_SYSTEM'),
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://mediator');
    const answer: Promise<HttpAnswer> =
      url.pathname === '/health'
        ? Promise.resolve({ status: 200, headers: { 'content-type': 'application/json' }, body: '{"status":"ok"}' })
        : url.pathname === '/patient-lookup/summary' && req.method === 'GET'
          ? patientSummary(url, config)
          : Promise.resolve({ status: 404, headers: { 'content-type': 'application/json' }, body: '{"error":"not found"}' });
    answer.then(
      (a) => res.writeHead(a.status, a.headers).end(a.body),
      (error: Error) => {
        ctx.logger.error({ err: error }, 'request failed');
        res.writeHead(500).end();
      },
    );
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(settings.int('PATIENT_LOOKUP_PORT', 4101), host, resolve));
  const port = (server.address() as AddressInfo).port;

  const client = new MediatorClient<LookupConfig>({
    apiURL: `${settings.bool('OPENHIM_API_TLS', false) ? 'https' : 'http'}://${settings.require('OPENHIM_API_HOST')}:${settings.require('OPENHIM_API_PORT')}`,
    username: settings.require('OPENHIM_ROOT_EMAIL'),
    password: settings.require('OPENHIM_ROOT_PASSWORD'),
    urn,
    trustSelfSigned: true,
  });
  const route: MediatorRoute = { name: 'Patient lookup', host, port, primary: true };
  try {
    await client.register({
      urn,
      version: '0.1.0',
      name: 'Patient lookup',
      description: 'A patient and their observations, by national id',
      endpoints: [route],
      defaultChannelConfig: [{ name: 'Patient lookup', urlPattern: '^/patient-lookup/.*$', methods: ['GET'], authType: 'private', allow: ['patient-lookup'], routes: [route] }],
      configDefs: [
        { param: 'fhirBaseUrl', displayName: 'FHIR base URL of the shared health record', type: 'string' },
        { param: 'identifierSystem', displayName: 'Identifier system of the national id', type: 'string' },
      ],
      config,
    });
    await client.installChannels();
    config = { ...config, ...(await client.fetchConfig()) };
  } catch (error) {
    await client.close();
    await new Promise((resolve) => server.close(resolve));
    throw error;
  }
  client
    .on('config', (next) => (config = { ...config, ...next }))
    .on('error', (error) => ctx.logger.warn({ err: error }, 'heartbeat failed'))
    .startHeartbeat(10_000);

  const url = `http://${host}:${port}`;
  return {
    endpoints: { http: url },
    healthUrl: `${url}/health`,
    async stop() {
      await client.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export default { name: 'patient-lookup', description: 'The patient-lookup mediator', schemas: [] as string[], start };
