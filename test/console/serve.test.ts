/**
 * The console as a container runs it (`instant serve console`, on PostgreSQL) beside a shared
 * health record in its own process (test/support/serve-service.ts): told where things are only by
 * INSTANT_COMPOSITION, as the container targets render it, the console draws the deployment and
 * browses the shared health record at its deployed URL (the host and port settings point
 * elsewhere, so the composition is what found it).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createLogger } from '../../src/common/logger.js';
import type { DeploymentComposition } from '../../src/services/service.js';
import { COMPOSITION_SETTING } from '../../src/targets/containers/composition-env.js';
import { serveService, type ServedService } from '../../src/targets/containers/serve.js';
import { tempProject } from '../support/cli.js';
import { freshPostgresUrl, postgresAdminUrl } from '../support/databases.js';
import { startReplica, type Replica } from '../support/replicas.js';
import { startIol, type Iol } from '../interop-layer/support.js';

const skip = postgresAdminUrl ? false : 'no PostgreSQL server (the runner starts one when the binaries are installed)';
let database: { url: string; dispose(): Promise<void> } | undefined;
let shr: Replica | undefined;
let iol: Iol | undefined;
let served: ServedService | undefined;

before(async () => {
  if (skip) return;
  database = await freshPostgresUrl();
  shr = await startReplica('shared-health-record', database.url, { FHIR_DATASTORE_HOST: '127.0.0.1', FHIR_DATASTORE_PORT: '0' });
  iol = await startIol('postgres');
  const composition: DeploymentComposition = {
    target: 'compose',
    packages: [
      { id: 'interoperability-layer', name: 'Interoperability Layer', version: '0.1.0', services: ['interop-layer'] },
      { id: 'fhir-datastore', name: 'FHIR Datastore', version: '0.1.0', services: ['shared-health-record'] },
      { id: 'console', name: 'Web console', version: '0.1.0', services: ['console'] },
    ],
    endpoints: { 'interop-layer': { api: iol.api }, 'shared-health-record': shr.endpoints },
  };
  served = await serveService('console', {
    INSTANT_DATABASE_URL: database.url,
    INSTANT_OPS_HOST: '127.0.0.1',
    INSTANT_OPS_PORT: '0',
    INSTANT_STATE_DIR: tempProject('instant-serve-console-'),
    CONSOLE_PORT: '0',
    CONSOLE_API_URL: iol.api,
    // Where nothing listens: only the composition can lead the console to the registry.
    FHIR_DATASTORE_PORT: '1',
    CLIENT_REGISTRY_PORT: '1',
    TERMINOLOGY_PORT: '1',
    CARE_SERVICES_PORT: '1',
    [COMPOSITION_SETTING]: JSON.stringify(composition),
  }, createLogger());
});

after(async () => {
  await served?.stop();
  await shr?.kill();
  await iol?.stop();
  await database?.dispose();
});

test('instant serve console: the deployment from INSTANT_COMPOSITION, the shared health record browsed where it runs', { skip }, async () => {
  const url = served!.running.endpoints.web!;
  const login = await fetch(`${url}/console/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: iol!.rootEmail, password: iol!.rootPassword }) });
  assert.equal(login.status, 200);
  const cookie = login.headers.getSetCookie().find((c) => c.startsWith('console.session='))!.split(';')[0]!;
  const deployment = await (await fetch(`${url}/console/deployment`, { headers: { cookie } })).json() as { target: string; services: Array<{ name: string; package: string; endpoints: Record<string, string> }> };
  assert.equal(deployment.target, 'compose');
  assert.deepEqual(deployment.services.find((s) => s.name === 'shared-health-record'), { name: 'shared-health-record', package: 'fhir-datastore', endpoints: shr!.endpoints });
  assert.deepEqual(await (await fetch(`${url}/console/registries`, { headers: { cookie } })).json(), { shr: true, cr: false });
  const metadata = await fetch(`${url}/registry/shr/metadata`, { headers: { cookie } });
  assert.equal(metadata.status, 200);
  assert.equal(((await metadata.json()) as { resourceType: string }).resourceType, 'CapabilityStatement');
});
