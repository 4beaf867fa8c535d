// The __ID__ mediator. Instant starts it (embedded target) with ctx = { name, db, settings,
// logger, stateDir }; outside Instant, the same code runs with settings from the environment.
// It registers with the interoperability layer, installs its default channel, heartbeats (and
// takes config changes from the console), and answers through the router with
// application/json+openhim: the client gets the inner response, the transaction log keeps the
// orchestrations and properties.
import { createServer } from 'node:http';
import { MediatorClient, MediatorResponseBuilder } from '@instant-openhie/mediator-sdk';

const urn = 'urn:mediator:__ID__';

/** GET /__ID__/patients?identifier=system|value: finds patients in the shared health record. */
async function lookUpPatients(url, config) {
  const builder = new MediatorResponseBuilder(urn);
  const identifier = url.searchParams.get('identifier');
  if (!identifier) return builder.toHttp({ status: 400, body: { error: 'give ?identifier=system|value' } });
  const querystring = `identifier=${encodeURIComponent(identifier)}`;
  let found;
  try {
    found = await builder.orchestrate('find patient', { path: '/fhir/Patient', querystring, method: 'GET' }, async () => {
      const response = await fetch(`${config.fhirBaseUrl}/Patient?${querystring}`, { headers: { accept: 'application/fhir+json' } });
      return { status: response.status, body: await response.text() };
    });
  } catch (error) {
    return builder.fail(error).toHttp({ status: 502, body: { error: `the shared health record did not answer: ${error.message}` } });
  }
  if (found.status !== 200) return builder.toHttp({ status: 502, body: { error: `the shared health record answered ${found.status}` } });
  const patients = (JSON.parse(found.body).entry ?? []).map(({ resource }) => ({
    id: resource.id,
    name: (resource.name ?? []).map((n) => [n.family, ...(n.given ?? [])].filter(Boolean).join(' ')).join('; '),
  }));
  builder.property('patients found', patients.length);
  return builder.toHttp({ status: 200, body: { found: patients.length, patients } });
}

export default {
  name: '__ID__',
  description: 'The __ID__ mediator',
  schemas: [],
  async start(ctx) {
    const settings = ctx.settings;
    const host = settings.get('__ENV___HOST') ?? '127.0.0.1';
    const port = settings.int('__ENV___PORT', __PORT__);
    // Defaults; the console can change them (configDefs below), delivered by the heartbeat.
    let config = { fhirBaseUrl: `http://${settings.require('FHIR_DATASTORE_HOST')}:${settings.require('FHIR_DATASTORE_PORT')}/fhir` };

    const server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://mediator');
      const answer = url.pathname === '/health'
        ? Promise.resolve({ status: 200, headers: { 'content-type': 'application/json' }, body: '{"status":"ok"}' })
        : url.pathname === '/__ID__/patients' && req.method === 'GET'
          ? lookUpPatients(url, config)
          : Promise.resolve(new MediatorResponseBuilder(urn).toHttp({ status: 404, body: { error: 'not found' } }));
      answer.then(
        (a) => res.writeHead(a.status, a.headers).end(a.body),
        (error) => {
          ctx.logger.error({ err: error }, 'request failed');
          res.writeHead(500).end();
        },
      );
    });
    await new Promise((resolve, reject) => server.once('error', reject).listen(port, host, resolve));
    const url = `http://${host}:${server.address().port}`;

    const client = new MediatorClient({
      apiURL: `${settings.bool('OPENHIM_API_TLS', false) ? 'https' : 'http'}://${settings.require('OPENHIM_API_HOST')}:${settings.require('OPENHIM_API_PORT')}`,
      username: settings.require('OPENHIM_ROOT_EMAIL'),
      password: settings.require('OPENHIM_ROOT_PASSWORD'),
      urn,
      trustSelfSigned: true,
    });
    const route = { name: '__NAME__', host, port: server.address().port, primary: true };
    try {
      await client.register({
        urn,
        version: '0.1.0', // a re-registration changes the mediator only with a greater version
        name: '__NAME__',
        description: 'Looks patients up in the shared health record',
        endpoints: [route],
        defaultChannelConfig: [{ name: '__NAME__', urlPattern: '^/__ID__/.*$', methods: ['GET'], authType: 'private', allow: ['__ID__'], routes: [route] }],
        configDefs: [{ param: 'fhirBaseUrl', displayName: 'FHIR base URL of the shared health record', type: 'string' }],
        config,
      });
      await client.installChannels(); // idempotent: an existing channel is left as it is
      config = { ...config, ...(await client.fetchConfig()) };
    } catch (error) {
      await client.close();
      await new Promise((resolve) => server.close(resolve));
      throw error;
    }
    client
      .on('config', (next) => (config = { ...config, ...next }))
      .on('error', (error) => ctx.logger.warn({ err: error }, 'heartbeat failed'))
      .startHeartbeat(settings.int('__ENV___HEARTBEAT_MS', 10_000));

    return {
      endpoints: { http: url },
      healthUrl: `${url}/health`,
      async stop() {
        await client.close();
        await new Promise((resolve) => server.close(() => resolve()));
      },
    };
  },
};
