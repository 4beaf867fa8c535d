/**
 * The mCSD Update Consumer against a second instance of our own service, reached through the
 * router, on both drivers: the first run mirrors the source (parents that changed after their
 * children arrive in a later retry), later runs carry updates, creates and deletes, a source that
 * refuses is an error in the status, and a consumer killed with SIGKILL in the middle of a run
 * resumes from its saved cursor without writing any resource twice.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { openDatabase } from '../../src/db/open.js';
import { freshPgliteDataDir, freshPostgresUrl, testDrivers, type TestDatabase } from '../support/databases.js';
import { kestriaDirectory, matchIds, requestJson, startCareServices, startThroughRouter, type CareServicesUnderTest, type RoutedCareServices } from './support.js';

const child = fileURLToPath(new URL('./consumer-child.js', import.meta.url));
const TYPES = ['Organization', 'Endpoint', 'Location', 'Practitioner', 'HealthcareService', 'PractitionerRole', 'OrganizationAffiliation'];

/** Every id of a type (through a direct base), current versions. */
async function allIds(base: string, type: string, headers: Record<string, string> = {}): Promise<string[]> {
  const ids: string[] = [];
  let url: string | undefined = `${base}/${type}?_count=1000&_elements=id`;
  while (url) {
    const page: Parameters<typeof matchIds>[0] & { link?: Array<{ relation: string; url: string }> } = (await requestJson(url, 'GET', undefined, headers)).body;
    ids.push(...matchIds(page));
    url = page.link?.find((l: { relation: string }) => l.relation === 'next')?.url;
  }
  return ids.sort();
}

async function assertMirrored(source: RoutedCareServices, mirror: string): Promise<void> {
  for (const type of TYPES) assert.deepEqual(await allIds(mirror, type), await allIds(source.base, type, source.auth), `${type} mirrored`);
}

