/**
 * The core R4 terminology loaded at start from the shipped definitions: value sets expand (none
 * with a 5xx; those drawing on code systems not shipped, such as SNOMED CT filters, are 404
 * saying so), v3 hierarchies subsume, and a restart skips the load.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../../src/common/logger.js';
import { SettingsMap } from '../../src/platform/settings.js';
import { coreResources } from '../../src/services/terminology/content/core.js';
import { terminologyService } from '../../src/services/terminology/index.js';
import { openTestDatabase, testDrivers } from '../support/databases.js';
import { codes, param, requestJson, type Json } from './support.js';

const q = encodeURIComponent;

for (const driver of testDrivers) {
  describe(`core R4 terminology on ${driver}`, () => {
    let database: Awaited<ReturnType<typeof openTestDatabase>>;
    let base: string;
    let stop: () => Promise<void>;
    const start = async (): Promise<void> => {
      const running = await terminologyService.start({ name: 'terminology', db: database.db, logger: createLogger(), stateDir: '/tmp',
        settings: new SettingsMap({ TERMINOLOGY_PORT: '0' }) });
      base = running.endpoints.fhir!;
      stop = () => running.stop();
    };
    const get = async (path: string): Promise<Json> => requestJson(`${base}/${path}`, 'GET');

    before(async () => {
      database = await openTestDatabase(driver);
      await start();
    });
    after(async () => {
      await stop();
      await database.dispose();
    });

    test('core value sets expand, with the core code systems behind them', async () => {
      const gender = await get(`ValueSet/$expand?url=${q('http://hl7.org/fhir/ValueSet/administrative-gender')}`);
      assert.equal(gender.status, 200, JSON.stringify(gender.body));
      assert.deepEqual(codes(gender.body).sort(), ['female', 'male', 'other', 'unknown']);
      const active = await get(`CodeSystem/$lookup?system=${q('http://terminology.hl7.org/CodeSystem/condition-clinical')}&code=active`);
      assert.equal(param(active.body, 'display'), 'Active');
      const subsumes = await get(`CodeSystem/$subsumes?system=${q('http://terminology.hl7.org/CodeSystem/v3-ActCode')}&codeA=IMP&codeB=ACUTE`);
      assert.equal(param(subsumes.body, 'outcome'), 'subsumes');
      const vc = await get(`ValueSet/$validate-code?url=${q('http://terminology.hl7.org/ValueSet/v3-ActEncounterCode')}&system=${q('http://terminology.hl7.org/CodeSystem/v3-ActCode')}&code=AMB`);
      assert.equal(param(vc.body, 'result'), true, JSON.stringify(vc.body));
    });

    test('every core value set expands or says why not, never a 5xx', async (t) => {
      const statuses: Record<number, number> = {};
      for (const vs of coreResources().resources.filter((r) => r.resourceType === 'ValueSet')) {
        const reply = await get(`ValueSet/$expand?url=${q((vs as { url: string }).url)}&count=5`);
        statuses[reply.status] = (statuses[reply.status] ?? 0) + 1;
        // example-filter filters its code system on a property ("acme-plasma") the system does not have: 400.
        const invalid = (vs as { url: string }).url === 'http://hl7.org/fhir/ValueSet/example-filter' && reply.status === 400;
        assert.ok(reply.status === 200 || reply.status === 404 || invalid, `${(vs as { url: string }).url}: ${reply.status} ${JSON.stringify(reply.body).slice(0, 300)}`);
      }
      t.diagnostic(`core value sets by $expand status: ${JSON.stringify(statuses)}`);
      assert.ok(statuses[200]! > 600, JSON.stringify(statuses));
    });

    test('a restart finds the content loaded and skips it', async () => {
      const before = await database.db.query<{ n: string }>('SELECT count(*) AS n FROM tx.resources');
      await stop();
      await start();
      const after = await database.db.query<{ n: string }>('SELECT count(*) AS n FROM tx.resources');
      assert.equal(after.rows[0]!.n, before.rows[0]!.n);
      assert.equal((await get(`ValueSet/$expand?url=${q('http://hl7.org/fhir/ValueSet/administrative-gender')}`)).status, 200);
    });
  });
}
