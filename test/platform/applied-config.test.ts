// The record of what importers applied (src/platform/importers/applied-config.ts), on both drivers:
// read back as written, per service, and forgotten with the package or the service it describes.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { databaseAppliedConfig, forgetAppliedConfig } from '../../src/platform/importers/applied-config.js';
import { openTestDatabase, testDrivers } from '../support/databases.js';

for (const driver of testDrivers) {
  describe(`applied configuration record (${driver})`, () => {
    test('an item reads back as written, per service; destroying the package or the service forgets it', async () => {
      const database = await openTestDatabase(driver);
      try {
        const iol = await databaseAppliedConfig(database.db, 'core', 'interop-layer');
        const other = await databaseAppliedConfig(database.db, 'core', 'another-layer');
        assert.equal(await iol.get('Channels/FHIR'), undefined);
        const applied = { given: 'abc', seen: { status: 'enabled', routes: [{ port: 1 }], description: null } };
        await iol.set('Channels/FHIR', applied);
        assert.deepEqual(await iol.get('Channels/FHIR'), applied);
        assert.equal(await other.get('Channels/FHIR'), undefined, 'another service has its own record');
        await iol.set('Channels/FHIR', { ...applied, given: 'def' });
        assert.equal((await iol.get('Channels/FHIR'))?.given, 'def', 'written again, it is replaced');

        await other.set('Clients/x', applied);
        await forgetAppliedConfig(database.db, ['unrelated'], ['interop-layer']);
        assert.equal(await iol.get('Channels/FHIR'), undefined, 'the service\'s data is gone: so is its record');
        assert.ok(await other.get('Clients/x'));
        await forgetAppliedConfig(database.db, ['core'], []);
        assert.equal(await other.get('Clients/x'), undefined, 'the package is destroyed: its record goes');
      } finally {
        await database.dispose();
      }
    });
  });
}