/** Starts a run (202: it goes on in the background) and waits for it to end; the status after it. */
async function runAndWait(api: string): Promise<{ accepted: number; status: Record<string, any> }> {
  const before = (await requestJson(api, 'GET')).body.lastRunAt;
  const started = await requestJson(`${api}/run`, 'POST');
  for (let tries = 0; ; tries++) {
    assert.ok(tries < 6000, 'the run ends');
    const status = (await requestJson(api, 'GET')).body;
    if (!status.running && (status.lastRunAt !== before || status.recentErrors.length)) return { accepted: started.status, status };
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function practitioners(from: number, count: number): Record<string, unknown> {
  return {
    resourceType: 'Bundle', type: 'transaction',
    entry: Array.from({ length: count }, (_, n) => {
      const id = `hw-${from + n}`;
      return { resource: { resourceType: 'Practitioner', id, active: true, name: [{ family: `Worker${from + n}`, given: ['Test'] }] }, request: { method: 'PUT', url: `Practitioner/${id}` } };
    }),
  };
}

for (const driver of testDrivers) {
  describe(`mCSD update consumer on ${driver}`, () => {
    let source: RoutedCareServices;
    let mirror: CareServicesUnderTest;
    let consumerApi: string;

    before(async () => {
      source = await startThroughRouter(driver);
      assert.equal((await source.send('POST', '', kestriaDirectory())).status, 200);
      // The country changes after everything under it: its newest version comes last in time.
      const country = (await source.get('Location/loc-country')).body;
      assert.equal((await source.send('PUT', 'Location/loc-country', { ...country, name: 'Republic of Kestria' })).status, 200);
      mirror = await startCareServices(driver, {
        CARE_SERVICES_CONSUMER_SOURCE_URL: source.base,
        CARE_SERVICES_CONSUMER_SOURCE_AUTHORIZATION: source.auth.authorization!,
        CARE_SERVICES_CONSUMER_INTERVAL_MS: '3600000',
      });
      consumerApi = `${mirror.running.endpoints.api}/care-services/consumer`;
    });
    after(async () => {
      await mirror?.close();
      await source?.close();
    });

    test('the first run mirrors the source; later runs carry updates, creates and deletes', async () => {
      const first = await runAndWait(consumerApi);
      assert.equal(first.accepted, 202, 'a run is started, not awaited');
      await assertMirrored(source, mirror.direct);
      const status = first.status;
      assert.equal(status.created, 23, JSON.stringify(status));
      assert.equal(status.failed, 0, JSON.stringify(status));
      assert.ok(status.cursor, 'a cursor is saved');
      const country = (await requestJson(`${mirror.direct}/Location/loc-country`, 'GET')).body;
      assert.equal(country.name, 'Republic of Kestria');
      assert.match(country.meta.source, /\/Location\/loc-country\/_history\/2$/, 'meta.source names the source version');

      const hs = (await source.get('HealthcareService/hs-1')).body;
      assert.equal((await source.send('PUT', 'HealthcareService/hs-1', { ...hs, name: 'Immunisation and growth monitoring' })).status, 200);
      assert.equal((await source.send('DELETE', 'PractitionerRole/role-2')).status, 204);
      assert.equal((await source.send('POST', '', practitioners(0, 5))).status, 200);
      const second = await runAndWait(consumerApi);
      assert.equal(second.status.lastRun.applied, 7, JSON.stringify(second));
      await assertMirrored(source, mirror.direct);
      assert.equal((await requestJson(`${mirror.direct}/HealthcareService/hs-1`, 'GET')).body.name, 'Immunisation and growth monitoring');
      assert.equal((await requestJson(`${mirror.direct}/PractitionerRole/role-2`, 'GET')).status, 410);
      assert.equal(second.status.deleted, 1);
      assert.equal(second.status.updated, 1);

      const third = await runAndWait(consumerApi);
      assert.equal(third.status.lastRun.applied, 0, 'nothing new: what the look-back window reads again is skipped');
      const version = (await requestJson(`${mirror.direct}/HealthcareService/hs-1`, 'GET')).body.meta.versionId;
      assert.equal(version, '2', 'the mirror wrote hs-1 once per source change');
    });

    test('a source that refuses is an error in the status, and the mirror keeps what it has', async () => {
      const broken = await startCareServices(driver, {
        CARE_SERVICES_CONSUMER_SOURCE_URL: source.base,
        CARE_SERVICES_CONSUMER_SOURCE_AUTHORIZATION: 'Basic d3Jvbmc6d3Jvbmc=',
        CARE_SERVICES_CONSUMER_INTERVAL_MS: '3600000',
      });
      try {
        const { status } = await runAndWait(`${broken.running.endpoints.api}/care-services/consumer`);
        assert.equal(status.cursor, null);
        const reported = status.recentErrors.join(' ') + (status.lastError ?? '');
        assert.match(reported, /401/);
        assert.doesNotMatch(reported, /OperationOutcome|\{/, 'the source\'s body is not repeated in the status');
      } finally {
        await broken.close();
      }
      const off = await startCareServices(driver);
      try {
        assert.equal((await requestJson(`${off.running.endpoints.api}/care-services/consumer`, 'GET')).status, 404, 'no source: no consumer');
      } finally {
        await off.close();
      }
    });

    test('killed with SIGKILL in the middle of a run, the consumer resumes from its cursor and writes nothing twice', async () => {
      // Loaded directly: bulk loads through the router would spend the test client's slow-time budget.
      for (let from = 100; from < 700; from += 200) assert.equal((await requestJson(source.cs.direct, 'POST', practitioners(from, 200))).status, 200);
      const storage = driver === 'pglite' ? await freshPgliteDataDir() : await freshPostgresUrl();
      // PGlite on its worker thread, as the embedded target runs it.
      const location = 'dir' in storage ? { dataDir: storage.dir, thread: 'worker' as const } : { url: storage.url };
      const settings = {
        CARE_SERVICES_CONSUMER_SOURCE_URL: source.base,
        CARE_SERVICES_CONSUMER_SOURCE_AUTHORIZATION: source.auth.authorization!,
        CARE_SERVICES_CONSUMER_INTERVAL_MS: '3600000',
      };
      const server = spawn(process.execPath, [child, JSON.stringify(location), JSON.stringify(settings)], { stdio: ['ignore', 'pipe', 'inherit'] });
      const exited = once(server, 'exit');
      let restarted: CareServicesUnderTest | undefined;
      try {
        const [line] = (await once(server.stdout!, 'data')) as [Buffer];
        const api = line.toString().trim();
        let applied = 0;
        for (let tries = 0; applied < 250; tries++) { // past the first chunk of 200: a cursor is saved
          assert.ok(tries < 3000, 'the consumer makes progress');
          await new Promise((resolve) => setTimeout(resolve, 20));
          applied = (await requestJson(`${api}/care-services/consumer`, 'GET')).body.applied;
        }
        server.kill('SIGKILL');
        await exited;

        const db = await openDatabase(location);
        const reopened: TestDatabase = { driver, db, location, dispose: async () => { await db.close(); await storage.dispose(); } };
        restarted = await startCareServices(driver, settings, reopened);
        const before = (await requestJson(`${restarted.running.endpoints.api}/care-services/consumer`, 'GET')).body;
        assert.ok(before.typeCursors.Organization, 'the cursors of the types already done survived the kill');
        const { status } = await runAndWait(`${restarted.running.endpoints.api}/care-services/consumer`);
        await assertMirrored(source, restarted.direct);
        // role-2 was deleted at the source before this mirror started: nothing to apply for it.
        const total = (await Promise.all(TYPES.map((type) => allIds(source.base, type, source.auth)))).flat().length;
        assert.equal(status.applied, total, `every change applied exactly once: ${JSON.stringify(status)}`);
        const mirrored = (await allIds(restarted.direct, 'Practitioner')).length;
        assert.equal(mirrored, 607);
        const history = await requestJson(`${restarted.direct}/Practitioner/_history?_count=1`, 'GET');
        assert.equal(history.body.total, mirrored, 'one version per mirrored Practitioner: none was written twice');
      } finally {
        if (server.exitCode === null) server.kill('SIGKILL');
        if (restarted) await restarted.close();
        else await storage.dispose();
      }
    });
  });
}
